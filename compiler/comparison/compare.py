"""Finished run folders → ComparisonResult: how the runs' accuracy compares on each scored split
and reading, whether the differences are more than chance, and what in their recipes differs.

`compare(paths)` loads and verifies every run (load.py: the gate's own verification), refuses
runs of different builds unless told otherwise, then `compare_runs` (pure) builds one Table per
split × reading that every run scored. A table reads only the items every run scored (by id):
for runs of one build that is every item; for runs of different builds (allowed) the items
they share, with how many each run scored besides. On those items, each pair of runs gets an
exact McNemar test (the discordant items: right in one run, wrong in the other), and the
p-values of one table are Holm-adjusted together, since a table of k runs holds k(k−1)/2 tests.

Sweep trials (runs/sweep-…/trial-…/) are compared on the dev split they were scored on
(`on="dev"`: each trial's eval/dev.json), the same tables and tests; by default when every
folder given is a trial, else on the test splits (`on="test"`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import UsageError
from ..names import ARMS, DEV_SPLIT, READINGS, SCORED_SPLITS
from ..release.verdict import BuildRef
from .load import ON, LoadedRun, is_trial, load_runs
from .stats import discordant, holm, mcnemar_exact, wilson_interval

ALPHA = 0.05  # a pair differs "significantly" when its Holm-adjusted p is below this
MIN_RUNS = 2


@dataclass(frozen=True)
class RunInfo:
    """One run's facts beside its scores: where it is, what it was trained on, how long it took."""

    label: str
    path: str
    run_id: str
    build: BuildRef
    model: str
    adapter_sha256: str
    train_wall_s: float
    eval_wall_s: float  # the compared arm's evaluation
    tokens_per_s: float | None  # training throughput; None when the run does not record it
    drift: float | None  # test_general, nats/token; None when not measured
    drift_stderr: float | None
    collapsed: int | None
    general_n: int | None


@dataclass(frozen=True)
class RecipeDiff:
    """A training setting whose value is not the same in every run: its values in run order
    (JSON values as run.json holds them; None where a run does not record the setting)."""

    setting: str
    values: tuple[object, ...]


@dataclass(frozen=True)
class RunScore:
    """One run's accuracy on the items of a table (those every run scored)."""

    label: str
    correct: int
    n: int
    acc: float  # nan when n = 0
    wilson_low: float
    wilson_high: float
    scored: int  # items this run scored in this split and reading; scored − n were left out

    @property
    def left_out(self) -> int:
        return self.scored - self.n


@dataclass(frozen=True)
class PairTest:
    """Exact McNemar test of two runs on the items they both scored."""

    a: str
    b: str
    n: int
    only_a: int  # items a got right and b wrong
    only_b: int
    delta: float  # accuracy of b − accuracy of a, on these items: (only_b − only_a) / n
    p: float  # two-sided exact
    p_holm: float  # Holm-adjusted over every test of the table

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA


@dataclass(frozen=True)
class Table:
    """One split × reading: each run's accuracy on the shared items, and every pair's test."""

    split: str
    reading: str
    shared: int
    rows: tuple[RunScore, ...]
    tests: tuple[PairTest, ...]


@dataclass(frozen=True)
class ComparisonResult:
    arm: str
    runs: tuple[RunInfo, ...]
    same_build: bool
    recipe: tuple[RecipeDiff, ...]  # only the settings that differ
    tables: tuple[Table, ...]
    unshared: tuple[str, ...]  # split × reading that not every run scored, so not compared
    on: str = "test"  # the scores compared: "test" (eval/<arm>.json) or "dev" (sweep trials' eval/dev.json)


def compare(paths: Sequence[Path], arm: str = "tuned", allow_different_builds: bool = False,
            on: str | None = None) -> ComparisonResult:
    """Run folders (two or more) + the arm to compare + which scores (None: "dev" when every
    folder is a sweep trial, else "test") → ComparisonResult. Reads; scores nothing.

    UsageError (2): fewer than two runs, an unknown arm, a path that is not a run, runs of
    different builds without `allow_different_builds`, an arm other than tuned on dev;
    EvalIncomplete (3): a run unfinished or unverifiable (load.py)."""
    if len(paths) < MIN_RUNS:
        got = "none" if not paths else f"only {paths[0]}"
        raise UsageError(f"compare needs two or more run folders; got {got}: syllabus compare runs/<a> runs/<b> …")
    if arm not in ARMS:
        raise UsageError(f"--arm {arm!r}: give one of {', '.join(ARMS)}")
    on = on or ("dev" if all(is_trial(p) for p in paths) else "test")
    if on not in ON:
        raise UsageError(f"--on {on!r}: give one of {', '.join(ON)}")
    if on == "dev" and arm != "tuned":
        raise UsageError(f"--arm {arm} --on dev: a sweep scores only the tuned model (each trial's adapter) on "
                         f"{DEV_SPLIT}; compare the tuned arm, or the {arm} arm on the test splits (--on test)")
    runs = load_runs(paths, arm, on)
    same = len({r.build.sha256 for r in runs}) == 1
    if not same and not allow_different_builds:
        lines = "\n".join(f"  {r.label}: build {r.build.name}, manifest sha256 {r.build.sha256[:12]}" for r in runs)
        raise UsageError("the runs were scored on different builds, so their items and scores are not the same "
                         f"exam:\n{lines}\ncompare runs of one build, or pass --allow-different-builds to compare "
                         "only the items they share by id")
    return compare_runs(runs, arm, on)


