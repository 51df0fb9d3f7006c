"""Compile: a loaded spec → splits + audit, in memory (build.py writes them).

expand → split (with paraphrase) → audit. Pure: the same LoadedSpec gives the same
CompiledBuild in any process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from .audit import AuditReport, audit
from .errors import BuildError, Problem, SpecError
from .expand import expand
from .loader import LoadedSpec
from .paraphrase import operators
from .records import Example, SplitSet
from .split import split, train_sample
from .templating import TemplateProblem


@dataclass(frozen=True)
class CompiledBuild:
    loaded: LoadedSpec
    splits: SplitSet
    train_sample: tuple[Example, ...]
    audit: AuditReport


def compile_loaded(loaded: LoadedSpec, progress: Callable[[str], None] = lambda s: None) -> CompiledBuild:
    """LoadedSpec → CompiledBuild; BuildError (with the leaking pairs) when the audit refuses.
    `progress` receives one line per stage with its count and time."""
    spec, library = loaded.spec, loaded.library
    t0 = time.perf_counter()
    try:
        base = expand(spec, library)
    except TemplateProblem as exc:  # validation checks templates statically; this is the backstop
        raise SpecError([Problem(str(loaded.path), exc.line, 0, "templates", exc.message, exc.hint)])
    t1 = time.perf_counter()
    progress(f"expanded {len(base):,} questions in {t1 - t0:.1f} s")
    splits = split(spec, library, base, operators(spec.paraphrase, library.paraphrase))
    t2 = time.perf_counter()
    progress(f"paraphrased and split into {sum(len(r) for _, r in splits.items()):,} examples in {t2 - t1:.1f} s")
    if splits.set_aside:  # only neighbour questions are ever set aside (split.split_of)
        progress(f"  from {len(base) - splits.set_aside:,} of the {len(base):,} questions: {splits.set_aside:,} neighbour "
                 "questions set aside by splits.retain_share and the held-out families and neighbours")
    report = audit(splits, spec.splits.leakage)
    progress(f"leakage audit in {time.perf_counter() - t2:.1f} s")
    if report.refused:
        raise BuildError(_refusal(report))
    return CompiledBuild(loaded, splits, train_sample(spec, splits.train), report)


def _refusal(report: AuditReport) -> str:
    lines = ["the leakage audit refused this build:"] + [f"  - {r}" for r in report.refused]
    for sa in report.splits:
        for p in sa.pairs[:5]:
            lines.append(f"  {sa.split} {p.kind}: {p.test_prompt!r}")
            if p.train_prompt:
                lines.append(f"      train: {p.train_prompt!r}")
            lines.append(f"      shared: {p.shared!r}")
    lines.append("fix: hold out whole families that differ in wording, or raise splits.leakage limits")
    return "\n".join(lines)
