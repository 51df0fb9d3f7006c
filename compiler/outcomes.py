"""What the verbs take and return (pipeline.py chains the stages; the CLI and the Python API
render these): frozen dataclasses with .render() for people and .to_json() for scripts
(docs/cli-json.md names each document's schema).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .diffs.compare import BuildDiff
    from .evaluation.results import ArmResult
    from .release.context import ReportContext
    from .release.gate import Verdict


@dataclass(frozen=True)
class CompileResult:
    path: Path
    counts: dict[str, int]

    def summary(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return f"built {self.path}: {parts}"

    def to_json(self) -> dict:
        """→ the `syllabus.compile/1` document (docs/cli-json.md)."""
        return {"schema": "syllabus.compile/1", "exit_code": 0, "build": str(self.path), "counts": dict(self.counts)}


@dataclass(frozen=True)
class DiffResult:
    """What `diff` found: the diff, rendered in the format asked for, and the exit code
    --fail-on asks for (1 when triggered, else 0)."""

    diff: "BuildDiff"
    text: str
    exit_code: int


@dataclass(frozen=True)
class TrainOverrides:
    """Command-line flags that override the spec's `train:` block (None = keep)."""

    model: str | None = None
    epochs: float | None = None
    lr: float | None = None
    rank: int | None = None
    batch_size: int | None = None
    device: str | None = None


@dataclass(frozen=True)
class EvalResult:
    """What `eval` scored: the run folder it wrote eval/ into, and each arm's result."""

    run_dir: Path
    arms: tuple["ArmResult", ...]

    def render(self) -> str:
        return str(self.run_dir)

    def to_json(self) -> dict:
        """→ the `syllabus.eval/1` document (docs/cli-json.md); a non-finite number is null."""
        def num(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {"schema": "syllabus.eval/1", "exit_code": 0, "run_dir": str(self.run_dir), "arms": {
            a.arm: {"file": str(self.run_dir / "eval" / f"{a.arm}.json"), "model": a.model, "complete": a.complete,
                    "problems": list(a.problems),
                    "scores": [{"split": s.split, "reading": s.reading, "acc": num(s.acc), "n": s.n,
                                "wilson_low": num(s.wilson_low), "wilson_high": num(s.wilson_high)} for s in a.scores]}
            for a in self.arms}}


@dataclass(frozen=True)
class GateResult:
    """What `gate` decided: the verdict, its table as text, and the report files it wrote."""

    verdict: "Verdict"
    text: str
    reports: dict[str, Path]
    context: "ReportContext | None" = None  # what verdict.json says besides the verdict (build, run, model)

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    def render(self) -> str:
        return self.text + "\nreports: " + ", ".join(str(p) for p in self.reports.values())

    def to_json(self, schema: str = "syllabus.gate/1") -> dict:
        """→ the `syllabus.gate/1` document (docs/cli-json.md): the verdict as verdict.json has it,
        and the report files."""
        from .release.ci_files import verdict_document

        if self.context is None:
            raise ValueError("GateResult.to_json needs the report context the gate judged with")
        return {"schema": schema, "exit_code": self.exit_code, "status": self.verdict.status,
                "verdict": verdict_document(self.verdict, self.context),
                "reports": {name: str(path) for name, path in self.reports.items()}}


@dataclass(frozen=True)
class RunResult:
    """The main job's outcome: its run folder, the gate's result, and the wall time."""

    run_dir: Path
    gate: GateResult
    seconds: float

    @property
    def exit_code(self) -> int:
        return self.gate.exit_code

    def render(self) -> str:
        return f"{self.gate.render()}\nrun {self.run_dir} in {self.seconds:.0f} s"

    def to_json(self) -> dict:
        """→ the `syllabus.run/1` document (docs/cli-json.md): the gate's, with the run folder and wall time."""
        return {**self.gate.to_json("syllabus.run/1"), "run_dir": str(self.run_dir), "seconds": round(self.seconds, 1)}
