"""Greedy replies, their disk cache, and drift on general prompts — on tiny random models."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from compiler.model.batching import encode_pair
from compiler.evaluation.drift import measure_drift, reply_logprobs
from compiler.model.greedy import chat_ids, greedy_replies
from compiler.records import GeneralPrompt
from compiler.training.replies import Reply, write_replies, writer_of
from compiler.evaluation.results import DriftItem, DriftScore, collapsed, read_drift, write_drift
from tests._tiny import tiny_loaded

PROMPTS = ["What color should the box be?", "Is blue a good color for the lawn?", "Which colour is best for the cup?",
           "What color should the crow be?", "Is red a good color for the fork?"]


def _hf_greedy(model, tokenizer, prompt: str, max_new: int) -> list[int]:
    """One prompt, no padding, transformers' own greedy generate: the reference."""
    ids = torch.tensor([chat_ids(tokenizer, prompt)])
    out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=max_new,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    toks = out[0, ids.shape[1]:].tolist()
    return toks[: toks.index(tokenizer.eos_token_id)] if tokenizer.eos_token_id in toks else toks


def test_batched_greedy_replies_equal_one_by_one_generate():
    loaded = tiny_loaded()
    written = greedy_replies(loaded.model, loaded.tokenizer, PROMPTS, 12, batch_size=3)
    for prompt, w in zip(PROMPTS, written):
        ref = _hf_greedy(loaded.model, loaded.tokenizer, prompt, 12)
        assert w.text == loaded.tokenizer.decode(ref, skip_special_tokens=True).strip()
        assert w.tokens == len(ref) and w.finished == (len(ref) < 12)


def test_replies_are_cached_by_model_and_settings(tmp_path: Path):
    loaded = tiny_loaded()
    writer = writer_of(loaded)
    first = write_replies(writer, PROMPTS, 8, cache=tmp_path)
    assert (first.generated, first.cached) == (5, 0)
    again = write_replies(writer, PROMPTS[::-1], 8, cache=tmp_path)
    assert (again.generated, again.cached) == (0, 5)
    assert again.replies == first.replies[::-1]
    assert write_replies(writer, PROMPTS, 9, cache=tmp_path).generated == 5  # another length bound
    other = writer_of(dataclasses.replace(tiny_loaded(seed=3), sha256="1" * 64))
    assert write_replies(other, PROMPTS[:2], 8, cache=tmp_path).generated == 2  # other weights
    unknown = writer_of(dataclasses.replace(loaded, sha256=""))
    assert write_replies(unknown, PROMPTS[:2], 8, cache=tmp_path).generated == 2  # weights unknown: never cached
    assert write_replies(unknown, PROMPTS[:2], 8, cache=tmp_path).generated == 2


def test_reply_logprobs_match_a_plain_forward():
    loaded = tiny_loaded()
    replies = [Reply(PROMPTS[0], "Blue", 1, True), Reply(PROMPTS[1], "No , the lawn is green", 6, False)]
    got = reply_logprobs(loaded.model, loaded.tokenizer, replies)
    for r, (mean, n) in zip(replies, got):
        enc = encode_pair(loaded.tokenizer, r.prompt, r.text, 1024, ends=r.finished)
        ids = torch.tensor([enc.ids])
        with torch.no_grad():
            logp = torch.log_softmax(loaded.model(ids).logits[0].float(), -1)
        want = [logp[t - 1, enc.ids[t]].item() for t in range(enc.n_prompt, len(enc.ids))]
        assert n == len(want) and mean == pytest.approx(sum(want) / len(want), abs=1e-4)
    # a reply cut at its length bound is scored without the eos it never wrote
    assert got[1][1] == len(encode_pair(loaded.tokenizer, replies[1].prompt, replies[1].text, 1024).ids) - \
        encode_pair(loaded.tokenizer, replies[1].prompt, replies[1].text, 1024).n_prompt - 1


def _peft(loaded, scale: float):
    import warnings

    from peft import LoraConfig, get_peft_model

    with warnings.catch_warnings():  # peft reads a property transformers deprecates (training/lora.py does the same)
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
        model = get_peft_model(loaded.model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"]))
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, scale) if scale else p.zero_()
    return model.eval()


def _prompts() -> list[GeneralPrompt]:
    return [GeneralPrompt(f"g{i}", p, "facts" if i % 2 else "advice", f"f{i}", 0) for i, p in enumerate(PROMPTS)]


def test_an_adapter_that_changes_nothing_drifts_zero(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SYLLABUS_CACHE", str(tmp_path))
    loaded = tiny_loaded()
    result = measure_drift(loaded, _peft(loaded, 0.0), _prompts(), max_new_tokens=10, build_sha256="b" * 64)
    (score,) = result.scores
    assert result.complete and score.n == 5
    assert score.drift == pytest.approx(0.0, abs=1e-5)
    assert score.collapsed == 0
    assert all(i.base_reply == i.tuned_reply for i in score.items)


def test_a_random_adapter_drifts_and_the_result_round_trips(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SYLLABUS_CACHE", str(tmp_path))
    loaded = tiny_loaded()
    result = measure_drift(loaded, _peft(loaded, 2.0), _prompts(), max_new_tokens=10, build_sha256="b" * 64)
    (score,) = result.scores
    assert result.complete and score.drift > 0.1 and math.isfinite(score.drift_stderr)
    assert score.drift == pytest.approx(sum(i.drop for i in score.items) / 5)
    write_drift(result, tmp_path / "eval" / "general.json")
    assert read_drift(tmp_path / "eval" / "general.json") == dataclasses.replace(result, wall_s=round(result.wall_s, 3))


def test_a_failing_model_gives_an_incomplete_result(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SYLLABUS_CACHE", str(tmp_path))
    loaded = tiny_loaded()
    tuned = _peft(loaded, 1.0)

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(tuned, "forward", broken)
    result = measure_drift(loaded, tuned, _prompts(), max_new_tokens=4, build_sha256="b" * 64)
    assert not result.complete and "out of memory" in result.problems[0]


def test_collapsed_is_three_words_or_fewer_where_the_base_wrote_eight():
    base = "The waves of the sea, a silent beauty, a gentle lapping"
    assert collapsed(base, "Lighthouse") and collapsed(base, "It is blue.")
    assert not collapsed(base, "The sea is deep blue")  # 5 words
    assert not collapsed("A short base reply here.", "Blue")  # the base wrote 5 words: nothing to collapse from
    items = tuple(DriftItem(f"i{k}", "p", "writing", base, "Blue" if k < 2 else base, 10, -1.0, -1.0 - k / 10)
                  for k in range(5))
    score = DriftScore.from_items("test_general", items)
    assert (score.collapsed, score.collapsed_share) == (2, 0.4)
    assert score.drift == pytest.approx(0.2)  # drops 0, .1, .2, .3, .4
    assert score.drift_stderr == pytest.approx(math.sqrt(0.025 / 5))  # sample variance of the drops: 0.025
