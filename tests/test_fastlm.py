"""compiler.fastlm.SharedPrefixLM gives lm-eval's HFLM answers, with less computation."""

from __future__ import annotations

import pytest

import evalkit
from compiler.buildio import read_build
from compiler.evaluate import _quiet, load_tasks
from compiler.fastlm import REUSE_ROWS, SharedPrefixLM, common_prefix_len


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from lm_eval.models.huggingface import HFLM

    tok = evalkit.tiny_tokenizer()
    model = evalkit.tiny_model(tok)
    build = read_build(evalkit.write_build(tmp_path_factory.mktemp("b")))
    with _quiet():
        stock = HFLM(pretrained=model, tokenizer=tok, batch_size=4)
        fast = SharedPrefixLM(model, tok, batch_size=3)
    return model, tok, build, stock, fast


def _requests(build, lm, reqtype: str, system: str | None = None):
    out = []
    for task in load_tasks(build, ("mc", "gen")).tasks.values():
        with _quiet():
            task.build_all_requests(apply_chat_template=True, chat_template=lm.apply_chat_template, system_instruction=system)
        out += [i for i in task.instances if i.request_type == reqtype]
    return out


def test_common_prefix_len():
    assert common_prefix_len([]) == 0
    assert common_prefix_len([[1, 2, 3]]) == 3
    assert common_prefix_len([[1, 2, 3], [1, 2, 4], [1, 2]]) == 2
    assert common_prefix_len([[5, 1], [1, 2]]) == 0


@pytest.mark.parametrize("system", [None, "Be brief."])
def test_loglikelihood_equals_hflm(setup, system):
    _, _, build, stock, fast = setup
    reqs = _requests(build, stock, "loglikelihood", system)
    assert any(len(fast.tok_encode(r.args[1])) > 1 for r in reqs)  # multi-token choices are in the mix
    want = stock.loglikelihood(reqs, disable_tqdm=True)
    fast.stats.clear()
    got = fast.loglikelihood(reqs)
    assert [g[1] for g in got] == [w[1] for w in want]
    assert max(abs(g[0] - w[0]) for g, w in zip(got, want)) < 1e-4
    # the shared prefix ran once: fewer tokens went through the model than the requests hold
    fed = sum(len(stock.tok_encode(r.args[0])) for r in reqs)
    assert fast.stats["tokens"] < fed


def test_generate_until_equals_hflm(setup):
    _, _, build, stock, fast = setup
    reqs = _requests(build, stock, "generate_until", "Be brief.")
    assert fast.generate_until(reqs) == stock.generate_until(reqs, disable_tqdm=True)


def test_multiple_choice_reuses_the_first_step_of_generation(setup):
    _, _, build, stock, fast = setup
    gen, ll = _requests(build, stock, "generate_until"), _requests(build, stock, "loglikelihood")
    want = stock.loglikelihood(ll, disable_tqdm=True)
    fast.keep_first_step = True
    try:
        fast.stats.clear()
        fast.generate_until(gen)
        got = fast.loglikelihood(ll)
    finally:
        fast.keep_first_step = False
    short = sum(len(r.args[1]) and len(fast._encode_pair(*r.args)[1]) <= REUSE_ROWS for r in ll)
    assert fast.stats["reused"] == short > 0
    assert [g[1] for g in got] == [w[1] for w in want]
    assert max(abs(g[0] - w[0]) for g, w in zip(got, want)) < 1e-4
    assert not fast._first_step  # nothing kept after use


def test_sampling_goes_to_hflm(setup, monkeypatch):
    _, _, build, stock, fast = setup
    reqs = _requests(build, stock, "generate_until")[:2]
    for r in reqs:
        r.arguments = (r.arguments[0], {**r.arguments[1], "do_sample": True, "temperature": 0.7})
    called = []
    monkeypatch.setattr(fast, "_greedy", lambda *a: called.append(a) or None)
    replies = fast.generate_until(reqs)
    assert not called and len(replies) == 2 and all(isinstance(r, str) for r in replies)
