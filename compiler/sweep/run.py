"""A sweep, start to end: spec → build → trials on dev (resumable) → the choice → one exam → report.

runs/sweep-<name>-<id>/ holds sweep.json (the sweep's record), report.md, and one folder
per trial (trial-NN-<key>/: trial.json, the training run: run.json, adapter/, and its dev
scoring eval/dev.json). The id hashes the build, every trial's train: section and the
objective, so running the same command again continues the same sweep: a trial whose
trial.json says "done" is not run again, one that was cut short is removed (its folder is the
sweep's own) and run again, one another live process is running is refused.
The exam (the chosen trial on the test splits, then the gate) runs once; sweep.json
records it, and a sweep run again after it reports it without reading the test splits again.
A worker (`--worker I/N`, or a process of torchrun / accelerate launch: workers.py) runs its
share of the trials into the same folder and stops; it writes no sweep.json, chooses nothing.
A spec without splits.dev is swept on a build with the default dev share (building.py).
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from ..errors import SweepInterrupted, UsageError
from ..integrity import read_json, write_json
from ..records import stable_hash
from .grid import Trial
from .guard import ExamGuard
from .objective import Goal, choose
from .record import SWEEP_FILE, TRIAL_FILE, ExamOutcome, Lab, SweepOutcome, TrialRecord, WorkerOutcome, write_report
from .workers import Shard, alive, owner

if TYPE_CHECKING:  # pragma: no cover
    from ..spec.loader import LoadedSpec

def sweep_id(build_sha256: str, trials: Sequence[Trial], goal: Goal) -> str:
    """The sweep's identity: the same build, trials and objective → the same folder (resume)."""
    recipes = json.dumps([t.train.model_dump(mode="json") for t in trials], sort_keys=True)
    return stable_hash(build_sha256, recipes, goal.describe())[:10]


def _claim(root: Path, ident: str, trials: Sequence[Trial]) -> dict:
    """The sweep folder → its record so far ({} when new, or when only workers' trial folders are
    in it); UsageError for a folder this sweep did not write. Made race-free: workers start at once."""
    record = root / SWEEP_FILE
    if record.is_file():
        doc = read_json(record, "remove the folder to start the sweep again")
        if doc.get("sweep_id") != ident:
            raise UsageError(f"{root}: holds another sweep ({doc.get('sweep_id')}); give another --out")
        return doc
    ours = {t.folder for t in trials} | {"report.md"}  # the trial folders' names hash their recipes
    if root.exists() and (not root.is_dir() or any(p.name not in ours for p in root.iterdir())):
        raise UsageError(f"{root}: exists and is not a sweep folder; give another --out (a sweep never deletes "
                         "what it did not write)")
    root.mkdir(parents=True, exist_ok=True)
    return {}


def _metrics_text(metrics: dict[str, float]) -> str:
    return " ".join(f"{k} {v:.3f}" for k, v in metrics.items() if not math.isnan(v))