def compare_runs(runs: Sequence[LoadedRun], arm: str, on: str = "test") -> ComparisonResult:
    """Verified runs (their arm read as `on` says) → ComparisonResult. Pure."""
    keys = {(s.split, s.reading) for r in runs for s in r.arm.scores}
    common = [k for k in keys if all(r.arm.score(*k) is not None for r in runs)]
    tables = tuple(_table(runs, split, reading) for split, reading in _order(common))
    unshared = tuple(
        f"{split} ({reading}): scored by {', '.join(r.label for r in runs if r.arm.score(split, reading) is not None)} only"
        for split, reading in _order(keys - set(common))
    )
    return ComparisonResult(arm, tuple(_info(r) for r in runs), len({r.build.sha256 for r in runs}) == 1,
                            recipe_differences(runs), tables, unshared, on)


def _order(keys) -> list[tuple[str, str]]:
    """(split, reading) keys → report order (names.SCORED_SPLITS × READINGS), then any other sorted."""
    keys = set(keys)
    known = [(s, r) for s in (*SCORED_SPLITS, DEV_SPLIT) for r in READINGS if (s, r) in keys]
    return known + sorted(keys - set(known))


def _table(runs: Sequence[LoadedRun], split: str, reading: str) -> Table:
    correct: list[Mapping[str, bool]] = []
    for r in runs:
        score = r.arm.score(split, reading)
        assert score is not None  # only keys every run scored reach here
        correct.append(score.correct_by_id())
    shared = sorted(set.intersection(*(set(c) for c in correct)))
    n = len(shared)
    rows = []
    for r, c in zip(runs, correct):
        k = sum(c[i] for i in shared)
        lo, hi = wilson_interval(k, n)
        rows.append(RunScore(r.label, k, n, k / n if n else math.nan, lo, hi, len(c)))
    raw = []
    for i, j in combinations(range(len(runs)) if n else (), 2):  # nothing shared: nothing to test
        only_a, only_b = discordant(correct[i], correct[j], shared)
        raw.append((runs[i].label, runs[j].label, only_a, only_b, mcnemar_exact(only_a, only_b)))
    adjusted = holm([t[4] for t in raw])
    tests = tuple(PairTest(a, b, n, oa, ob, (ob - oa) / n, p, ph) for (a, b, oa, ob, p), ph in zip(raw, adjusted))
    return Table(split, reading, n, tuple(rows), tests)


def _info(r: LoadedRun) -> RunInfo:
    done = r.record.outcome
    assert done is not None  # verify_run passes only complete runs, and a complete run has its outcome
    d = r.drift
    return RunInfo(
        label=r.label, path=str(r.path), run_id=r.record.run_id, build=r.build, model=r.record.model.name,
        adapter_sha256=r.adapter_sha256, train_wall_s=done.wall_s, eval_wall_s=r.arm.wall_s,
        tokens_per_s=done.tokens_per_s if done.tokens_per_s > 0 else None,
        drift=d.drift if d else None, drift_stderr=d.drift_stderr if d else None,
        collapsed=d.collapsed if d else None, general_n=d.n if d else None,
    )


def recipe_differences(runs: Sequence[LoadedRun]) -> tuple[RecipeDiff, ...]:
    """Runs → the recipe entries whose values are not all equal: the train settings run.json
    records (in the order it records them), then the device it ran on, the base weights' sha256
    and precision, and the package versions ("version.torch")."""
    recipes = [_recipe(r) for r in runs]
    names: dict[str, None] = {}  # ordered set: first run's order, then what later runs add
    for recipe in recipes:
        names.update(dict.fromkeys(recipe))
    out = []
    for name in names:
        values = tuple(recipe.get(name) for recipe in recipes)
        if any(v != values[0] for v in values[1:]):
            out.append(RecipeDiff(name, values))
    return tuple(out)


def _recipe(r: LoadedRun) -> dict[str, object]:
    rec = r.record
    recipe: dict[str, object] = {k: v for k, v in rec.settings.items() if k != "device"}
    recipe["device"] = rec.device  # what it ran on; settings' device is the request (None: auto)
    recipe["model_sha256"] = rec.model.sha256
    recipe["precision"] = rec.model.precision
    recipe.update({f"version.{k}": v for k, v in sorted(rec.versions.items())})
    return recipe
