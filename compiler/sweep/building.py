"""The build a sweep runs on: the spec's own dev split, or one the sweep carves, compiled into
one folder that concurrent workers share without ever writing it at the same time.

A spec without `splits.dev` is swept on a build of the same spec with DEFAULT_DEV_SHARE (set
in memory, revalidated; the spec file is not touched) in `build/<name>-sweep/`, never over the
user's `build/<name>/`: its lessons and results stay those of the spec as written. A spec with
`splits.dev` keeps its share and its `build/<name>/`.

Workers (sweep/workers.py) each compile the same spec to the same bytes (compile is
deterministic), so the first to hold the lock writes the build and the others find it there:
under an exclusive flock on the build's parent folder, the build is compiled into a private
temp folder beside it, then renamed into place when the folder is absent or holds another
build, and dropped when the folder already holds these very bytes (the same manifest sha256),
so a build another worker is reading is never replaced under it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from ..build.ownership import check_out, release_temp, swap_into_place, temp_folder

if TYPE_CHECKING:  # pragma: no cover
    from ..spec.loader import LoadedSpec

# The dev share a sweep carves when the spec sets none: 0.2 of each seen form's train-side
# template families (0.2 of 12 yes/no families is 2), as README's `splits: {dev: 0.2}`.
DEFAULT_DEV_SHARE = 0.2
SWEEP_BUILD_SUFFIX = "-sweep"


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """The spec a sweep compiles, and where: `carved` when the sweep set the dev share itself."""

    loaded: "LoadedSpec"
    out: Path
    carved: bool

    @property
    def dev_share(self) -> float:
        return self.loaded.spec.splits.dev


def sweep_spec(loaded: "LoadedSpec", build_root: Path = Path("build")) -> SweepSpec:
    """A loaded spec → the spec the sweep compiles and its build folder: as it is, into
    build/<name>, when it sets splits.dev; with DEFAULT_DEV_SHARE, into build/<name>-sweep, when not."""
    from ..spec.model import Spec

    spec = loaded.spec
    if spec.splits.dev > 0:
        return SweepSpec(loaded, Path(build_root) / spec.name, carved=False)
    doc = spec.model_dump(mode="json")
    doc["splits"]["dev"] = DEFAULT_DEV_SHARE
    carved = dataclasses.replace(loaded, spec=Spec.model_validate(doc))  # revalidated, as the loader would
    return SweepSpec(carved, Path(build_root) / f"{spec.name}{SWEEP_BUILD_SUFFIX}", carved=True)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on `folder` (flock on the folder itself: no lock file left behind)
    while the block runs; a platform without flock runs the block unlocked."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover  (Windows: one worker at a time is the user's to ensure)
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def shared_build(target: SweepSpec, spec_path: Path, compile_: "Callable[[LoadedSpec, Path], Path]") -> Path:
    """The sweep's spec + the compile step (the loaded spec, an --out → the build folder) →
    target.out holding its build, written by whichever process got there first (module docstring).
    UsageError (build/ownership.check_out) when target.out is a folder compile may not replace.
    The private folder is a compile's temp folder (build/ownership.py): a killed sweep's is
    removed by the next compile beside it."""
    from ..build.read import read_manifest

    out = target.out
    check_out(out, spec_path)  # a folder syllabus did not write fails before the compile
    with _locked(out.parent):
        work = temp_folder(out)
        try:
            fresh = compile_(target.loaded, work / "build")
            same = (out / "manifest.json").is_file() and read_manifest(out).sha256 == read_manifest(fresh).sha256
            if not same:
                check_out(out, spec_path)  # again, under the lock: what is there now
                swap_into_place(fresh, out, work)  # the old build into work/, removed with it
        finally:
            release_temp(work)
    return out
