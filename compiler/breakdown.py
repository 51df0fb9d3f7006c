"""Where a model misses: accuracy per split × question form, and a few missed questions.

The gate answers "may this ship?"; this answers "what did it not learn?" — e.g. direct
questions held out at 0.94 but yes/no at chance, or one neighbour painted blue. Pure:
(examples per split, arm results) → rows the report prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from .records import Example
from .results import REPORT_ARMS, ArmResult

MISSES_PER_SPLIT = 3


@dataclass(frozen=True)
class FormRow:
    """One split × question form × reading: n items and each arm's accuracy (None: arm not scored)."""

    split: str
    form: str
    reading: str
    n: int
    acc: tuple[float | None, ...]  # in results.REPORT_ARMS order: base, prompted, constant, tuned


@dataclass(frozen=True)
class Miss:
    """A question the tuned model got wrong: what was asked, the right answer, what it said."""

    split: str
    form: str
    prompt: str
    answer: str
    reply: str  # the tuned model's greedy reply (gen reading); "" when gen was not scored


def by_form(examples: Mapping[str, tuple[Example, ...]], arms: Mapping[str, ArmResult | None],
            readings: Sequence[str] = ("mc",)) -> tuple[FormRow, ...]:
    """{split: examples} + {arm: result} + readings → accuracy per (split, form, reading):
    splits in the given order, forms by name, readings in the given order."""
    rows = []
    for split, items in examples.items():
        forms: dict[str, list[str]] = {}
        for ex in items:
            forms.setdefault(ex.provenance.form, []).append(ex.id)
        correct = {(arm, rd): _correct(arms.get(arm), split, rd) for arm in REPORT_ARMS for rd in readings}
        for form, ids in sorted(forms.items()):
            for rd in readings:
                accs = []
                for arm in REPORT_ARMS:
                    got = [correct[arm, rd][i] for i in ids if i in correct[arm, rd]]
                    accs.append(sum(got) / len(got) if got else None)
                rows.append(FormRow(split, form, rd, len(ids), tuple(accs)))
    return tuple(rows)


def misses(examples: Mapping[str, tuple[Example, ...]], tuned: ArmResult | None, reading: str = "mc",
           per_split: int = MISSES_PER_SPLIT) -> tuple[Miss, ...]:
    """The first `per_split` tuned misses of each split (examples are id-sorted, so the pick is stable)."""
    out = []
    for split, items in examples.items():
        correct = _correct(tuned, split, reading)
        score = tuned.score(split, "gen") if tuned is not None else None
        replies = {s.id: s.reply for s in score.samples} if score is not None else {}
        wrong = [ex for ex in items if correct.get(ex.id) is False]
        out += [Miss(split, ex.provenance.form, ex.prompt, ex.answer, replies.get(ex.id, "")) for ex in wrong[:per_split]]
    return tuple(out)


def _correct(arm: ArmResult | None, split: str, reading: str) -> dict[str, bool]:
    score = arm.score(split, reading) if arm is not None else None
    return score.correct_by_id() if score is not None else {}
