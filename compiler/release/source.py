"""Which syllabus made a report: the git commit of the checkout the `compiler` package runs
from → "<40 hex>" (+ " (uncommitted changes)" when tracked files differ from it), or "unknown"
when it runs from an installed wheel, outside git, or without a `git` command.

Only the checkout whose top level holds this very package counts: a wheel installed into a
virtualenv that sits inside some other repository must not report that repository's commit.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

UNKNOWN = "unknown"
_PACKAGE = Path(__file__).resolve().parent.parent  # compiler/


def _git(*args: str) -> str | None:
    """git ARGS run in the package's folder → its stdout stripped, or None when git fails or is missing."""
    try:
        proc = subprocess.run(["git", *args], cwd=_PACKAGE, capture_output=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.decode("utf-8", "replace").strip() if proc.returncode == 0 else None


@cache  # one process, one checkout: ask git once
def syllabus_commit() -> str:
    """→ the commit of syllabus's own checkout, as the module says."""
    top = _git("rev-parse", "--show-toplevel")
    if not top or (Path(top).resolve() / _PACKAGE.name) != _PACKAGE:
        return UNKNOWN  # not a checkout of syllabus itself (an installed wheel, another repository)
    head = _git("rev-parse", "--verify", "--quiet", "HEAD")
    if not head:
        return UNKNOWN  # a repository without a commit yet
    changed = _git("status", "--porcelain", "--untracked-files=no")  # the templates and pyproject count too
    return head + (" (uncommitted changes)" if changed else "")
