"""Evaluation results: what `evaluate` writes and `gate` reads (runs/<id>/eval/<arm>.json).

Arms: `base` (the model as it is), `prompted` (base with the rules' statements as a
system prompt), `tuned` (base + the LoRA adapter), all three scored by lm-eval; and
`constant` (constant.py: every item answered with one fixed answer that never reads the
question), computed from the build's data by the gate. Readings: `mc` (multiple-choice
log-likelihood) and `gen` (a short greedy reply whose first option word must be the
right one). Scored splits: `train_sample`, `test_paraphrase`, `test_form`, `test_locality`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Arm = Literal["base", "prompted", "constant", "tuned"]
# The arms lm-eval scores into runs/<id>/eval/<arm>.json: a run lacking one is incomplete.
ARMS: tuple[Arm, ...] = ("base", "prompted", "tuned")
# Every arm a verdict shows, in report column order: the baselines, then the tuned model.
# `constant` is no model: the gate computes it from the build (constant.py).
REPORT_ARMS: tuple[Arm, ...] = ("base", "prompted", "constant", "tuned")


def wilson_interval(correct: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """k correct of n → Wilson score interval (95 % by default); (nan, nan) when n = 0.

    p̂ ± z·sqrt(p̂(1−p̂)/n + z²/4n²), centred at (p̂ + z²/2n) / (1 + z²/n)."""
    if n == 0:
        return (math.nan, math.nan)
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


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
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1, allow_nan=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_arm(path: Path) -> ArmResult:
    """JSON file → ArmResult. Raises ValueError/KeyError/OSError on a broken file
    (the gate turns those into 'evaluation incomplete')."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    scores = tuple(
        Score(
            split=s["split"],
            reading=s["reading"],
            acc=float(s["acc"]),
            n=int(s["n"]),
            stderr=float(s["stderr"]),
            wilson_low=float(s["wilson_low"]),
            wilson_high=float(s["wilson_high"]),
            samples=tuple(Sample(x["id"], bool(x["correct"]), x.get("reply", "")) for x in s["samples"]),
        )
        for s in doc["scores"]
    )
    return ArmResult(doc["arm"], doc["model"], doc["build_sha256"], bool(doc["complete"]), scores,
                     float(doc.get("wall_s", 0.0)), tuple(str(p) for p in doc.get("problems", ())))