def search(trials: Sequence[Trial], root: Path, lab: Lab, guard: ExamGuard,
           echo: Callable[[str], None], total: int | None = None) -> list[TrialRecord]:
    """Trials (every one, or a worker's share of `total`), in order, scored on dev → their
    records; a trial done earlier (trial.json "done", the same key) is read back, not run; one
    that a live process is running (another worker) is refused. One progress line per trial."""
    out = []
    for t in trials:
        folder, head = root / t.folder, f"[trial {t.index}/{total or len(trials)}] {t.label}"
        found = TrialRecord.read(folder / TRIAL_FILE) if folder.exists() else None
        if found is not None and found.status == "done" and found.key == t.key:
            echo(f"{head}: done earlier: {_metrics_text(found.metrics)}")
            out.append(found)
            continue
        if found is not None and found.status == "running" and found.owner and alive(found.owner):
            raise UsageError(f"{folder}: trial {t.index} is being run by another process ({found.owner}); wait for "
                             "the sweep's workers to finish, then run the sweep again (if that process is gone, "
                             "remove the folder)")
        if folder.exists():
            if found is None:  # a folder the sweep did not start: trial.json is always written first
                raise UsageError(f"{folder}: not a trial folder of this sweep (no readable {TRIAL_FILE}); move it away")
            shutil.rmtree(folder)  # cut short or failed: its own folder, run again from the start
        try:
            folder.mkdir()  # exclusive: two processes never run one trial
        except FileExistsError:
            raise UsageError(f"{folder}: another process started trial {t.index} this instant; give each worker "
                             "its own --worker I/N") from None
        start = time.perf_counter()
        running = TrialRecord(t.index, t.key, t.label, "running", owner=owner())
        write_json(folder / TRIAL_FILE, asdict(running))
        try:
            metrics = lab.trial(t, folder, guard)
        except BaseException as exc:
            write_json(folder / TRIAL_FILE, asdict(TrialRecord(t.index, t.key, t.label, "failed",
                                                               wall_s=time.perf_counter() - start,
                                                               error=f"{type(exc).__name__}: {exc}")))
            # train_lora turns Ctrl-C / SIGTERM into its own exit 130, whose hint (train --resume) is not the sweep's
            if isinstance(exc, KeyboardInterrupt) or getattr(exc, "exit_code", None) == 130:
                raise SweepInterrupted(f"sweep interrupted during trial {t.index} of {total or len(trials)}; run the "
                                       f"same command again to continue ({len(out)} finished trials are kept)") from None
            raise
        done = TrialRecord(t.index, t.key, t.label, "done", dict(metrics), round(time.perf_counter() - start, 1))
        write_json(folder / TRIAL_FILE, asdict(done))
        echo(f"{head}: {_metrics_text(done.metrics)} ({done.wall_s:.0f} s)")
        out.append(done)
    return out


def run_worker(trials: Sequence[Trial], root: Path, lab: Lab, ident: str, shard: Shard, *,
               echo: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
               guard: ExamGuard | None = None) -> WorkerOutcome:
    """Every trial + the sweep folder + a lab + this worker's Shard → WorkerOutcome: its share of
    the trials scored on dev (the guard refuses anything else) into their folders; no sweep.json,
    no choice, no exam (the chooser's: run_sweep)."""
    _claim(root, ident, trials)
    mine = shard.take(trials)
    echo(f"worker {shard}: trials {', '.join(str(t.index) for t in mine) or 'none'} of {len(trials)}")
    records = search(mine, root, lab, guard or ExamGuard(), echo, total=len(trials))
    return WorkerOutcome(root, shard, tuple(records), len(trials))


def run_sweep(trials: Sequence[Trial], goal: Goal, root: Path, lab: Lab, ident: str, *,
              echo: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
              guard: ExamGuard | None = None, about: dict | None = None) -> SweepOutcome:
    """Trials + objective + the sweep folder + a lab → SweepOutcome; writes sweep.json and
    report.md. The search reads dev only (the guard refuses anything else); the chosen trial
    alone is examined on the test splits, once. Trials workers finished are read back."""

    started = time.perf_counter()
    guard = guard or ExamGuard()
    record = _claim(root, ident, trials)
    base = {"sweep_id": ident, "objective": goal.describe(), **(about or {}),
            "trials": [{"index": t.index, "folder": t.folder, "params": dict(t.params)} for t in trials]}
    write_json(root / SWEEP_FILE, {**record, **base, "status": "searching"})
    records = search(trials, root, lab, guard, echo)
    chosen = choose(goal, [r.metrics for r in records])
    pick = trials[chosen]
    echo(f"chosen: trial {pick.index} ({pick.label}), {goal.metric} {records[chosen].metrics[goal.metric]:.3f}; "
         "now the test splits, for this trial only")
    exam_doc = record.get("exam") or {}
    runs = int(exam_doc.get("runs", 0))
    if exam_doc.get("status") == "done" and exam_doc.get("trial") == pick.folder:
        exam = ExamOutcome(pick.folder, int(exam_doc["exit_code"]), str(exam_doc["verdict"]),
                           tuple(tuple(s) for s in exam_doc["scores"]))  # type: ignore[misc]
        echo(f"exam: done earlier ({exam.status}); the test splits are not read again")
    else:
        runs += 1
        write_json(root / SWEEP_FILE, {**base, "status": "exam", "chosen": pick.folder,
                                       "exam": {"trial": pick.folder, "status": "running", "runs": runs}})
        exam = lab.exam(pick, root / pick.folder, guard)
    doc = {**base, "status": "done", "chosen": pick.folder,
           "exam": {"trial": pick.folder, "status": "done", "runs": runs, "exit_code": exam.exit_code,
                    "verdict": exam.status, "scores": [list(s) for s in exam.scores]},
           "results": [asdict(r) for r in records]}
    write_json(root / SWEEP_FILE, doc)
    outcome = SweepOutcome(root, tuple(records), tuple(t.label for t in trials), goal, chosen, exam, runs,
                           time.perf_counter() - started)
    write_report(outcome)
    return outcome


