"""Who owns the build's output folder: what compile may replace, and its temp folders.

Only what syllabus wrote is ever replaced or removed: an --out folder that is not a build
(check_out), or a temp folder that is not a dead compile's (remove_stale_temps), is left
alone. write.py writes into a temp_folder and swaps the finished build into place.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile
import time
from contextlib import suppress
from pathlib import Path

from ..errors import UsageError


def swap_into_place(new: Path, out: Path, work: Path) -> None:
    # rename() is atomic within a filesystem; an old build is moved into the work folder
    # first and removed with it, so a kill between the two renames leaves it where the
    # next compile's sweep finds it, never beside the build.
    if out.exists():
        out.rename(work / "old")
    new.rename(out)


def check_out(out: Path, spec: Path | None = None, force: bool = False) -> None:
    """UsageError unless compile may replace `out` whole: absent, an empty folder, a build that
    holds only the files it lists, or (with `force`) any other folder. Never a file, a symbolic
    link, or a folder that holds the current directory, the home directory or the spec."""
    out = Path(out)
    target = out.resolve()
    keep = {Path.cwd().resolve(): "the current directory",
            Path(os.path.expanduser("~")).resolve(): "your home directory"}
    if spec is not None:
        keep[Path(spec).resolve().parent] = f"the spec {spec}"
    for place, what in keep.items():
        if target == place or target in place.parents:
            raise UsageError(f"{out}: holds {what}; compile replaces its --out folder whole, so give it one of its "
                             "own (the default is build/<name>)")
    if out.is_symlink():
        raise UsageError(f"{out}: a symbolic link; compile replaces its --out folder whole, so give the folder it "
                         "points to, or another --out")
    existing = next(p for p in (out, *out.parents) if p.exists())  # "." or "/" at the latest
    if not existing.is_dir():
        raise UsageError(f"{existing}: a file is in the way of the build folder {out}; move it, or give another --out")
    if existing != out or force:
        return
    foreign = _foreign_files(out)
    if foreign is None:
        entries = sorted(p.name for p in out.iterdir())
        if entries:
            raise UsageError(f"{out}: not a syllabus build (no build manifest.json) and not empty ({_some(entries)}); "
                             "compile replaces its --out folder whole, deleting what is in it: give another --out, "
                             "or replace it anyway with `compile --force`")
    elif foreign:
        raise UsageError(f"{out}: a syllabus build holding {len(foreign)} file{'s' * (len(foreign) > 1)} it did not "
                         f"write ({_some(foreign)}); compile replaces its --out folder whole, deleting what is in "
                         "it: move them out, or replace it anyway with `compile --force`")


def _foreign_files(build: Path) -> list[str] | None:
    """A build folder → the files in it that its manifest does not list (lm-eval's __pycache__
    aside, as in the manifest); None when manifest.json is not a build's."""
    try:
        manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or "build_format" not in manifest:
            return None
        listed = {*manifest["files"], "manifest.json"}
    except (OSError, ValueError, KeyError, TypeError):  # no manifest.json, not JSON, no files list
        return None
    found = (p.relative_to(build) for p in sorted(build.rglob("*")) if p.is_file() or p.is_symlink())
    return [rel.as_posix() for rel in found if "__pycache__" not in rel.parts and rel.as_posix() not in listed]


def _some(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


# A compile's temp folder: .<out name>.<pid>.<8 of mkdtemp's characters>.tmp, with an owner
# file inside naming the process and machine that made it. The next compile in that folder
# removes the ones whose compile was killed (SIGKILL, power loss): it can tell them from
# another compile's that is still running, and from anything syllabus did not make.
_TEMP_NAME = re.compile(r"\..+\.(\d+)\.[a-z0-9_]{8}\.tmp")
_OWNER = "syllabus-compile.json"
_STALE_AFTER_S = 3600  # made on another machine (a shared disk): dead when older than any compile runs
_held: set[Path] = set()  # this process's temp folders in use (a thread may compile beside another)


def temp_folder(out: Path) -> Path:
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".tmp", dir=out.parent))
    _held.add(work)
    owner = {"made_by": "syllabus compile", "pid": os.getpid(), "host": socket.gethostname()}
    (work / _OWNER).write_text(json.dumps(owner) + "\n", encoding="utf-8")
    return work


def remove_stale_temps(parent: Path) -> None:
    """Removes the temp folders in `parent` that killed compiles left: named as temp_folder
    names them, with its owner file, whose process is gone (on this machine; elsewhere: older
    than _STALE_AFTER_S). A folder with our own pid that we do not hold is a previous process's
    (pids restart in each container)."""
    host = socket.gethostname()
    for work in parent.glob(".*.tmp"):
        named = _TEMP_NAME.fullmatch(work.name)
        if named is None or work.is_symlink() or not work.is_dir() or work in _held:
            continue
        try:
            owner = json.loads((work / _OWNER).read_text(encoding="utf-8"))
            pid, here = int(owner["pid"]), owner["host"] == host
            age = time.time() - (work / _OWNER).stat().st_mtime
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not ours, or its owner file is being written this instant
        if pid != int(named[1]):
            continue
        if (pid == os.getpid() or not _alive(pid)) if here else age > _STALE_AFTER_S:
            remove_temp(work)


def remove_temp(work: Path) -> None:
    # The owner file goes last: a kill midway leaves a folder the next sweep still knows as ours.
    with suppress(OSError):  # gone already: another compile's sweep
        for child in work.iterdir():
            if child.name != _OWNER:
                shutil.rmtree(child, ignore_errors=True)  # build/ and old/, both folders
    shutil.rmtree(work, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's process
        return True


def release_temp(work: Path) -> None:
    """A finished (or failed) compile's temp folder → removed, and no longer held."""
    remove_temp(work)
    _held.discard(work)
