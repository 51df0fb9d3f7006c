"""A build or a run folder → DEST, a clean folder the Hugging Face Hub takes as it is: `export`.

  a build (manifest.json)  → DEST/README.md (the dataset card, whose `configs:` name the splits),
                             DEST/data/ (each split as .jsonl and .parquet) and DEST/tasks/ (the
                             lm-eval tasks, which read ../data/): `load_dataset(DEST)` gives the splits
  a run (run.json)         → the adapter folder's files at DEST's top: the LoRA weights, its config
                             (naming a base that loads elsewhere), the tokenizer, the model card;
                             with --merged also DEST/merged/: the base with the adapter merged in

The source is verified first, and its bytes are what is copied: every build file must match the
sha256 its manifest records (integrity.build_problems), a run must be complete and its adapter
match run.json's adapter_sha256; otherwise EvalIncomplete (3) naming each mismatch. DEST must be
new or an empty folder (UsageError, 2, otherwise: nothing there is ever deleted). The files are
written into a temp folder beside DEST, renamed into place when whole: an export that fails
leaves no DEST (and removes only its own temp folder).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..errors import EvalIncomplete, UsageError
from ..integrity import adapter_sha256, build_problems, is_sha256
from .push import check_push, push_folder

if TYPE_CHECKING:  # pragma: no cover
    from ..training.record import RunRecord

Kind = Literal["build", "run"]
# What of a build a dataset repo holds: its card, the rows, the lm-eval tasks that read them.
_CARD, _BUILD_FOLDERS = "README.md", ("data/", "tasks/")


@dataclass(frozen=True)
class ExportResult:
    """What `export` wrote: the kind of source, DEST, its files (relative, sorted), what a user
    should know (notes), and the pushed commit's URL (None without --push)."""

    kind: Kind
    source: Path
    dest: Path
    files: tuple[str, ...]
    notes: tuple[str, ...] = ()
    pushed: str | None = None

    def to_json(self) -> dict:
        """→ the `syllabus.export/1` document (`syllabus export --format json`)."""
        return {"schema": "syllabus.export/1", "exit_code": 0, "kind": self.kind, "source": str(self.source),
                "dest": str(self.dest), "files": list(self.files), "notes": list(self.notes), "pushed": self.pushed}

    def render(self) -> str:
        what = "dataset" if self.kind == "build" else "adapter"
        lines = [f"exported the {what} of {self.source} to {self.dest} ({len(self.files)} files)"]
        lines += [f"note: {n}" for n in self.notes]
        if self.pushed:
            lines.append(f"pushed: {self.pushed}")
        return "\n".join(lines)


def source_kind(source: Path) -> Kind:
    """A folder → 'build' (it has manifest.json) or 'run' (run.json); UsageError otherwise."""
    source = Path(source)
    if not source.is_dir():
        raise UsageError(f"{source}: no such folder; pass a build (build/<name>) or a run (runs/<id>)")
    if (source / "manifest.json").is_file():
        return "build"
    if (source / "run.json").is_file():
        return "run"
    if (source / "adapter_config.json").is_file() and (source.parent / "run.json").is_file():
        raise UsageError(f"{source}: an adapter folder; pass its run, {source.parent}, which records its sha256")
    raise UsageError(f"{source}: neither a build (no manifest.json) nor a run (no run.json); pass build/<name> "
                     "or runs/<id>")


def check_dest(dest: Path, source: Path) -> None:
    """DEST → None when export may write it: it does not exist, or is an empty folder, and is
    not inside the source; UsageError (2) otherwise."""
    dest, source = Path(dest), Path(source)
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest}: a file is there; pass a new folder as DEST")
    if dest.is_dir() and any(dest.iterdir()):
        raise UsageError(f"{dest}: exists and is not empty; export writes a new folder and never deletes what is "
                         "there: pass a new or empty DEST")
    if dest.resolve().is_relative_to(source.resolve()):
        raise UsageError(f"{dest}: inside {source}, the folder being exported; pass a DEST outside it")


