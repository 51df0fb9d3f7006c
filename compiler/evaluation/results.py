"""Evaluation results: what `evaluate` writes and `gate` reads (runs/<id>/eval/<arm>.json).

Arms: `base` (the model as it is), `prompted` (base with the rules' statements as a
system prompt), `tuned` (base + the LoRA adapter), all three scored by lm-eval; and
`constant` (constant.py: every item answered with one fixed answer that never reads the
question), computed from the build's data by the gate. Readings: `mc` (multiple-choice
log-likelihood) and `gen` (a short greedy reply whose first option word must be the
right one). Scored splits: `train_sample`, `test_paraphrase`, `test_form`, `test_locality`.

`general` (eval/general.json, drift.py) is no arm: it holds the tuned model's drift from the
base on the held-out general prompts (test_general): how much less likely the base's own
greedy replies became, in nats per token, and how many tuned replies collapsed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from ..errors import UsageError
from ..integrity import json_kind, read_json, what_is_wrong, write_atomic
from .stats import wilson_interval


@dataclass(frozen=True)
class Sample:
    """One scored item: the example id, whether the arm got it right, and (gen) its reply."""

    id: str
    correct: bool
    reply: str = ""


@dataclass(frozen=True)
class Score:
    """Accuracy of one arm on one split under one reading, with its uncertainty."""

    split: str
    reading: str
    acc: float
    n: int
    stderr: float
    wilson_low: float
    wilson_high: float
    samples: tuple[Sample, ...] = field(default=(), repr=False)

    @staticmethod
    def from_samples(split: str, reading: str, samples: tuple[Sample, ...]) -> "Score":
        n = len(samples)
        k = sum(s.correct for s in samples)
        acc = k / n if n else math.nan
        # sample stderr of a mean of 0/1 values, as lm-eval reports it: sqrt(p(1-p)/(n-1))
        stderr = math.sqrt(acc * (1 - acc) / (n - 1)) if n > 1 else math.nan
        lo, hi = wilson_interval(k, n)
        return Score(split, reading, acc, n, stderr, lo, hi, samples)

    def correct_by_id(self) -> dict[str, bool]:
        """Per-item records → {item id: answered right}; an id seen twice keeps its last record."""
        return {s.id: s.correct for s in self.samples}


@dataclass(frozen=True)
class ArmResult:
    arm: str
    model: str
    build_sha256: str
    complete: bool  # False when the evaluation was interrupted or a split failed
    scores: tuple[Score, ...]
    wall_s: float = 0.0
    problems: tuple[str, ...] = ()  # why it is incomplete: "test_form (mc): 3 items scored, the build has 24"
    # the tuned arm: integrity.adapter_sha256 of the adapter it scored ("" for the other arms),
    # which the gate compares with run.json's and with the adapter folder as it is now
    adapter_sha256: str = ""
    # the plain `lm_eval run …` line that scores the same items the same way (commands.py);
    # "" for the constant arm (no model) and for files written before syllabus recorded it
    lm_eval_command: str = ""

    def score(self, split: str, reading: str) -> Score | None:
        return next((s for s in self.scores if s.split == split and s.reading == reading), None)


def write_arm(result: ArmResult, path: Path) -> None:
    """ArmResult → JSON file (atomically: temp file, then rename)."""
    doc = {
        "arm": result.arm,
        "model": result.model,
        "build_sha256": result.build_sha256,
        "complete": result.complete,
        "wall_s": round(result.wall_s, 3),
        "problems": list(result.problems),
        **({"adapter_sha256": result.adapter_sha256} if result.adapter_sha256 else {}),
        **({"lm_eval_command": result.lm_eval_command} if result.lm_eval_command else {}),
        "scores": [
            {
                "split": s.split,
                "reading": s.reading,
                "acc": s.acc,
                "n": s.n,
                "stderr": s.stderr,
                "wilson_low": s.wilson_low,
                "wilson_high": s.wilson_high,
                "samples": [{"id": x.id, "correct": x.correct, "reply": x.reply} for x in s.samples],
            }
            for s in result.scores
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(doc, indent=1, allow_nan=True) + "\n")


def _str(doc: Mapping, key: str, default: str | None = None) -> str:
    """doc[key] when it is a JSON string; TypeError otherwise (an id that is a list would break pairing)."""
    value = doc[key] if default is None else doc.get(key, default)
    if not isinstance(value, str):
        raise TypeError(f"{key} is a JSON {json_kind(value)}, not a string")
    return value


def _list(doc: Mapping, key: str, default: list | None = None) -> list:
    value = doc[key] if default is None else doc.get(key, default)
    if not isinstance(value, list):
        raise TypeError(f"{key} is a JSON {json_kind(value)}, not an array")
    return value


def _sample(x: Mapping) -> Sample:
    if not isinstance(x.get("correct"), bool):  # "false" is a true string: only a JSON boolean counts
        raise TypeError(f"a per-item record's correct is {x.get('correct')!r}, not true or false")
    return Sample(_str(x, "id"), x["correct"], _str(x, "reply", ""))


def read_arm(path: Path) -> ArmResult:
    """JSON file → ArmResult, the figures as written (the gate re-derives them from the per-item
    records). UsageError (exit 2) naming the file and what is wrong when it is no arm file: not
    JSON, an array, a missing key, a field of the wrong type. A `complete` that is not a JSON
    boolean reads as unfinished, with that as its problem (the gate: incomplete, exit 3)."""
    doc = read_json(path, "re-run `syllabus eval`")
    try:
        scores = tuple(
            Score(
                split=_str(s, "split"),
                reading=_str(s, "reading"),
                acc=float(s["acc"]),
                n=int(s["n"]),
                stderr=float(s["stderr"]),
                wilson_low=float(s["wilson_low"]),
                wilson_high=float(s["wilson_high"]),
                samples=tuple(_sample(x) for x in _list(s, "samples")),
            )
            for s in _list(doc, "scores")
        )
        complete, problems = doc["complete"], tuple(str(p) for p in _list(doc, "problems", []))
        if not isinstance(complete, bool):
            complete, problems = False, (*problems, f"complete is {complete!r}, not a JSON true or false")
        return ArmResult(_str(doc, "arm"), _str(doc, "model"), _str(doc, "build_sha256"), complete, scores,
                         float(doc.get("wall_s", 0.0)), problems, _str(doc, "adapter_sha256", ""),
                         _str(doc, "lm_eval_command", ""))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"{path}: not an evaluation result ({what_is_wrong(exc)}); re-run `syllabus eval`") from None


# ---------------------------------------------------------------- general drift (test_general)

# A tuned reply collapsed when it has at most this many words where the base wrote at least
# COLLAPSE_BASE_WORDS: "Lighthouse" for a haiku, "5" for a Python function (issue 13).
COLLAPSE_MAX_WORDS = 3
COLLAPSE_BASE_WORDS = 8


def words(text: str) -> int:
    """Reply → its number of whitespace-separated words."""
    return len(text.split())


def collapsed(base_reply: str, tuned_reply: str) -> bool:
    """Whether the tuned reply collapsed: ≤ 3 words where the base wrote ≥ 8."""
    return words(tuned_reply) <= COLLAPSE_MAX_WORDS and words(base_reply) >= COLLAPSE_BASE_WORDS


@dataclass(frozen=True)
class DriftItem:
    """One held-out general prompt: the base model's greedy reply, the tuned model's, and how
    likely the base's reply still is under each model (mean log-probability per token)."""

    id: str
    prompt: str
    kind: str
    base_reply: str
    tuned_reply: str
    tokens: int  # tokens of the base reply that were scored (its eos too when it ended there)
    base_logprob: float  # mean log p per token of the base reply under the base model
    tuned_logprob: float  # the same under the tuned model

    @property
    def drop(self) -> float:
        """Nats per token the base's own reply lost under the tuned model; 0 = unchanged."""
        return self.base_logprob - self.tuned_logprob

    @property
    def collapsed(self) -> bool:
        return collapsed(self.base_reply, self.tuned_reply)


