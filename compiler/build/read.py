"""Reading a build back: build/<name>/ → `Build` (manifest + resolved spec) and splits.

The writer is `build/write.py`; every later stage (diff, train, evaluate, gate) reads
through here, so the on-disk format is known in two places only.

Layout of a build:
  manifest.json          name, spec sha256, seed, versions, counts, tasks, audit summary, sha256 of every file
  spec.json              the resolved spec (defaults filled in): train/eval/gate settings live here
  spec.yaml              the spec source as the user wrote it
  leakage.json           the full audit report
  data/<split>.jsonl     one row per example (see rows.py, the one row codec); also .parquet
  data/train_sample.jsonl  the scored sample of train (memorization)
  data/train_general.jsonl general prompts whose replies become retain lessons at train time (retain.general)
  data/test_general.jsonl  held-out general prompts, scored as drift from the base model's replies
  tasks/                 lm-eval tasks: `lm_eval --include_path build/<name>/tasks`
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, TypeVar

from ..compilation.audit import AuditReport
from ..errors import UsageError
from ..integrity import json_kind, read_json, read_json_bytes, what_is_wrong
from ..names import GENERAL_SPLITS
from ..records import Example, GeneralPrompt
from ..spec.model import Spec
from .rows import EXAMPLE_ROWS, GENERAL_ROWS

BUILD_FORMAT = 2  # 2: the user turn's column is `question` (was `prompt`, which TRL misreads)
T = TypeVar("T")


@dataclass(frozen=True)
class TaskNames:
    """lm-eval task names of one scored split: `mc` (log-likelihood) and `gen` (greedy reply)."""

    mc: str
    gen: str


@dataclass(frozen=True)
class Manifest:
    name: str
    spec_sha256: str
    seed: int
    system_prompt: str  # the rules' statements, the prompted arm's system prompt
    counts: Mapping[str, int]  # split (and train_sample) → examples
    breakdown: Mapping[str, Mapping[str, Mapping[str, int]]]  # "rule" / "form" / "scope" → split → key → examples
    audit: AuditReport  # the manifest's summary: counts per test split, no pairs (leakage.json has them)
    group: str  # lm-eval group of all tasks
    tasks: Mapping[str, TaskNames]  # scored split → task names
    files: Mapping[str, str]  # relative path → sha256
    sha256: str  # of manifest.json itself: what a run records as "the build"
    # The dev split's tasks (splits.dev), outside `tasks`: evaluate and the gate never score it.
    dev_tasks: TaskNames | None = None


@dataclass(frozen=True)
class Build:
    path: Path
    manifest: Manifest
    spec: Spec


def read_manifest(path: Path) -> Manifest:
    """build folder → its Manifest alone (the gate checks the files against it before it reads
    any of them); UsageError naming what is missing or malformed when it is not a build."""
    path = Path(path)
    if not path.is_dir():
        raise UsageError(f"{path}: not a build folder (it does not exist); run `syllabus compile SPEC` first")
    missing = [n for n in ("manifest.json", "spec.json", "data") if not (path / n).exists()]
    if missing:
        raise UsageError(f"{path}: not a build folder: missing {', '.join(missing)}; run `syllabus compile SPEC` first")
    raw, raw_text = read_json_bytes(path / "manifest.json", "recompile the build")  # the hash of these bytes names the build
    if raw.get("build_format") != BUILD_FORMAT:
        raise UsageError(f"{path}: build format {raw.get('build_format')!r} is not {BUILD_FORMAT}; recompile the build")
    try:
        manifest = Manifest(
            name=raw["name"],
            spec_sha256=raw["spec_sha256"],
            seed=raw["seed"],
            system_prompt=raw["system_prompt"],
            counts=dict(raw["counts"]["splits"]),
            breakdown={title: raw["counts"][f"by_{title}"] for title in ("rule", "form", "scope")},
            audit=AuditReport.from_json(raw["audit"]),
            group=raw["tasks"]["group"],
            tasks={k: TaskNames(**v) for k, v in raw["tasks"]["splits"].items()},
            files=dict(raw["files"]),
            sha256=hashlib.sha256(raw_text).hexdigest(),
            dev_tasks=TaskNames(**raw["tasks"]["dev"]) if "dev" in raw["tasks"] else None,
        )
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in manifest.files.items()):
            raise TypeError("'files' maps a path to something other than a sha256 string")
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise UsageError(f"{path}: manifest.json lacks {exc} or has it in the wrong shape; recompile the build") from None
    return manifest


def read_build(path: Path) -> Build:
    """build folder → Build; UsageError naming what is missing or malformed when it is not a build.
    Reads; does not verify (integrity.build_problems does, for the gate, stats and diff)."""
    path = Path(path)
    manifest = read_manifest(path)
    doc = read_json(path / "spec.json", "recompile the build")
    try:
        spec = Spec.model_validate(doc)
    except (ValueError, TypeError, RecursionError) as exc:
        raise UsageError(f"{path / 'spec.json'}: not a resolved spec ({what_is_wrong(exc)}); recompile the build") from None
    return Build(path, manifest, spec)


def example_from_row(row: Mapping) -> Example:
    """One JSONL row → Example (the inverse of rows.EXAMPLE_ROWS.to_row)."""
    return EXAMPLE_ROWS.from_row(row)


def read_split(build: Build, split: str) -> tuple[Example, ...]:
    """Build, split name ('train', 'test_form', …, 'train_sample') → its examples in file order."""
    path = build.path / "data" / f"{split}.jsonl"
    if not path.exists():
        raise UsageError(f"{build.path}: not a complete build: missing data/{split}.jsonl; recompile the build")
    return _read_rows(path, example_from_row)


def _read_rows(path: Path, parse: Callable[[Mapping], T]) -> tuple[T, ...]:
    """JSONL file, row → value → the values of its non-blank lines in order; UsageError (exit 2)
    `file:line: what is wrong` for the first bad line (not JSON, not an object, a missing key,
    nested too deeply) or `file: …` when the file cannot be read at all (a folder, not UTF-8)."""
    out: list[T] = []
    lineno = 0
    try:
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if line.strip():
                    row = json.loads(line)
                    if not isinstance(row, dict):
                        raise TypeError(f"a JSON {json_kind(row)}, where a row object was expected")
                    out.append(parse(row))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        where = f"{path}:{lineno}" if lineno and not isinstance(exc, OSError) else str(path)
        if isinstance(exc, json.JSONDecodeError):  # its own line is 1: the file's line is `lineno`
            what = f"not JSON ({exc.msg} at column {exc.colno})"
        elif isinstance(exc, TypeError) and str(exc).startswith("a JSON "):
            what = str(exc)
        else:
            what = what_is_wrong(exc)
        raise UsageError(f"{where}: {what}; recompile the build") from None
    return tuple(out)


def read_general(build: Build, split: str) -> tuple[GeneralPrompt, ...]:
    """Build, 'train_general' | 'test_general' → its general prompts in file order; () when the
    spec has no retain.general (the build then has no such file)."""
    if split not in GENERAL_SPLITS:
        raise ValueError(f"{split!r} is not a general split; expected one of {', '.join(GENERAL_SPLITS)}")
    if build.spec.retain.general is None:
        return ()
    path = build.path / "data" / f"{split}.jsonl"
    if not path.exists():
        raise UsageError(f"{build.path}: not a complete build: missing data/{split}.jsonl; recompile the build")
    return _read_rows(path, GENERAL_ROWS.from_row)
