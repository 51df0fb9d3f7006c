"""Markdown that user text cannot break: the one escape that the gate's reports
(release/report.py) and the build diff (diffs/render.py) put user text through."""

from __future__ import annotations


def md_escape(text: str) -> str:
    """User text → safe in Markdown, inside a table cell too: one line (a run of whitespace,
    newlines included, becomes one space: a newline would end the table row), a backslash
    shown as itself, a pipe that does not split the cell, no raw HTML (a <tag> would vanish
    on GitHub). 'a|b  <i>' → 'a\\|b &lt;i&gt;'."""
    text = " ".join(text.split())
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
