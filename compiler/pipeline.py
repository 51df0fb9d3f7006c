"""The only module that chains stages. Each function here is one CLI verb.

Stages pass typed values, and write their artifacts to disk so any of them can be
re-run alone: compile → build/<name>/, train → runs/<id>/adapter, evaluate →
runs/<id>/eval/*.json, gate → runs/<id>/verdict.json + reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import Problem


def validate(spec_path: Path) -> tuple[Problem, ...]:
    """spec file → its warnings; raises SpecError listing every error."""
    from .loader import load_spec

    return load_spec(spec_path).warnings


@dataclass(frozen=True)
class CompileResult:
    path: Path
    counts: dict[str, int]

    def summary(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return f"built {self.path}: {parts}"


def compile_spec(spec_path: Path, out: Path | None = None, echo: Callable[[str], None] = lambda s: None) -> CompileResult:
    """spec file → build folder (atomically written); raises SpecError / BuildError."""
    from .build import write_build
    from .compile import compile_loaded
    from .loader import load_spec

    loaded = load_spec(spec_path)
    for warning in loaded.warnings:
        echo(warning.render())
    compiled = compile_loaded(loaded)
    path = write_build(compiled, out or Path("build") / loaded.spec.name)
    return CompileResult(path, {split: len(rows) for split, rows in compiled.splits.items()})


def stats(build_path: Path, n_examples: int) -> str:
    from .stats import render_stats

    return render_stats(build_path, n_examples)


def diff(old: Path, new: Path | None, rev: str | None, fmt: str, limit: int, fail_on: str | None, color: bool) -> tuple[str, int]:
    """Two builds (or a spec and a git revision) → (rendered diff, exit code)."""
    raise NotImplementedError("diff: owned by the diff work")


@dataclass(frozen=True)
class TrainOverrides:
    """Command-line flags that override the spec's `train:` block (None = keep)."""

    model: str | None = None
    epochs: float | None = None
    lr: float | None = None
    rank: int | None = None
    batch_size: int | None = None
    device: str | None = None


def train(build_path: Path, overrides: TrainOverrides, resume: Path | None, runs_root: Path) -> Path:
    """build → runs/<id>/ with adapter/, run.json, train_log.jsonl."""
    raise NotImplementedError("train: owned by the train work")


def evaluate(build_path: Path, adapter: Path | None, model: str | None, device: str | None, out: Path | None, limit: int | None) -> Path:
    """build (+ adapter) → runs/<id>/eval/{base,prompted,tuned}.json."""
    raise NotImplementedError("evaluate: owned by the eval work")


def gate(run_dir: Path, baseline: Path | None) -> tuple[str, int]:
    """runs/<id>/ → verdict.json + reports; (verdict table, exit code)."""
    raise NotImplementedError("gate: owned by the eval work")


def run(spec_path: Path, device: str | None, runs_root: Path, baseline: Path | None) -> tuple[str, int]:
    """The main job: compile → eval base & prompted → train → eval tuned → gate → report."""
    raise NotImplementedError("run: chained last")
