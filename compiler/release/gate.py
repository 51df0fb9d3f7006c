"""The release gate: scores + thresholds → a verdict with reasons and an exit code.

Pure: data in, verdict out, no IO. verify.py and judge.py read the run folder, checks.py
evaluates each check kind, verdict.py holds the types, and report.py writes the files.
The gate fails closed: anything it cannot evaluate soundly (a missing
or unfinished arm, a missing metric, NaN, an empty split, item ids that do not pair
up, an arm scored on another build) makes the verdict `incomplete` (exit 3), and
every such case is named in `reasons`. The `constant` arm (constant.py) is no
evaluation: only the checks that compare with it need it, and fail closed without it.
Nor is the general drift (eval/general.json, drift.py): only `max_general_drift` and
`max_collapsed` read it, and fail closed without it (or with figures its per-item
records do not give).

A check that names no reading uses the spec's primary reading (Spec.primary_reading);
`decide` resolves it first, so every result and name says which reading it used.

decide: (checks, arms, baseline, build, primary reading, drift, adapter) → Verdict.
Exit codes: 0 pass · 1 a threshold missed · 2 bad input · 3 incomplete.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from ..errors import UsageError
from ..evaluation.results import ArmResult, DriftResult
from ..names import READINGS, REPORT_ARMS, SCORED_SPLITS, Reading
from ..spec.model import GENERAL_CHECK_KINDS, Check
from .checks import RUNNERS, Checker, reading_of, regressions, usable
from .verdict import EXIT, BuildRef, BaselineVerdict, Gap, GeneralRow, Status, TableRow, Verdict


def _table(arms: Mapping[str, ArmResult | None]) -> tuple[TableRow, ...]:
    rows = []
    for arm in REPORT_ARMS:
        result = arms.get(arm)
        if result is None:
            continue
        order = {(sp, rd): i for i, (sp, rd) in enumerate((sp, rd) for sp in SCORED_SPLITS for rd in READINGS)}
        scores = sorted(result.scores, key=lambda s: (order.get((s.split, s.reading), len(order)), s.split, s.reading))
        rows += [TableRow(arm, s.split, s.reading, s.acc, s.n, s.wilson_low, s.wilson_high) for s in scores]
    return tuple(rows)


def _gaps(arms: Mapping[str, ArmResult | None]) -> tuple[Gap, ...]:
    tuned = arms.get("tuned")
    if tuned is None:
        return ()
    gaps = []
    for reading in READINGS:
        train = tuned.score("train_sample", reading)
        if train is None or train.n <= 0 or not usable(train.acc):
            continue
        for split in SCORED_SPLITS[1:]:
            s = tuned.score(split, reading)
            if s is not None and s.n > 0 and usable(s.acc):
                gaps.append(Gap(split, reading, train.acc, s.acc, train.acc - s.acc))
    return tuple(gaps)


def _general_rows(general: DriftResult | None) -> tuple[GeneralRow, ...]:
    if general is None:
        return ()
    return tuple(GeneralRow(s.split, s.n, s.drift, s.drift_stderr, s.collapsed, s.collapsed_share, s.wilson_low,
                            s.wilson_high, s.base_words, s.tuned_words) for s in general.scores)


def _check_names(checks: Sequence[Check]) -> list[str]:
    names: list[str] = []
    for c in checks:
        base = f"{c.kind}[{c.split}]" if c.kind in GENERAL_CHECK_KINDS else f"{c.kind}[{c.split},{reading_of(c)}]"
        name, k = base, 2
        while name in names:
            name, k = f"{base}#{k}", k + 1
        names.append(name)
    return names


def resolve_readings(checks: Sequence[Check], primary: Reading) -> tuple[Check, ...]:
    """(checks, the spec's primary reading) → the same checks, each naming its reading.

    E.g. {kind: min_accuracy, split: test_form, min: 0.8} in a spec whose answers are
    explained → the same check with reading: gen."""
    return tuple(c if c.kind in GENERAL_CHECK_KINDS or c.reading is not None  # type: ignore[union-attr]
                 else c.model_copy(update={"reading": primary}) for c in checks)


def decide(
    checks: Sequence[Check],
    arms: Mapping[str, ArmResult | None],
    baseline: BaselineVerdict | None = None,
    build: BuildRef | None = None,
    primary_reading: Reading = "mc",
    general: DriftResult | None = None,
    adapter_sha256: str | None = None,
) -> Verdict:
    """(the spec's checks, arm → result or None when its file is missing, last release's
    verdict, the build the run should have been scored on, the reading of checks that name
    none: Spec.primary_reading(), the general drift or None when not measured, the adapter the
    tuned arm and the drift must have been measured with or None to not ask) → Verdict.

    Never raises on any ArmResult. Raises UsageError (exit 2) for one bad input only:
    a baseline that is the verdict of another build (a different spec name)."""
    if baseline is not None and build is not None and baseline.build_name != build.name:
        raise UsageError(
            f"--baseline is the verdict of build {baseline.build_name!r}, but this run is of build "
            f"{build.name!r}; pass the verdict.json of the last release of {build.name!r}"
        )
    checks = resolve_readings(checks, primary_reading)
    ck = Checker(arms, build, general, adapter_sha256)
    results = [RUNNERS[c.kind](c, name, ck) for c, name in zip(checks, _check_names(checks))]
    if baseline is not None:
        results += regressions(checks, baseline, ck)
    reasons = list(ck.reasons)
    for r in results:
        if r.passed is None:
            reasons.append(f"{r.name}: {r.detail}")
        elif not r.passed:
            reasons.append(f"{r.name} failed: {r.detail}")
    if not checks:
        reasons.append("the spec's gate has no checks: nothing was required of this model")
    if ck.bad_arms or not checks or any(r.passed is None for r in results):
        status: Status = "incomplete"
    elif any(r.passed is False for r in results):
        status = "fail"
    else:
        status = "pass"
    unique = tuple(dict.fromkeys(reasons))  # an arm problem can be named by several checks
    return Verdict(status, EXIT[status], tuple(results), unique, _table(arms), _gaps(arms), _general_rows(general))
