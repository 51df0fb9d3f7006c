"""The building blocks of the spec language: the strict base model and bounded text.

model.py (the spec's sections) and gate_checks.py (its gate: section) build on these.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Bounded text. Every string of a spec is copied into thousands of examples: a value of
# 10^6 characters × 18 subjects × 40 templates would be 720 MB of prompts before any check
# on rendered text could see it, so sizes are refused where the user wrote them.
MAX_WORD = 100  # a lexicon value, an attribute, a synonym: a word or a short phrase
MAX_SENTENCE = 1000  # a statement, a template, a prefix: one sentence


def _word(text: str) -> str:
    if not text.strip():
        raise ValueError("is blank: write a word or a phrase")
    return text


def _synonym(text: str) -> str:
    # A synonym replaces words inside a question: a blank or space-padded one glues or splits
    # the words around it ("uhPick a color", "whitecolouror blue"). Refused where it is written.
    if text != _word(text).strip():
        raise ValueError(f"{text!r} starts or ends with a space: write the word alone")
    return text


Word = Annotated[str, Field(max_length=MAX_WORD), AfterValidator(_word)]
Synonym = Annotated[str, Field(max_length=MAX_WORD), AfterValidator(_synonym)]
Short = Annotated[str, Field(max_length=MAX_WORD)]
Sentence = Annotated[str, Field(min_length=1, max_length=MAX_SENTENCE)]
