"""Comparing words as the gen reading does: whole words, any case and spacing.

check.py uses these to find a distractor that collides with a rule's value; the lesson
lint (compilation/lint.py) to find an answer that leaks into its prompt.
"""

from __future__ import annotations

import re
from functools import lru_cache


def norm(text: str) -> str:
    """Text → its comparable form: whitespace collapsed, case folded ('Stop  Sign' → 'stop sign')."""
    return " ".join(text.split()).casefold()


@lru_cache(maxsize=4096)
def _phrase_re(phrase: str) -> re.Pattern[str] | None:
    words = phrase.split()
    if not words:
        return None
    return re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)", re.IGNORECASE)


def has_phrase(text: str, phrase: str) -> bool:
    """Whether phrase occurs in text as whole words, ignoring case and spacing:
    ('light blue', 'blue') → True; ('blueberry', 'blue') → False. Whole words, because
    the gen reading finds an answer in a reply the same way (tasks.first_option)."""
    pattern = _phrase_re(phrase)
    return pattern is not None and pattern.search(text) is not None


def value_clash(value: str, wrong: str) -> str | None:
    """The rule's value and one of its distractors → how the distractor collides with it,
    or None: equal, the value inside it ('light blue' for 'blue'), or it inside the value."""
    if norm(wrong) == norm(value):
        return f"is the rule's value '{value}' itself"
    if has_phrase(wrong, value):
        return f"contains the rule's value '{value}'"
    if has_phrase(value, wrong):
        return f"is part of the rule's value '{value}'"
    return None
