"""A spec as it was at a git revision, on disk: the `--against REV` side of `syllabus diff`.

spec path + REV → (context manager) a temporary folder that mirrors the repository
layout: the spec's text at REV at its repository-relative path, and every in-repository
template pack it names, also at REV. A spec's `template_packs` are relative to the spec
file, so they resolve in the copy exactly as they did in the checkout at REV. Packs
outside the repository (absolute paths, or `../` beyond its root) cannot be read at a
revision; they resolve to the same absolute path, i.e. as they are now. The built-in
template library is the installed one, not the one at REV. The folder is removed when
the context exits, whatever happens inside it.
"""

from __future__ import annotations

import io
import posixpath
import subprocess
import tarfile
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Iterator

import yaml

from ..errors import SpecError, SyllabusError, UsageError


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise UsageError("--against needs git, and no `git` command was found; install git or diff two builds")


def _repo_root(spec: Path) -> Path:
    where = spec.parent
    proc = _git(where, "rev-parse", "--show-toplevel")
    if proc.returncode != 0:
        raise UsageError(
            f"{spec}: --against REV needs a git checkout, and {where} is not inside one; "
            "diff two compiled builds instead (syllabus diff OLD_BUILD NEW_BUILD)"
        )
    return Path(proc.stdout.decode().strip()).resolve()


def _commit(root: Path, rev: str) -> str:
    # A revision starting with "-" would be read as an option by git.
    proc = None if rev.startswith("-") or not rev else _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if proc is None or proc.returncode != 0:
        raise UsageError(
            f"--against {rev!r}: unknown revision in {root}; give a commit, branch or tag "
            "(`git log --oneline` lists commits)"
        )
    return proc.stdout.decode().strip()


def _exists_at(root: Path, commit: str, rel: str) -> bool:
    return _git(root, "cat-file", "-e", f"{commit}:{rel}").returncode == 0


def _packs(spec_text: bytes) -> list[str]:
    """The spec's `template_packs`, or [] when the text is not a readable spec (the
    compile that follows reports that, located, better than we could here)."""
    try:
        doc = yaml.safe_load(spec_text)
    except yaml.YAMLError:
        return []
    packs = doc.get("template_packs") if isinstance(doc, dict) else None
    return [p for p in packs if isinstance(p, str)] if isinstance(packs, list) else []


def _export_tree(root: Path, commit: str, rel: str, dest: Path) -> None:
    """Files under repository path `rel` at `commit` → the same paths under `dest`."""
    proc = _git(root, "archive", "--format=tar", commit, "--", rel)
    if proc.returncode != 0:
        raise UsageError(f"--against: could not read {rel} at {commit[:12]}: {proc.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        tar.extractall(dest, filter="data")  # "data": no absolute paths, no links out of dest


@dataclass(frozen=True)
class SpecAtRev:
    """The spec's copy as it was at `rev`: `path` lies under the temporary `root`."""

    path: Path
    root: Path
    rel: str  # the spec's path relative to the repository root
    rev: str
    commit: str

    @property
    def label(self) -> str:
        return f"{self.rel}@{self.rev}"

    def relabel(self, exc: SyllabusError) -> SyllabusError:
        """An error from compiling the copy → the same error naming `REV:path` (git's own
        notation) instead of the temporary path, which is gone once the diff returns."""
        prefixes = sorted({str(self.root) + "/", str(self.root.resolve()) + "/"}, key=len, reverse=True)

        def where(text: str) -> str:
            for prefix in prefixes:
                text = text.replace(prefix, f"{self.rev}:")
            return text

        if isinstance(exc, SpecError):
            return SpecError([replace(p, file=where(p.file), message=where(p.message), hint=where(p.hint))
                              for p in exc.problems])
        exc.args = (f"{self.label}: {where(str(exc))}",)
        return exc


@contextmanager
def spec_at_revision(spec: Path, rev: str) -> Iterator[SpecAtRev]:
    """spec file in a git checkout, revision → (context) its copy as it was at REV.

    Raises UsageError (exit 2): not a git checkout, unknown revision, the spec did not
    exist at REV. The temporary folder is gone after the `with` block."""
    spec = Path(spec).resolve()
    if not spec.parent.is_dir():
        raise UsageError(f"{spec}: no such folder; give the spec's path in the working tree")
    root = _repo_root(spec)
    commit = _commit(root, rev)
    try:
        rel = spec.relative_to(root).as_posix()
    except ValueError:
        raise UsageError(f"{spec}: outside the git checkout {root}; --against reads specs inside it")
    if not _exists_at(root, commit, rel):
        raise UsageError(
            f"{rel}: the spec did not exist at {rev} ({commit[:12]}); pick a revision that has it "
            f"(`git log --oneline -- {rel}` lists them)"
        )
    text = _git(root, "cat-file", "blob", f"{commit}:{rel}").stdout
    with tempfile.TemporaryDirectory(prefix="syllabus-rev-") as tmp:
        dest = Path(tmp)
        copy = dest / rel
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(text)
        spec_dir = PurePosixPath(rel).parent
        for pack in _packs(text):
            if Path(pack).is_absolute():
                continue
            pack_rel = posixpath.normpath((spec_dir / pack).as_posix())
            if pack_rel.startswith("..") or not _exists_at(root, commit, pack_rel):
                continue  # outside the repo, or missing at REV: the compile says which pack is missing
            _export_tree(root, commit, pack_rel, dest)
        yield SpecAtRev(copy, dest, rel, rev, commit)
