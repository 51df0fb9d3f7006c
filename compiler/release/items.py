"""Every held-out item with what each arm made of it: the rows of report.html's item table.

The gate's numbers are means over these rows; a reviewer reads the rows to see why (which
wordings the tuned model misses, what the base replied, where the constant arm wins). Pure:
(examples per split, arm results, readings) → ItemRows in split order, then data-file order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from ..evaluation.results import ArmResult
from ..names import REPORT_ARMS
from ..records import Example


@dataclass(frozen=True)
class ArmAnswer:
    """One arm on one item: its greedy reply ("" when gen was not scored) and, per reading,
    whether it was right (None: that arm has no record of the item under that reading)."""

    arm: str
    reply: str
    verdicts: tuple[tuple[str, bool | None], ...]  # (reading, right?) in the readings' order

    def verdict(self, reading: str) -> bool | None:
        return next((ok for rd, ok in self.verdicts if rd == reading), None)


@dataclass(frozen=True)
class ItemRow:
    """A held-out question: what was asked, the answer it expects (and, in explained builds,
    the reply that states it), and each arm's answer in names.REPORT_ARMS order."""

    split: str
    id: str
    form: str
    prompt: str
    answer: str
    reply: str  # the expected reply as the lessons word it; == answer in terse builds
    arms: tuple[ArmAnswer, ...]


def held_out_items(examples: Mapping[str, Sequence[Example]], arms: Mapping[str, ArmResult | None],
                   readings: Sequence[str]) -> tuple[ItemRow, ...]:
    """{held-out split: examples} + {arm: result or None} + readings → one ItemRow per example,
    splits in the given order, examples in data-file order (id-sorted: stable). An arm that is
    missing, or has no record of the item, shows None verdicts and an empty reply."""
    rows = []
    for split, items in examples.items():
        # per (arm, reading): {item id: Sample}; a missing arm or split is an empty map
        records = {}
        for arm in REPORT_ARMS:
            result = arms.get(arm)
            for rd in readings:
                score = result.score(split, rd) if result is not None else None
                records[arm, rd] = {s.id: s for s in score.samples} if score is not None else {}
        for ex in items:
            answers = []
            for arm in REPORT_ARMS:
                got = {rd: records[arm, rd].get(ex.id) for rd in readings}
                gen = got.get("gen")
                answers.append(ArmAnswer(arm, gen.reply if gen is not None else "",
                                         tuple((rd, s.correct if s is not None else None) for rd, s in got.items())))
            rows.append(ItemRow(split, ex.id, ex.provenance.form, ex.prompt, ex.answer, ex.reply, tuple(answers)))
    return tuple(rows)
