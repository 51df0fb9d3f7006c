"""Run folders → LoadedRuns: each one verified the way the gate verifies it (release/verify.py:
training finished, the build and the adapter are the bytes run.json records) and its scores
checked the way the gate checks them (release/checks.Checker: the arm finished, on this build,
with this adapter, every figure given by its per-item records), before any is compared.

On the dev split (`on="dev"`: sweep trials), the arm read is the trial's eval/dev.json (the
tuned model on dev, sweep/record.DEV_FILE), checked the same way: finished, on the run's build,
naming the adapter run.json records, every figure given by its per-item records.

A path that is not a run folder → UsageError (2); a run that is unfinished or unverifiable →
EvalIncomplete (3) naming the run and the reason; a malformed file → UsageError (2) naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, get_args

from ..errors import EvalIncomplete, UsageError
from ..evaluation.results import ArmResult, DriftScore, read_arm, read_drift
from ..names import DEV_SPLIT, GeneralSplit
from ..release.checks import Checker
from ..release.verdict import BuildRef
from ..release.verify import verify_run
from ..sweep.record import DEV_FILE, TRIAL_FILE
from ..training.record import RunRecord

ON = ("test", "dev")  # which scores a comparison reads: the eval/<arm>.json files, or a trial's eval/dev.json
GENERAL_SPLIT: str = get_args(GeneralSplit)[0]  # test_general: the held-out general prompts drift is measured on


@dataclass(frozen=True)
class LoadedRun:
    """One finished, verified run as a comparison reads it: its record, its build, the arm
    compared (every score usable) and its general drift when it was measured."""

    path: Path  # as given
    label: str  # unique among the runs compared: the folder's name, or the path when names repeat
    record: RunRecord
    build: BuildRef
    adapter_sha256: str
    arm: ArmResult
    drift: DriftScore | None  # test_general, when eval/general.json exists


def is_trial(path: Path) -> bool:
    """Whether a folder is a sweep's trial (it holds trial.json)."""
    return (Path(path) / TRIAL_FILE).is_file()


def load_runs(paths: Sequence[Path], arm: str = "tuned", on: str = "test") -> tuple[LoadedRun, ...]:
    """Run folders (in the order given) + the arm to compare + which scores ('test' | 'dev') →
    LoadedRuns with unique labels; UsageError when a run is given twice."""
    seen: dict[Path, Path] = {}
    for p in paths:
        key = Path(p).resolve()
        if key in seen:
            raise UsageError(f"{p}: the same run as {seen[key]}; give each run once")
        seen[key] = Path(p)
    names = [Path(p).resolve().name for p in paths]
    labels = [n if names.count(n) == 1 else str(p) for n, p in zip(names, paths)]
    return tuple(load_run(Path(p), arm, label, on) for p, label in zip(paths, labels))


def load_run(path: Path, arm: str, label: str, on: str = "test") -> LoadedRun:
    """runs/<id>/ (or a sweep's trial folder) → LoadedRun; UsageError (2) or EvalIncomplete (3)
    as the module says."""
    path = Path(path)
    if path.is_dir() and not any((path / n).exists() for n in ("run.json", "eval", "adapter")):
        raise UsageError(f"{path}: not a run folder (no run.json, eval/ or adapter/); "
                         "pass the runs/<id>/ folders that `syllabus train` printed")
    run = verify_run(path)  # training finished, the build and adapter are what run.json records
    build = BuildRef(run.build.manifest.name, run.build.manifest.sha256)
    if on == "dev":
        return _load_dev(path, label, run, build)
    arm_file = path / "eval" / f"{arm}.json"
    if not arm_file.exists():
        raise EvalIncomplete(f"{arm_file}: missing, so the {arm} arm was never scored; "
                             f"run `syllabus eval {run.build.path} --adapter {path / 'adapter'}` first")
    result = read_arm(arm_file)
    general_file = path / "eval" / "general.json"
    general = read_drift(general_file) if general_file.exists() else None
    checker = Checker({arm: result}, build, general, run.adapter_sha256)
    if arm in checker.unusable:
        raise EvalIncomplete(f"{path}: {checker.unusable[arm]}; re-run `syllabus eval` on this run")
    for s in result.scores:
        _, why = checker.score(arm, s.split, s.reading)
        if why is not None:
            raise EvalIncomplete(f"{path}: {why}; re-run `syllabus eval` on this run")
    drift = None
    if general is not None:
        drift, why = checker.drift(GENERAL_SPLIT)
        if why is not None:
            raise EvalIncomplete(f"{path}: {why}; re-run `syllabus eval` with the adapter")
    return LoadedRun(path, label, run.record, build, run.adapter_sha256, result, drift)


def _load_dev(path: Path, label: str, run, build: BuildRef) -> LoadedRun:
    """A verified trial → LoadedRun of its dev scoring (eval/dev.json: the tuned arm on dev)."""
    dev_file, anew = path / DEV_FILE, f"remove {path} and run the sweep again to train and score it anew"
    if not dev_file.exists():
        what = (f"a trial whose dev scoring was not recorded; {anew}" if is_trial(path)
                else "not a sweep trial: only a trial (runs/sweep-…/trial-…/) is scored on dev; compare runs "
                     "on their test splits with --on test")
        raise EvalIncomplete(f"{dev_file}: missing, so {path} has no dev scores ({what})")
    result = read_arm(dev_file)
    checker = Checker({"tuned": result}, build, None, run.adapter_sha256)
    if "tuned" in checker.unusable:
        raise EvalIncomplete(f"{path}: {DEV_FILE}: {checker.unusable['tuned']}; {anew}")
    for s in result.scores:
        if s.split != DEV_SPLIT:
            raise EvalIncomplete(f"{dev_file}: holds a score of {s.split}, not of the {DEV_SPLIT} split alone; {anew}")
        _, why = checker.score("tuned", s.split, s.reading)
        if why is not None:
            raise EvalIncomplete(f"{path}: {DEV_FILE}: {why}; {anew}")
    return LoadedRun(path, label, run.record, build, run.adapter_sha256, result, None)
