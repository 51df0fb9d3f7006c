"""Compile: a loaded spec → splits + audit, in memory (build/write.py writes them).

expand → split (with paraphrase) → general prompts (retain.general) → lint → audit. Pure: the same LoadedSpec gives the
same CompiledBuild in any process. `check_lessons` runs the stages up to the lint,
without the audit and without writing, for `syllabus validate`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable

from .audit import AuditReport, audit
from ..errors import BuildError, Problem, SpecError
from .expand import RenderFailure, expand
from .general_split import GeneralShortfall, split_general
from .lint import lint_examples
from ..spec.loader import LoadedSpec
from .paraphrase import operators
from ..records import Example, SplitSet
from .split import split, train_sample
from ..spec.templating import TemplateProblem
from ..spec.yamlio import field_name


@dataclass(frozen=True)
class CompiledBuild:
    loaded: LoadedSpec
    splits: SplitSet
    train_sample: tuple[Example, ...]
    audit: AuditReport


def _expand(loaded: LoadedSpec) -> tuple[Example, ...]:
    """LoadedSpec → its base examples; SpecError, located at the template, for one that fails to
    render (validate trial-renders every template with every value; this is the backstop)."""
    try:
        return expand(loaded.spec, loaded.library)
    except RenderFailure as exc:
        file, line, col = _locator(loaded)(exc.file, exc.path)
        message = f"{exc.problem.message} (rendering for {exc.context})"
        raise SpecError([Problem(file, line, col, field_name(exc.path), message, exc.problem.hint)]) from None
    except TemplateProblem as exc:  # a neighbour answer, fact or phrasing: rendered with every value at validate
        raise SpecError([Problem(str(loaded.path), exc.line, 0, "templates", exc.message, exc.hint)]) from None


def _locator(loaded: LoadedSpec):
    """The spec's locate, or (a LoadedSpec built in memory has no positions) one naming the file alone."""
    return loaded.locate or (lambda file, path: (file or str(loaded.path), 0, 0))


def _split(loaded: LoadedSpec, base: tuple[Example, ...]) -> SplitSet:
    spec = loaded.spec
    return _general(loaded, split(spec, loaded.library, base, operators(spec.paraphrase, loaded.library.paraphrase)))


def _general(loaded: LoadedSpec, splits: SplitSet) -> SplitSet:
    """Splits → the same with the general prompts of each side (retain.general); SpecError
    located at the retain.general field to change when the pack cannot fill a side."""
    settings = loaded.spec.retain.general
    if settings is None:
        return splits
    try:
        sides = split_general(settings, loaded.library.general, loaded.spec.seed, len(splits.train))
    except GeneralShortfall as exc:
        file, line, col = _locator(loaded)(None, exc.path)
        raise SpecError([Problem(file, line, col, field_name(exc.path), exc.message, exc.hint)]) from None
    return dataclasses.replace(splits, train_general=sides.train, test_general=sides.test)


def _lint(loaded: LoadedSpec, splits: SplitSet) -> None:
    """SpecError listing every lint problem of the lessons (exit 2), or nothing."""
    dev = [("dev", splits.dev)] if splits.dev else []  # dev lessons are lessons too: one answer each, sound sentences
    problems = lint_examples(loaded.spec, loaded.library, [*splits.items(), *dev], _locator(loaded))
    if problems:
        raise SpecError(problems)


def check_lessons(loaded: LoadedSpec) -> LoadedSpec:
    """LoadedSpec → the same, once the lessons it compiles to pass the lint; SpecError
    otherwise. Expands, paraphrases and splits in memory, writing nothing."""
    _lint(loaded, _split(loaded, _expand(loaded)))
    return loaded


def compile_loaded(loaded: LoadedSpec, progress: Callable[[str], None] = lambda s: None) -> CompiledBuild:
    """LoadedSpec → CompiledBuild; SpecError for broken lessons (lint.py), BuildError (with
    the leaking pairs) when the audit refuses. `progress` receives one line per stage with
    its count and time."""
    spec = loaded.spec
    t0 = time.perf_counter()
    base = _expand(loaded)
    t1 = time.perf_counter()
    progress(f"expanded {len(base):,} questions in {t1 - t0:.1f} s")
    splits = _split(loaded, base)
    t2 = time.perf_counter()
    progress(f"paraphrased and split into {sum(len(r) for _, r in splits.items()):,} examples in {t2 - t1:.1f} s")
    if splits.set_aside:  # only neighbour questions are ever set aside (split.split_of)
        progress(f"  from {len(base) - splits.set_aside:,} of the {len(base):,} questions: {splits.set_aside:,} neighbour "
                 "questions set aside by splits.retain_share and the held-out families and neighbours")
    if splits.dev:
        progress(f"  dev split: {len(splits.dev):,} examples from {len({(e.provenance.rule, e.provenance.form, e.provenance.family) for e in splits.dev})} "
                 "train-side families (splits.dev), scored by `syllabus sweep` only")
    if splits.test_general:
        progress(f"  general prompts: {len(splits.train_general)} for retain lessons (replies written at train time), "
                 f"{len(splits.test_general)} held out for test_general")
    _lint(loaded, splits)  # before the audit: a broken lesson is the spec's to fix, whatever leaks
    t2 = time.perf_counter()
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
