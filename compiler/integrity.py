"""Verify before trusting: reading the JSON files later stages rely on, and checking that a
build and an adapter are still the bytes that were compiled and trained.

The one home of each:
  read_json       a JSON file → its value; every way it can be broken (missing, a folder, not
                  UTF-8, not JSON, nested past Python's recursion limit, a list where an object
                  belongs) becomes a UsageError (exit 2) naming the file and what is wrong.
  what_is_wrong   an exception from reading a file → the phrase a user reads (no traceback).
  write_atomic    text → a file, whole or not at all: a reader (or a run killed mid-write) sees
                  the old file or the new one, never half of one. write_json: a JSON value, so.
  sha256_file     a file → sha256 hex, streamed, never cached: a verifier must not trust a cache
                  keyed by mtime (models.file_sha256 is that cache, for 90 MB base weights).
  build_problems  a build folder + its manifest's `files` → every file on disk that is not what
                  the manifest records.
  adapter_sha256  an adapter folder → one sha256 over its files (train records it in run.json,
                  evaluate in the tuned arm's file, the gate recomputes it).

The gate turns any problem into exit 3 (it cannot vouch for scores of other bytes); `stats` and
`diff` show them as warnings (a person reading a build may want to see what was altered).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Mapping

from .errors import UsageError

_SHA = re.compile(r"[0-9a-f]{64}")
# Files a build or adapter folder may hold that no manifest lists: Python's bytecode cache
# (build/write.py skips it too) and, in an adapter, the model card the gate (re)writes.
_UNLISTED_PARTS = {"__pycache__"}
ADAPTER_CARD = "README.md"


def is_sha256(value: object) -> bool:
    return isinstance(value, str) and _SHA.fullmatch(value) is not None


def what_is_wrong(exc: BaseException) -> str:
    """An exception from parsing a file → a short phrase for a user, without a traceback."""
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply to read"
    if isinstance(exc, KeyError):
        return f"missing key {exc.args[0]!r}" if exc.args else "a missing key"
    if isinstance(exc, IsADirectoryError):
        return "a folder, where a file was expected"
    if isinstance(exc, FileNotFoundError):
        return "missing"
    if isinstance(exc, OSError):
        return f"cannot read it ({exc.strerror or exc})"
    if isinstance(exc, (TypeError, AttributeError, IndexError)):
        return f"a field has the wrong type or shape ({exc})"
    return str(exc) or type(exc).__name__


def json_kind(value: object) -> str:
    """A parsed JSON value → its JSON type name ('object', 'array', …), for messages."""
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def read_json(path: Path, hint: str = "", expect: type = dict) -> Any:
    """JSON file → its value (a dict unless `expect` says otherwise); UsageError (exit 2) naming
    the file and what is wrong with it, `hint` appended: never a traceback."""
    return read_json_bytes(path, hint, expect)[0]


def read_json_bytes(path: Path, hint: str = "", expect: type = dict) -> tuple[Any, bytes]:
    """read_json, with the bytes it parsed: a manifest's sha256 must be of what was read."""
    path = Path(path)
    tail = f"; {hint}" if hint else ""
    if path.is_dir():
        raise UsageError(f"{path}: a folder, where a JSON file was expected{tail}")
    try:
        data = path.read_bytes()
        doc = json.loads(data)  # bytes: json detects UTF-8 and rejects what is not
    except (OSError, ValueError, RecursionError) as exc:
        raise UsageError(f"{path}: {what_is_wrong(exc)}{tail}") from None
    if not isinstance(doc, expect):
        want = json_kind(expect())
        raise UsageError(f"{path}: a JSON {json_kind(doc)}, where a JSON {want} was expected{tail}")
    return doc, data


def write_atomic(path: Path, text: str) -> Path:
    """text → path (UTF-8), through a temp file beside it (.<name>.<pid>.tmp) renamed over it:
    the old file or the new one, never half of one. The folder must exist. → path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json(path: Path, doc: Any) -> Path:
    """A JSON value → path, atomically (write_atomic): indented 1, keys sorted, a final newline
    (run.json's format). → path."""
    return write_atomic(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")


def sha256_file(path: Path) -> str:
    """file → sha256 hex of its bytes, read in 4 MiB blocks (a build's data can be large)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _listed_files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and not _UNLISTED_PARTS & set(p.relative_to(folder).parts))


def build_problems(folder: Path, files: Mapping[str, str], spec_sha256: str) -> tuple[str, ...]:
    """build folder, its manifest's `files` (relative path → sha256) and `spec_sha256` → one
    sentence per file that is not what the manifest records: altered, missing, a folder, or on
    disk but unlisted (an extra task YAML under tasks/ would be loaded by lm-eval). () when
    the build is as compiled. The manifest itself is pinned by the caller (run.json's
    build_sha256), so these files are pinned through it."""
    folder = Path(folder)
    out: list[str] = []
    for rel in sorted(files):
        want = files[rel]
        path = folder / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            out.append(f"manifest.json lists {rel!r}, a path outside the build")
        elif not is_sha256(want):
            out.append(f"manifest.json records {want!r} as the sha256 of {rel}: not a sha256")
        elif path.is_dir():
            out.append(f"{rel}: a folder, where manifest.json records a file")
        elif not path.is_file():
            out.append(f"{rel}: missing (manifest.json records it)")
        elif (got := sha256_file(path)) != want:
            out.append(f"{rel}: sha256 {got[:12]}… is not the {want[:12]}… manifest.json records: "
                       "the file was altered after the build was compiled")
    out += [f"{rel}: not listed in manifest.json (added after the build was compiled)"
            for rel in _listed_files(folder) if rel not in files and rel != "manifest.json"]
    # spec.yaml is the source as written; spec_sha256 is the hash compile recorded of it
    if "spec.yaml" in files and is_sha256(files["spec.yaml"]) and files["spec.yaml"] != spec_sha256:
        out.append(f"manifest.json: spec_sha256 {str(spec_sha256)[:12]}… is not the sha256 of spec.yaml "
                   f"({files['spec.yaml'][:12]}…) it lists")
    return tuple(out)


def adapter_sha256(folder: Path) -> str:
    """adapter folder → sha256 over its files in sorted relative-path order: each file's path, then
    its bytes' sha256 (streamed), NUL-separated so no two listings hash alike. The model card
    (README.md at the top, which PEFT writes and the gate rewrites) is documentation, not
    weights: left out, so writing a report does not change the adapter's identity."""
    folder = Path(folder)
    digest = hashlib.sha256(b"syllabus-adapter-v1\0")
    for rel in _listed_files(folder):
        if rel == ADAPTER_CARD:
            continue
        digest.update(rel.encode("utf-8") + b"\0" + sha256_file(folder / rel).encode("ascii") + b"\0")
    return digest.hexdigest()
