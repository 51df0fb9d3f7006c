"""compiler.evaluation.arms: arms scored in process on a tiny random model and a small build.

The scores are checked against a direct recomputation from the model (its log-likelihoods
and its greedy replies), not against numbers written down here."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

import _evalkit as evalkit
from compiler.evaluation import results
from compiler.build.read import read_build
from compiler.evaluation.arms import _lm, evaluate_arm, evaluate_arms, load_tasks
from compiler.integrity import adapter_sha256
from compiler.build.tasks import UTILS_FILE, task_files
from compiler.names import ARMS, READINGS, SCORED_SPLITS


@pytest.fixture(scope="module")
def tok():
    return evalkit.tiny_tokenizer()


@pytest.fixture(scope="module")
def model(tok):
    return evalkit.tiny_model(tok)


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    return read_build(evalkit.write_build(tmp_path_factory.mktemp("builds")))


@pytest.fixture(scope="module")
def base_result(model, tok, build):
    return evaluate_arm(model, tok, build, "base", readings=READINGS, limit=None, batch_size=3, progress=False)


def _verdict():
    namespace: dict = {"__file__": "utils.py"}
    exec(task_files("x", SCORED_SPLITS)[UTILS_FILE], namespace)  # the gen reading's own scorer
    return namespace["verdict"]


def _context(tok, prompt: str, system: str | None) -> str:
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


@torch.inference_mode()
def _choice_logprob(model, tok, context: str, choice: str) -> float:
    """log p(choice | context) by one plain forward pass; lm-eval's convention: the context's
    trailing whitespace moves to the continuation, which is scored on the tokens of the whole."""
    stripped = context.rstrip()
    ctx_ids = tok.encode(stripped)
    whole = tok.encode(stripped + context[len(stripped) :] + choice)
    logp = torch.log_softmax(model(torch.tensor([whole])).logits[0].float(), dim=-1)
    return sum(float(logp[i - 1, whole[i]]) for i in range(len(ctx_ids), len(whole)))


@torch.inference_mode()
def _greedy_reply(model, tok, context: str, max_new: int) -> str:
    ids = torch.tensor([tok.encode(context)])
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new, do_sample=False,
                         pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    return tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True).split("\n")[0]


def _recompute(model, tok, split: str, system: str | None, max_new: int):
    """Per item: (id, mc correct, gen reply, gen correct), straight from the model."""
    verdict = _verdict()
    out = []
    for row in evalkit.rows(split):
        ctx = _context(tok, row["question"], system)
        lls = [_choice_logprob(model, tok, ctx, c) for c in row.get("choice_replies") or row["choices"]]
        reply = _greedy_reply(model, tok, ctx, max_new)
        out.append((row["id"], max(range(len(lls)), key=lls.__getitem__) == row["label"], reply,
                    verdict(reply, {"form_kind": row["provenance"]["form_kind"], "choices": row["choices"]}) == row["label"]))
    return out


def test_a_score_per_split_and_reading_with_the_data_ids(base_result, build):
    assert base_result.complete and base_result.arm == "base"
    assert [(s.split, s.reading) for s in base_result.scores] == [(s, r) for s in SCORED_SPLITS for r in READINGS]
    for score in base_result.scores:
        ids = [r["id"] for r in evalkit.rows(score.split)]
        assert score.n == len(ids) == evalkit.SPLITS[score.split]
        assert [s.id for s in score.samples] == ids
        assert score.acc == sum(s.correct for s in score.samples) / score.n
        assert score.wilson_low <= score.acc <= score.wilson_high


@pytest.mark.parametrize("arm", ["base", "prompted"])
def test_scores_equal_a_direct_recomputation(arm, model, tok, build, base_result):
    result = base_result if arm == "base" else evaluate_arm(
        model, tok, build, arm, readings=READINGS, limit=None, batch_size=3, progress=False
    )
    system = build.manifest.system_prompt if arm == "prompted" else None
    mixed = set()
    for split in build.manifest.tasks:
        want = _recompute(model, tok, split, system, build.spec.eval.max_gen_tokens)
        mc, gen = result.score(split, "mc"), result.score(split, "gen")
        assert [(s.id, s.correct) for s in mc.samples] == [(w[0], w[1]) for w in want]
        assert [(s.id, s.reply, s.correct) for s in gen.samples] == [(w[0], w[2], w[3]) for w in want]
        mixed |= {s.correct for s in mc.samples}
    assert mixed == {True, False}  # the model gets some right and some wrong: the check has teeth


def test_prompted_arm_puts_the_system_prompt_in_every_context(model, tok, build):
    lm = _lm(model, tok, 4, False)
    seen: list[str] = []
    real_gen, real_ll = lm.generate_until, lm.loglikelihood

    def gen(requests, disable_tqdm=False):
        seen.extend(r.args[0] for r in requests)
        return real_gen(requests, disable_tqdm)

    def ll(requests, disable_tqdm=False):
        seen.extend(r.args[0] for r in requests)
        return real_ll(requests, disable_tqdm)

    lm.generate_until, lm.loglikelihood = gen, ll
    kwargs = dict(readings=READINGS, limit=2, batch_size=4, progress=False, lm=lm)
    evaluate_arm(model, tok, build, "base", **kwargs)
    base_seen, seen[:] = list(seen), []
    evaluate_arm(model, tok, build, "prompted", **kwargs)
    assert base_seen and seen and len(seen) == len(base_seen)
    assert all(build.manifest.system_prompt in c for c in seen)
    assert not any(build.manifest.system_prompt in c for c in base_seen)


def test_base_through_disable_adapter_equals_a_fresh_base_model(tok, build):
    fresh = evalkit.tiny_model(tok)
    peft = evalkit.tiny_peft(evalkit.tiny_model(tok))
    kwargs = dict(readings=READINGS, limit=None, batch_size=3, progress=False)
    plain = evaluate_arm(fresh, tok, build, "base", **kwargs)
    through = evaluate_arm(peft, tok, build, "base", **kwargs)
    tuned = evaluate_arm(peft, tok, build, "tuned", **kwargs)
    assert [s.samples for s in through.scores] == [s.samples for s in plain.scores]
    assert [s.samples for s in tuned.scores] != [s.samples for s in plain.scores]  # the adapter was on


def test_a_broken_data_file_marks_the_arm_incomplete(model, tok, build, tmp_path):
    broken_path = tmp_path / build.path.name
    shutil.copytree(build.path, broken_path)
    (broken_path / "data" / "test_form.jsonl").write_text('{"id": "x", "prompt": \n', encoding="utf-8")
    warnings: list[str] = []
    result = evaluate_arm(model, tok, read_build(broken_path), "base", readings=READINGS, limit=None,
                          batch_size=4, progress=False, warn=warnings.append)
    assert not result.complete
    assert {(s.split, s.reading) for s in result.scores} == {(s, r) for s in evalkit.SPLITS if s != "test_form" for r in READINGS}
    assert warnings and all("test_form" in w for w in warnings)


def test_a_short_data_file_marks_the_arm_incomplete(model, tok, build, tmp_path):
    short = tmp_path / build.path.name
    shutil.copytree(build.path, short)
    rows = evalkit.rows("test_locality")[:-1]  # one row lost: the manifest still counts it
    (short / "data" / "test_locality.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    warnings: list[str] = []
    result = evaluate_arm(model, tok, read_build(short), "base", readings=("mc",), limit=None,
                          batch_size=4, progress=False, warn=warnings.append)
    assert not result.complete and result.score("test_locality", "mc") is None
    assert any("test_locality" in w and "items scored" in w for w in warnings)
    # the reasons are kept in eval/<arm>.json, so the gate and the report can say what went wrong
    assert [f"base arm: {p}" for p in result.problems] == warnings
    results.write_arm(result, tmp_path / "base.json")
    assert results.read_arm(tmp_path / "base.json").problems == result.problems


@pytest.mark.parametrize("shared_tasks", [False, True])
def test_limit_and_one_reading(model, tok, build, shared_tasks):
    tasks = load_tasks(build, READINGS) if shared_tasks else None  # loaded for both, asked for one
    result = evaluate_arm(model, tok, build, "base", readings=("mc",), limit=2, batch_size=4, progress=False, tasks=tasks)
    assert result.complete
    assert [(s.reading, s.n) for s in result.scores] == [("mc", 2)] * len(build.manifest.tasks)


def test_evaluate_arms_writes_one_file_per_arm(tok, build, tmp_path):
    peft = evalkit.tiny_peft(evalkit.tiny_model(tok))
    got = evaluate_arms(peft, tok, build, ARMS, tmp_path, model_name="tiny", limit=3, progress=False)
    for arm in ARMS:
        back = results.read_arm(tmp_path / "eval" / f"{arm}.json")
        assert back.arm == arm and back.model == "tiny" and back.build_sha256 == build.manifest.sha256
        assert back.complete and [s.samples for s in back.scores] == [s.samples for s in got[arm].scores]


def test_tuned_without_an_adapter_is_a_usage_error(model, tok, build, tmp_path):
    from compiler.errors import UsageError

    with pytest.raises(UsageError, match="adapter"):
        evaluate_arms(model, tok, build, ("base", "tuned"), tmp_path, model_name="tiny", progress=False)


def test_tasks_load_once_and_gen_tasks_come_first(build):
    tasks = load_tasks(build, READINGS)
    assert not tasks.failed
    readings = [tasks.where[name][1] for name in tasks.tasks]
    assert readings == ["gen"] * len(build.manifest.tasks) + ["mc"] * len(build.manifest.tasks)


def test_pipeline_evaluate_with_an_adapter(tok, build, tmp_path):
    from compiler.pipeline import evaluate

    base_dir = tmp_path / "base-model"
    evalkit.tiny_model(tok).save_pretrained(base_dir)
    tok.save_pretrained(base_dir)
    run = tmp_path / "runs" / "r1"
    evalkit.tiny_peft(evalkit.tiny_model(tok)).save_pretrained(run / "adapter")
    (run / "run.json").write_text(json.dumps({"model": {"name": str(base_dir)}}), encoding="utf-8")
    got = evaluate(build.path, adapter=run / "adapter", model=None, device="cpu", out=None, limit=2)
    assert got.run_dir == run and [a.arm for a in got.arms] == list(ARMS)
    arms = {arm: results.read_arm(run / "eval" / f"{arm}.json") for arm in ARMS}
    assert all(a.complete and a.model == str(base_dir) for a in arms.values())
    assert all(s.n == 2 for a in arms.values() for s in a.scores)
    # the tuned arm names the adapter it scored, as the gate recomputes it; the others none
    assert arms["tuned"].adapter_sha256 == adapter_sha256(run / "adapter") and arms["base"].adapter_sha256 == ""


@pytest.mark.parametrize("arm", ["base", "prompted"])
def test_the_stock_hflm_engine_gives_the_same_numbers(arm, model, tok, build, base_result):
    """eval.engine: hflm (lm-eval's own HFLM, no private internals) scores every item as the fast
    engine does: the way back if an lm-eval upgrade breaks fastlm.py."""
    from dataclasses import replace as dc_replace

    stock_build = dc_replace(build, spec=build.spec.model_copy(
        update={"eval": build.spec.eval.model_copy(update={"engine": "hflm"})}))
    fast = base_result if arm == "base" else evaluate_arm(
        model, tok, build, arm, readings=READINGS, limit=None, batch_size=3, progress=False)
    stock = evaluate_arm(model, tok, stock_build, arm, readings=READINGS, limit=None, batch_size=3, progress=False)
    assert [type(x).__name__ for x in (_lm(model, tok, 3, False, "hflm"),)] == ["StockLM"]
    for f, s in zip(fast.scores, stock.scores, strict=True):
        assert (f.split, f.reading, f.n, f.acc) == (s.split, s.reading, s.n, s.acc)
        assert [(x.id, x.correct, x.reply) for x in f.samples] == [(x.id, x.correct, x.reply) for x in s.samples]