def _mean_stderr(values: list[float]) -> tuple[float, float]:
    """values → (mean, standard error of the mean = sample sd / √n); nan where undefined."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


@dataclass(frozen=True)
class DriftScore:
    """Drift of the tuned model from the base on one split of general prompts."""

    split: str
    n: int
    drift: float  # mean over prompts of DriftItem.drop, nats/token
    drift_stderr: float
    collapsed: int  # prompts whose tuned reply collapsed
    collapsed_share: float
    collapsed_stderr: float  # sqrt(p(1-p)/(n-1)), as accuracy's
    wilson_low: float  # Wilson 95 % interval of collapsed_share
    wilson_high: float
    base_words: float  # mean words per reply
    tuned_words: float
    items: tuple[DriftItem, ...] = field(default=(), repr=False)

    @staticmethod
    def from_items(split: str, items: tuple[DriftItem, ...]) -> "DriftScore":
        n = len(items)
        drift, drift_se = _mean_stderr([i.drop for i in items])
        k = sum(i.collapsed for i in items)
        share = k / n if n else math.nan
        share_se = math.sqrt(share * (1 - share) / (n - 1)) if n > 1 else math.nan
        lo, hi = wilson_interval(k, n)
        base_w, _ = _mean_stderr([float(words(i.base_reply)) for i in items])
        tuned_w, _ = _mean_stderr([float(words(i.tuned_reply)) for i in items])
        return DriftScore(split, n, drift, drift_se, k, share, share_se, lo, hi, base_w, tuned_w, items)


@dataclass(frozen=True)
class DriftResult:
    """What eval/general.json holds: the tuned model's drift from the base on general prompts."""

    model: str
    build_sha256: str
    complete: bool
    scores: tuple[DriftScore, ...]
    max_new_tokens: int = 0  # the replies' length bound
    wall_s: float = 0.0
    problems: tuple[str, ...] = ()
    adapter_sha256: str = ""  # of the adapter the tuned model wore, as ArmResult's

    def score(self, split: str) -> DriftScore | None:
        return next((s for s in self.scores if s.split == split), None)


