"""What the gate decides, as data: a Verdict (status, exit code, one CheckResult per check,
the reasons) and the tables it carries (TableRow, Gap, GeneralRow), with the references it
is judged against (BuildRef, BaselineVerdict).

Types only: checks.py fills CheckResults, gate.decide assembles the Verdict, report.py and
its renderers write it out, ci_files.read_baseline reads a BaselineVerdict back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EXIT = {"pass": 0, "fail": 1, "incomplete": 3}

Status = Literal["pass", "fail", "incomplete"]


@dataclass(frozen=True)
class CheckResult:
    """One threshold, evaluated. `passed` is None when it could not be evaluated."""

    name: str  # unique within a verdict: "min_accuracy[test_form,mc]"
    kind: str
    split: str
    reading: str
    passed: bool | None
    observed: float  # nan when not evaluated
    threshold: float
    detail: str  # one human sentence with the numbers


@dataclass(frozen=True)
class TableRow:
    """Accuracy of one arm on one split under one reading, with its Wilson 95 % interval."""

    arm: str
    split: str
    reading: str
    acc: float
    n: int
    wilson_low: float
    wilson_high: float


@dataclass(frozen=True)
class Gap:
    """Memorization gap of the tuned arm: train_sample accuracy − a held-out split's."""

    split: str
    reading: str
    train_acc: float
    split_acc: float
    gap: float


@dataclass(frozen=True)
class BuildRef:
    """Which build a run was scored on: its name and the sha256 of its manifest.json."""

    name: str
    sha256: str


@dataclass(frozen=True)
class BaselineVerdict:
    """What the gate needs from the last release's verdict.json: its build and tuned scores."""

    build_name: str
    build_sha256: str
    status: str
    tuned: tuple[TableRow, ...]  # arm = "tuned"

    def score(self, split: str, reading: str) -> TableRow | None:
        return next((s for s in self.tuned if s.split == split and s.reading == reading), None)


@dataclass(frozen=True)
class GeneralRow:
    """The tuned model's drift from the base on a split of general prompts (results.DriftScore
    without its items): the figures the report and verdict.json show."""

    split: str
    n: int
    drift: float  # nats/token the base's own replies lost under the tuned model
    drift_stderr: float
    collapsed: int
    collapsed_share: float
    wilson_low: float
    wilson_high: float
    base_words: float
    tuned_words: float


@dataclass(frozen=True)
class Verdict:
    status: Status
    exit_code: int
    checks: tuple[CheckResult, ...]
    reasons: tuple[str, ...]  # why it is not a pass (and notes), one sentence each
    table: tuple[TableRow, ...]  # every score of every arm, in arm × split × reading order
    gaps: tuple[Gap, ...]  # tuned memorization gap per held-out split and reading
    general: tuple[GeneralRow, ...] = ()  # drift on general prompts, when measured