def sweep(spec_path: Path, grid: Sequence[str], compile_: "Callable[[LoadedSpec, Path], Path]", *,
          runs_root: Path = Path("runs"), out: Path | None = None, device: str | None = None,
          lab_factory: Callable | None = None, worker: Shard | None = None, build_root: Path = Path("build"),
          echo: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)) -> SweepOutcome | WorkerOutcome:
    """spec (+ --grid NAME=V1,V2 …), the compile step (pipeline.compile_spec: the loaded spec and
    an --out → the build folder) → SweepOutcome: run the trials on dev in one process with one
    model load, examine the chosen one on the test splits and gate it. With `worker` (or under a
    launcher: workers.launched) → WorkerOutcome: that worker's trials only. A spec without
    splits.dev is swept on a build with the default dev share (building.py). Bad grids,
    parameters and objectives fail before the compile."""
    from ..build.read import read_build
    from ..names import DEV_SPLIT
    from ..spec.loader import load_spec
    from .building import shared_build, sweep_spec
    from .grid import trials as make_trials
    from .objective import check_dev_size, resolve
    from .workers import launched, standalone

    loaded = load_spec(spec_path)
    spec = loaded.spec
    recipe = make_trials(loaded, grid)  # bad grids, parameters and objectives fail before the compile
    goal = resolve(spec.sweep.objective if spec.sweep else None, spec, loaded.locate, str(spec_path))
    shard = worker or launched()
    if shard is not None:
        standalone()  # under a launcher: train alone on this process's GPU, not in DDP with the others
    target = sweep_spec(loaded, build_root)
    if target.carved:
        echo(f"the spec sets no splits.{DEV_SPLIT}: the sweep's build takes {DEV_SPLIT} {target.dev_share:g} of the "
             f"train-side families → {target.out} (the spec's own build/{spec.name} is left as it is)")
    build = read_build(shared_build(target, spec_path, compile_))
    n_dev = build.manifest.counts.get(DEV_SPLIT, 0)
    check_dev_size(n_dev, loaded.locate, str(spec_path))
    ident = sweep_id(build.manifest.sha256, recipe, goal)
    root = Path(out) if out is not None else Path(runs_root) / f"sweep-{spec.name}-{ident}"
    echo(f"sweep {root}: {len(recipe)} trials on {DEV_SPLIT} ({n_dev} items), {goal.describe()}")
    if lab_factory is None:
        from .lab import LiveLab as lab_factory  # noqa: N813
    lab = lab_factory(build, device)
    if shard is not None:
        return run_worker(recipe, root, lab, ident, shard, echo=echo)
    about = {"spec": str(spec_path), "build": str(build.path), "build_sha256": build.manifest.sha256,
             "dev_items": n_dev, "dev_share": target.dev_share, "dev_carved": target.carved}
    return run_sweep(recipe, goal, root, lab, ident, echo=echo, about=about)
