"""A run folder → a VerifiedRun: its run.json record, its build and its adapter's sha256, once
every byte the scores depend on is what run.json says it is. The gate verifies before it trusts.

run.json names the build (its manifest's sha256) and the adapter (integrity.adapter_sha256):
every build file must match the manifest and the adapter folder its hash. Anything it cannot
verify → EvalIncomplete (3) with the reason; a file that is not what it should be (not JSON,
the wrong shape, a folder) → UsageError (2) naming it; not a folder, or a run.json without its
build → UsageError (2); no eval/ or no run.json → EvalIncomplete (3).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..build.read import Build, Manifest, read_build, read_manifest
from ..errors import EvalIncomplete, UsageError
from ..integrity import adapter_sha256, build_problems, is_sha256, read_json
from ..training.record import RunRecord, parse_record


@dataclass(frozen=True)
class VerifiedRun:
    """A finished run whose build and adapter match run.json: what its eval/ files may be judged against."""

    run_dir: Path
    record: RunRecord
    build: Build
    adapter_sha256: str


def verify_run(run_dir: Path) -> VerifiedRun:
    """runs/<id>/ → VerifiedRun; EvalIncomplete (3) or UsageError (2) as the module says."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: not a run folder (no such directory); pass the runs/<id>/ that `syllabus train` printed")
    if not (run_dir / "eval").is_dir():
        raise EvalIncomplete(f"{run_dir}: no eval/ folder, the run was never evaluated; run `syllabus eval BUILD --adapter {run_dir / 'adapter'}` first")
    run_json = run_dir / "run.json"
    if not run_json.exists():
        raise EvalIncomplete(f"{run_json}: missing, so training did not finish; re-run `syllabus train` (or `--resume {run_dir}`)")
    doc = read_json(run_json, "re-run `syllabus train`")
    if doc.get("status") != "complete":  # interrupted, failed, still running, or not written by train
        raise EvalIncomplete(f"{run_json}: status is {doc.get('status')!r}, not 'complete': training did not finish; "
                             f"continue it with `syllabus train BUILD --resume {run_dir}`")
    record = parse_record(doc, run_json, "re-run `syllabus train`")  # a finished run: every field typed, or exit 2
    if record.build_path is None:
        raise UsageError(f"{run_json}: does not say where its build is (build_path); re-run `syllabus train`")
    build_path, want_sha = Path(record.build_path), record.build_sha256
    if not build_path.is_absolute() and not build_path.exists() and (run_dir / build_path).exists():
        build_path = run_dir / build_path  # a path written relative to the run folder
    manifest = read_manifest(build_path)
    if manifest.sha256 != want_sha:
        raise UsageError(
            f"{build_path}: the build changed after this run was trained (manifest sha256 {manifest.sha256[:12]}, "
            f"run.json says {want_sha[:12]}); recompile the spec the run used, or train and evaluate again"
        )
    adapter_sha = _verify_bytes(run_dir, build_path, manifest, record)  # before any file it vouches for is read
    return VerifiedRun(run_dir, record, read_build(build_path), adapter_sha)


def _verify_bytes(run_dir: Path, build_path: Path, manifest: Manifest, record: RunRecord) -> str:
    """A finished run, its build's manifest (pinned by run.json) and run.json → the adapter's
    sha256, once every build file matches the manifest and the adapter folder matches run.json;
    EvalIncomplete (3) naming every mismatch otherwise: the scores were not of these bytes."""
    problems = build_problems(build_path, manifest.files, manifest.spec_sha256)
    if problems:
        raise EvalIncomplete(f"{build_path}: the build is not what was compiled, so its scores cannot be trusted:\n"
                             + "\n".join(f"  {p}" for p in problems)
                             + "\nrecompile the spec, then train and evaluate again")
    recorded = record.adapter_sha256
    if not is_sha256(recorded):
        raise EvalIncomplete(f"{run_dir / 'run.json'}: does not record the adapter's sha256 (adapter_sha256 is "
                             f"{recorded!r}); re-run `syllabus train`")
    adapter = run_dir / "adapter"
    if not adapter.is_dir():
        raise EvalIncomplete(f"{adapter}: missing, so no score can be traced to the adapter run.json records; "
                             "re-run `syllabus train`")
    got = adapter_sha256(adapter)
    if got != recorded:
        raise EvalIncomplete(f"{adapter}: sha256 {got[:12]} is not the {recorded[:12]} run.json records: the adapter "
                             "was altered after training; re-run `syllabus train` and `syllabus eval`")
    return got
