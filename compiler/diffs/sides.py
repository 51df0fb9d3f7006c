"""The diff's only IO: a build → a `Side` (its splits, audit counts and integrity problems).

compare.py diffs two Sides without reading anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..build.read import Build, read_split
from ..errors import UsageError
from ..compilation.audit import AuditReport
from ..integrity import build_problems, read_json, what_is_wrong
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


def read_audit(build_path: Path) -> dict[str, dict[str, float]]:
    """build/leakage.json → {test split: {metric: count}} (SplitAudit.counts); {} when the file
    is absent; UsageError (exit 2) naming the file when it is not an audit."""
    path = Path(build_path) / "leakage.json"
    if not path.exists():
        return {}
    hint = "the leakage audit is unreadable; recompile the build"
    doc = read_json(path, hint)
    try:
        report = AuditReport.from_json(doc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"{path}: not a leakage audit ({what_is_wrong(exc)}); recompile the build") from None
    return {s.split: s.counts() for s in report.splits if s.split in TEST_SPLITS}


def read_side(build: Build, label: str | None = None) -> Side:
    """Build → Side: its four splits, audit counts and integrity problems (the diff's only IO)."""
    m = build.manifest
    integrity = build_problems(build.path, m.files, m.spec_sha256)
    splits = {s: read_split(build, s) for s in SPLITS}
    return Side(label or str(build.path), m.name, m.spec_sha256, splits, read_audit(build.path), integrity)
