"""The diff's only IO: a build → a `Side` (its splits, audit counts and integrity problems).

compare.py diffs two Sides without reading anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from ..build.read import Build, read_split
from ..errors import UsageError
from ..integrity import build_problems, read_json
from ..records import Example
from ..names import SPLITS, TEST_SPLITS


@dataclass(frozen=True)
class Side:
    """One build as the diff sees it: examples per split and the audit's counts."""

    label: str  # how the output names it: a path, or "spec.yaml@REV"
    name: str
    spec_sha256: str
    splits: Mapping[str, tuple[Example, ...]]
    audit: Mapping[str, Mapping[str, float]]  # test split → metric → count
    # files that are not what its manifest records (integrity.build_problems): the diff is
    # still shown, of the bytes on disk, under a warning; a reviewer may want to see the edit
    integrity: tuple[str, ...] = ()


_NOT_COUNTS = {"n"}  # the split's size: shown in the summary already


def read_audit(build_path: Path) -> dict[str, dict[str, float]]:
    """build/leakage.json → {test split: {metric: count}}; {} when the file is absent.

    audit.py writes `{"ngram": 8, "splits": {"test_form": {"n", "exact", "ngram",
    "ngram_share", "structural", "pairs"}}}`. Every number under a test split's key is
    taken (at any depth, named by its dotted path below the split), so a count the audit
    adds later shows up here unchanged; `n` (the split's size) and booleans are not
    leak counts and are skipped, lists (`pairs`) too."""
    path = Path(build_path) / "leakage.json"
    if not path.exists():
        return {}
    raw = read_json(path, "the leakage audit is unreadable; recompile the build", expect=object)
    out: dict[str, dict[str, float]] = {}

    def numbers(node: object, prefix: str) -> Iterable[tuple[str, float]]:
        if isinstance(node, dict):
            for k in sorted(node):
                yield from numbers(node[k], f"{prefix}.{k}" if prefix else str(k))
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            yield prefix, float(node)

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in TEST_SPLITS and isinstance(v, dict):
                    out.setdefault(k, {}).update(
                        (m, n) for m, n in numbers(v, "") if m not in _NOT_COUNTS
                    )
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    try:
        walk(raw)
    except RecursionError:  # nested within json's limit, but past the walk's: no audit looks like that
        raise UsageError(f"{path}: JSON nested too deeply to read; recompile the build") from None
    return out


def read_side(build: Build, label: str | None = None) -> Side:
    """Build → Side: its four splits, audit counts and integrity problems (the diff's only IO)."""
    m = build.manifest
    integrity = build_problems(build.path, m.files, m.spec_sha256)
    splits = {s: read_split(build, s) for s in SPLITS}
    return Side(label or str(build.path), m.name, m.spec_sha256, splits, read_audit(build.path), integrity)