def _build_files(source: Path) -> tuple[list[str], list[str]]:
    """A build → (the files a dataset repo holds, notes), once every build file matches its manifest."""
    from ..build.read import read_manifest

    manifest = read_manifest(source)
    problems = build_problems(source, manifest.files, manifest.spec_sha256)
    if problems:
        raise EvalIncomplete(f"{source}: the build is not what was compiled, so it is not exported:\n"
                             + "\n".join(f"  {p}" for p in problems) + "\nrecompile the spec, then export again")
    files = sorted(rel for rel in manifest.files if rel == _CARD or rel.startswith(_BUILD_FOLDERS))
    notes = [] if _CARD in files else [
        "the build has no dataset card (README.md): recompile it with this syllabus to get one; without it "
        "load_dataset guesses the splits from the file names"]
    return files, notes


def _run_files(source: Path) -> tuple[list[str], list[str], "RunRecord"]:
    """A run → (its adapter folder's files, relative to the run, notes, its RunRecord), once the run
    is complete and its adapter is the one run.json records."""
    from ..training.record import read_record

    record = read_record(source, "re-run `syllabus train`")
    if record.status != "complete":
        raise EvalIncomplete(f"{source}: training did not finish (status {record.status!r}); there is no adapter "
                             f"to export: continue it with `syllabus train BUILD --resume {source}`")
    adapter = source / "adapter"
    recorded = record.adapter_sha256
    if not adapter.is_dir() or not is_sha256(recorded):
        raise EvalIncomplete(f"{source}: no adapter folder, or run.json records no adapter sha256; re-run `syllabus train`")
    got = adapter_sha256(adapter)
    if got != recorded:
        raise EvalIncomplete(f"{adapter}: sha256 {got[:12]} is not the {recorded[:12]} run.json records: the adapter "
                             "was altered after training, so it is not exported; re-run `syllabus train`")
    files = sorted(p.relative_to(source).as_posix() for p in adapter.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts)
    notes = []
    if record.base is None:
        notes.append("this run was trained before syllabus saved portable adapters: adapter_config.json names "
                     "the base as the training machine had it, and no tokenizer is saved; train again to fix both")
    if not (source / "verdict.json").is_file():
        notes.append(f"not yet gated: its card claims no score; run `syllabus gate {source}` before publishing it")
    return files, notes, record


def export(source: Path, dest: Path, *, merged: bool = False, push: str | None = None) -> ExportResult:
    """BUILD or RUN + DEST (+ --merged for a run, + --push REPO) → ExportResult, DEST written as
    the module says; UsageError (2) for a bad source, DEST or REPO, EvalIncomplete (3) for a source
    that does not verify, push.PushFailed (3) when the upload fails (DEST is kept)."""
    source, dest = Path(source), Path(dest)
    kind = source_kind(source)
    if merged and kind == "build":
        raise UsageError("--merged merges an adapter into its base model: pass a run (runs/<id>), not a build")
    check_dest(dest, source)
    if push is not None:
        check_push(push)  # before the copy (and a merge of minutes) rather than after
    record = None
    if kind == "build":
        files, notes = _build_files(source)
    else:
        files, notes, record = _run_files(source)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.export-{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # only ever a temp folder of ours, by its name and pid
    written: list[str] = []
    try:
        for rel in files:
            # a run's files sit at DEST's top: "adapter/x" → "x"
            out = rel if kind == "build" else Path(rel).relative_to("adapter").as_posix()
            (tmp / out).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / rel, tmp / out)
            written.append(out)
        if merged:
            from ..training.portable import merge_adapter

            merge_adapter(source / "adapter", record.model.name, tmp / "merged", want_sha256=record.model.sha256)
            written += sorted(p.relative_to(tmp).as_posix() for p in (tmp / "merged").rglob("*") if p.is_file())
        if dest.is_dir():
            dest.rmdir()  # empty (checked above); rmdir refuses if anything appeared since
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = ExportResult(kind, source, dest, tuple(sorted(written)), tuple(notes))
    if push is not None:
        result = replace(result, pushed=push_folder(dest, push, kind))
    return result
