"""What `syllabus compare` calls: run folders + options → the text the command prints (the
comparison itself, or where --out wrote it). IO at the edge: compare.py reads and verifies the
runs, render.py lays the result out, this writes --out atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..errors import UsageError
from ..integrity import write_atomic
from .compare import compare
from .render import FORMATS, render


def compare_command(paths: Sequence[Path], *, arm: str = "tuned", fmt: str = "text", out: Path | None = None,
                    allow_different_builds: bool = False, on: str | None = None) -> str:
    """Run folders, the arm, the format, --out, --allow-different-builds and --on → what to print.
    With `out`, the rendering goes to that file (its folder is made) and the line naming it is
    printed, but under json the document itself (stdout holds one JSON document: docs/cli-json.md);
    without, the rendering itself."""
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: give one of {', '.join(FORMATS)}")
    if out is not None and Path(out).is_dir():
        raise UsageError(f"--out {out}: a folder; give a file path, e.g. {Path(out) / f'compare.{_ext(fmt)}'}")
    text = render(compare(paths, arm, allow_different_builds, on), fmt)
    if out is None:
        return text.rstrip("\n")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(Path(out), text)
    return text.rstrip("\n") if fmt == "json" else f"wrote {out}"


def _ext(fmt: str) -> str:
    return {"text": "txt", "markdown": "md"}.get(fmt, fmt)
