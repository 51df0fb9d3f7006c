"""A sweep's record and its report: sweep.json / trial.json as frozen dataclasses, and the
Markdown report of a finished sweep (every trial's dev metrics, the choice, the chosen trial's
test scores; report.md in the sweep folder, and what stdout shows). run.py writes and reads them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from ..errors import UsageError
from ..integrity import read_json, write_atomic
from ..names import DEV_SPLIT
from .grid import Trial
from .guard import ExamGuard
from .objective import Goal, misses
from .workers import Shard

SWEEP_FILE, TRIAL_FILE = "sweep.json", "trial.json"
# A trial's dev scoring (the tuned arm on the dev split, per-item records, the adapter's sha256),
# in its folder as an arm file: `syllabus compare TRIAL TRIAL …` reads it. Never eval/tuned.json:
# that is the chosen trial's exam on the test splits.
DEV_FILE = "eval/dev.json"


@dataclass(frozen=True)
class ExamOutcome:
    """The chosen trial on the test splits: the gate's exit code and status, every arm's scores."""

    trial: str  # its folder name
    exit_code: int
    status: str  # the verdict: pass | fail | incomplete
    scores: tuple[tuple[str, str, str, float], ...]  # (split, reading, arm, accuracy)


class Lab(Protocol):
    """What a sweep needs of a model (lab.LiveLab; tests use a fake)."""

    def trial(self, trial: Trial, folder: Path, guard: ExamGuard) -> dict[str, float]: ...

    def exam(self, trial: Trial, folder: Path, guard: ExamGuard) -> ExamOutcome: ...


@dataclass(frozen=True)
class TrialRecord:
    """trial.json: one trial's recipe, state and dev metrics."""

    index: int
    key: str
    label: str
    status: str  # running | done | failed
    metrics: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    error: str = ""
    owner: str = ""  # running: the process running it, 'host:pid' (workers.owner)

    @classmethod
    def read(cls, path: Path) -> "TrialRecord | None":
        """trial.json → the record; None when it is not one (cut short, hand-edited)."""
        try:
            doc = read_json(path)
            return cls(**{k: doc[k] for k in cls.__dataclass_fields__ if k in doc})
        except (UsageError, TypeError):
            return None


@dataclass(frozen=True)
class SweepOutcome:
    """A finished sweep: its folder, every trial's record, the chosen one, and its exam."""

    folder: Path
    trials: tuple[TrialRecord, ...]
    labels: tuple[str, ...]
    goal: Goal
    chosen: int  # 0-based
    exam: ExamOutcome
    exam_runs: int  # times the test splits were read for this sweep (1; 2 if the first exam was cut short)
    wall_s: float

    @property
    def exit_code(self) -> int:
        return self.exam.exit_code

    def render(self) -> str:
        """The report (report.md's text)."""
        return render(self)

    def to_json(self) -> dict:
        """`--format json`: sweep.json's document, under schema syllabus.sweep/1, with the exit code."""
        return {"schema": "syllabus.sweep/1", "exit_code": self.exit_code, **read_json(self.folder / SWEEP_FILE)}


@dataclass(frozen=True)
class WorkerOutcome:
    """A worker's share of a sweep (workers.py): its trials' records; no choice, no exam."""

    folder: Path
    worker: Shard
    trials: tuple[TrialRecord, ...]
    total: int  # trials in the whole sweep
    exit_code: int = 0

    def render(self) -> str:
        done = ", ".join(str(r.index) for r in self.trials) or "none"
        return (f"worker {self.worker}: trials {done} of {self.total} done in {self.folder}; once every worker has "
                "finished, run the same `syllabus sweep` without --worker (and without a launcher) to choose a "
                "trial and examine it\n")

    def to_json(self) -> dict:
        """`--format json`: schema syllabus.sweep/1, status "worker" (docs/cli-json.md)."""
        return {"schema": "syllabus.sweep/1", "exit_code": self.exit_code, "status": "worker", "folder": str(self.folder),
                "worker": {"index": self.worker.index, "count": self.worker.count}, "trials_total": self.total,
                "results": [asdict(r) for r in self.trials]}


def _num(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.3f}"


def render(outcome: SweepOutcome) -> str:
    """SweepOutcome → the report as Markdown."""
    goal, trials = outcome.goal, outcome.trials
    names = [m for m in dict.fromkeys(k for r in trials for k in r.metrics)]
    names.sort(key=lambda m: (m != goal.metric, not m.startswith(DEV_SPLIT), m.count("."), m))
    lines = [f"# Sweep {outcome.folder.name}", "",
             f"Objective: {goal.describe()}. {len(trials)} trials, each scored on the `{DEV_SPLIT}` split only.", "",
             "| trial | recipe | " + " | ".join(names) + " | wall s | |",
             "|---|---|" + "---|" * len(names) + "---|---|"]
    for i, r in enumerate(trials):
        why = misses(goal, r.metrics)
        mark = "**chosen**" if i == outcome.chosen else ("not eligible: " + ", ".join(why) if why else "")
        cells = [_num(r.metrics.get(m)) for m in names]
        lines.append(f"| {r.index} | {outcome.labels[i]} | " + " | ".join(cells) + f" | {r.wall_s:.0f} | {mark} |")
    pick, exam = trials[outcome.chosen], outcome.exam
    lines += ["", f"Chosen: trial {pick.index} ({outcome.labels[outcome.chosen]}), {goal.metric} "
                  f"{_num(pick.metrics.get(goal.metric))}.", "",
              f"## Trial {pick.index} on the test splits", ""]
    arms = list(dict.fromkeys(arm for _, _, arm, _ in exam.scores))
    table: dict[tuple[str, str], dict[str, float]] = {}
    for split, reading, arm, acc in exam.scores:
        table.setdefault((split, reading), {})[arm] = acc
    lines += ["| split | reading | " + " | ".join(arms) + " |", "|---|---|" + "---|" * len(arms)]
    lines += [f"| {s} | {rd} | " + " | ".join(_num(v.get(a)) for a in arms) + " |" for (s, rd), v in table.items()]
    lines += ["", f"Gate: **{exam.status}** (exit {exam.exit_code}); the full report is {exam.trial}/report.md.", "",
              f"The search scored the `{DEV_SPLIT}` split only. The test splits were read once, after the choice, "
              f"by trial {pick.index} alone" + (f" (the exam ran {outcome.exam_runs} times: an earlier one was cut "
                                                "short)" if outcome.exam_runs > 1 else "") + "."]
    return "\n".join(lines) + "\n"


def write_report(outcome: SweepOutcome) -> Path:
    """SweepOutcome → <sweep folder>/report.md; → its path."""
    return write_atomic(Path(outcome.folder) / "report.md", render(outcome))
