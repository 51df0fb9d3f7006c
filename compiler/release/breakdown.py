"""Where a model misses: accuracy per split × question form, a few missed questions, and a few
general prompts with the base and tuned replies side by side.

The gate answers "may this ship?"; this answers "what did it not learn?" — e.g. direct
questions held out at 0.94 but yes/no at chance, or one neighbour painted blue. Pure:
(examples per split, arm results) → rows the report prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from ..records import Example
from ..evaluation.results import ArmResult, DriftResult
from ..names import REPORT_ARMS

MISSES_PER_SPLIT = 3


@dataclass(frozen=True)
class FormRow:
    """One split × question form × reading: n items and each arm's accuracy (None: arm not scored)."""

    split: str
    form: str
    reading: str
    n: int
    acc: tuple[float | None, ...]  # in names.REPORT_ARMS order: base, prompted, constant, tuned


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


PAIRS_SHOWN = 6


@dataclass(frozen=True)
class GeneralPair:
    """A held-out general prompt with the base model's reply and the tuned model's, side by side."""

    kind: str
    prompt: str
    base_reply: str
    tuned_reply: str
    drop: float  # nats/token the base reply lost under the tuned model
    collapsed: bool


def general_pairs(general: DriftResult | None, n: int = PAIRS_SHOWN) -> tuple[GeneralPair, ...]:
    """The general drift → up to n base-vs-tuned pairs worth reading: collapsed replies first,
    then the largest drops, one per kind of task before any kind twice (ties: by id)."""
    items = [i for s in (general.scores if general is not None else ()) for i in s.items]
    ranked = sorted(items, key=lambda i: (not i.collapsed, -i.drop if math.isfinite(i.drop) else 0.0, i.id))
    firsts: dict[str, int] = {}  # kind → index in ranked of its best item
    for k, item in enumerate(ranked):
        firsts.setdefault(item.kind, k)
    lead = sorted(firsts.values())
    order = lead + [k for k in range(len(ranked)) if k not in set(lead)]
    return tuple(GeneralPair(ranked[k].kind, ranked[k].prompt, ranked[k].base_reply, ranked[k].tuned_reply,
                             ranked[k].drop, ranked[k].collapsed) for k in order[:n])