def write_drift(result: DriftResult, path: Path) -> None:
    """DriftResult → JSON file (atomically); NaN is written as NaN, as write_arm does."""
    doc = {
        "kind": "general_drift",
        "model": result.model,
        "build_sha256": result.build_sha256,
        "complete": result.complete,
        "max_new_tokens": result.max_new_tokens,
        "wall_s": round(result.wall_s, 3),
        "problems": list(result.problems),
        **({"adapter_sha256": result.adapter_sha256} if result.adapter_sha256 else {}),
        "scores": [
            {
                "split": s.split, "n": s.n, "drift": s.drift, "drift_stderr": s.drift_stderr,
                "collapsed": s.collapsed, "collapsed_share": s.collapsed_share,
                "collapsed_stderr": s.collapsed_stderr, "wilson_low": s.wilson_low, "wilson_high": s.wilson_high,
                "base_words": s.base_words, "tuned_words": s.tuned_words,
                "items": [
                    {"id": i.id, "prompt": i.prompt, "kind": i.kind, "base_reply": i.base_reply,
                     "tuned_reply": i.tuned_reply, "tokens": i.tokens, "base_logprob": i.base_logprob,
                     "tuned_logprob": i.tuned_logprob, "drop": i.drop, "collapsed": i.collapsed}
                    for i in s.items
                ],
            }
            for s in result.scores
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(doc, indent=1, allow_nan=True, ensure_ascii=False) + "\n")


def read_drift(path: Path) -> DriftResult:
    """JSON file → DriftResult, the figures as written (the gate re-derives them from the items).
    UsageError (exit 2) naming the file and what is wrong when it is no drift file; a `complete`
    that is not a JSON boolean reads as unfinished, as read_arm's."""
    doc = read_json(path, "re-run `syllabus eval` with the adapter")
    if doc.get("kind") != "general_drift":
        raise UsageError(f"{path}: not a general drift file (kind {doc.get('kind')!r}); re-run `syllabus eval` with the adapter")
    try:
        scores = tuple(
            DriftScore(
                split=_str(s, "split"), n=int(s["n"]), drift=float(s["drift"]), drift_stderr=float(s["drift_stderr"]),
                collapsed=int(s["collapsed"]), collapsed_share=float(s["collapsed_share"]),
                collapsed_stderr=float(s["collapsed_stderr"]), wilson_low=float(s["wilson_low"]),
                wilson_high=float(s["wilson_high"]), base_words=float(s["base_words"]),
                tuned_words=float(s["tuned_words"]),
                items=tuple(
                    DriftItem(_str(i, "id"), _str(i, "prompt"), _str(i, "kind"), _str(i, "base_reply"),
                              _str(i, "tuned_reply"), int(i["tokens"]), float(i["base_logprob"]),
                              float(i["tuned_logprob"]))
                    for i in _list(s, "items")
                ),
            )
            for s in _list(doc, "scores")
        )
        complete, problems = doc["complete"], tuple(str(p) for p in _list(doc, "problems", []))
        if not isinstance(complete, bool):
            complete, problems = False, (*problems, f"complete is {complete!r}, not a JSON true or false")
        return DriftResult(_str(doc, "model"), _str(doc, "build_sha256"), complete, scores,
                           int(doc.get("max_new_tokens", 0)), float(doc.get("wall_s", 0.0)), problems,
                           _str(doc, "adapter_sha256", ""))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"{path}: not a general drift file ({what_is_wrong(exc)}); "
                         "re-run `syllabus eval` with the adapter") from None
