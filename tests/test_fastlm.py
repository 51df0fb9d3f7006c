"""compiler.evaluation.fastlm.SharedPrefixLM gives lm-eval's HFLM answers, with less computation."""

from __future__ import annotations

import pytest

import _evalkit as evalkit
from compiler.build.read import read_build
from compiler.evaluation.arms import _quiet, load_tasks
from compiler.evaluation.fastlm import REUSE_ROWS, SharedPrefixLM, common_prefix_len


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
    fed = sum(len(stock.tok_encode(r.args[0] + r.args[1])) for r in reqs)
    assert fast.stats["tokens"] < fed


def test_generate_until_equals_hflm(setup):
    _, _, build, stock, fast = setup
    reqs = _requests(build, stock, "generate_until", "Be brief.")
    assert fast.generate_until(reqs) == stock.generate_until(reqs, disable_tqdm=True)


def test_multiple_choice_is_scored_during_generation(setup):
    _, _, build, stock, fast = setup
    gen, ll = _requests(build, stock, "generate_until"), _requests(build, stock, "loglikelihood")
    want = stock.loglikelihood(ll, disable_tqdm=True)
    fast.score_choices = True
    try:
        fast.stats.clear()
        fast.generate_until(gen)
        got = fast.loglikelihood(ll)
    finally:
        fast.score_choices = False
    longer = [r for r in ll if len(fast._encode_pair(*r.args)[1]) > REUSE_ROWS]
    assert longer  # some choices run past the prompt: they were fed on its cache
    assert fast.stats["reused"] == len(ll)  # every multiple-choice answer came from the generation pass
    assert fast.stats["shared"] > 0  # explained yes/no choices fed their common start once
    assert [g[1] for g in got] == [w[1] for w in want]
    assert max(abs(g[0] - w[0]) for g, w in zip(got, want)) < 1e-4
    assert not fast._answers  # nothing kept after use


def test_sampling_goes_to_hflm(setup, monkeypatch):
    _, _, build, stock, fast = setup
    reqs = _requests(build, stock, "generate_until")[:2]
    for r in reqs:
        r.arguments = (r.arguments[0], {**r.arguments[1], "do_sample": True, "temperature": 0.7})
    called = []
    monkeypatch.setattr(fast, "_greedy", lambda *a: called.append(a) or None)
    replies = fast.generate_until(reqs)
    assert not called and len(replies) == 2 and all(isinstance(r, str) for r in replies)


@pytest.mark.gpu
def test_on_cuda_equals_hflm(tmp_path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    from lm_eval.models.huggingface import HFLM

    tok = evalkit.tiny_tokenizer()
    model = evalkit.tiny_model(tok).to("cuda")
    build = read_build(evalkit.write_build(tmp_path))
    with _quiet():
        stock = HFLM(pretrained=model, tokenizer=tok, batch_size=4)
        fast = SharedPrefixLM(model, tok, batch_size=3)
    ll = _requests(build, stock, "loglikelihood", "Be brief.")
    gen = _requests(build, stock, "generate_until", "Be brief.")
    want = stock.loglikelihood(ll, disable_tqdm=True)
    fast.score_choices = True
    assert fast.generate_until(gen) == stock.generate_until(gen, disable_tqdm=True)
    got = fast.loglikelihood(ll)
    assert [g[1] for g in got] == [w[1] for w in want]
    assert max(abs(g[0] - w[0]) for g, w in zip(got, want)) < 1e-3


@pytest.mark.slow
def test_embedded_model_scores_like_hflm(blue_build):
    """The real SmolLM2 and the real blue-products build: per-item results equal lm-eval's HFLM."""
    from lm_eval import evaluator
    from lm_eval.models.huggingface import HFLM

    from compiler.evaluation.arms import evaluate_arm
    from compiler.model.load import load_model

    loaded = load_model("default", "cpu")
    build = read_build(blue_build)
    ours = evaluate_arm(loaded.model, loaded.tokenizer, build, "prompted", readings=("mc", "gen"), limit=4,
                        batch_size=8, progress=False)
    with _quiet():
        stock = HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=8)
        out = evaluator.evaluate(lm=stock, task_dict=load_tasks(build, ("mc", "gen")).task_dict(), limit=4,
                                 bootstrap_iters=0, log_samples=True, apply_chat_template=True,
                                 system_instruction=build.manifest.system_prompt)
    assert ours.complete
    for score in ours.scores:
        names = build.manifest.tasks[score.split]
        logged = sorted(out["samples"][names.mc if score.reading == "mc" else names.gen], key=lambda e: e["doc_id"])
        assert [s.correct for s in score.samples] == [e["acc"] == 1.0 for e in logged]
        if score.reading == "gen":
            assert [s.reply for s in score.samples] == [e["filtered_resps"][0] for e in logged]
