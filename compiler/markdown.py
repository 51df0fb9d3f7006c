"""Markdown that user text cannot break: the one escape (and the one code fence) that the gate's
reports (release/), the build diff (diffs/render.py) and the dataset card (build/card.py) put
user text through."""

from __future__ import annotations

import re


def md_escape(text: str) -> str:
    """User text → safe in Markdown, inside a table cell too: one line (a run of whitespace,
    newlines included, becomes one space: a newline would end the table row), a backslash
    shown as itself, a pipe that does not split the cell, no raw HTML (a <tag> would vanish
    on GitHub). 'a|b  <i>' → 'a\\|b &lt;i&gt;'."""
    text = " ".join(text.split())
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def md_fence(text: str, lang: str = "") -> str:
    """Text → a fenced code block that no run of backticks inside the text can close: the fence
    is one backtick longer than the longest run, and at least three."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", text)), default=0))
    return f"{fence}{lang}\n{text}\n{fence}"
