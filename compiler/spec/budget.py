"""Budget: a spec's rules → how many examples they expand to, counted before anything renders.

Pure: (rules, lexicon sizes, library forms, variants) → a `RuleCount` per rule. The count is the product the
expansion walks (expand.py): per rule, every in-scope value is asked every question of every
form it uses (the library's families and the rule's own templates), every neighbour the
library's questions, and each question is asked once (open) or twice (yes/no and either-or:
with the right option and with a wrong one); each example is then written in 1 + variants
wordings (paraphrase.py). It is an upper bound: the split sets some neighbour questions aside.
Counting a spec of 3,000 products × 50 templates takes microseconds; expanding it grew by
~15 MB/s until the machine gave out.

Wrong answers are drawn per (subject, family) by ranking the whole distractor slot
(expand._ranked: ~0.9 µs a value, where an example costs ~80 µs from expansion to audit),
so a large distractor slot costs work that no example shows: `draws` counts it, and a
spec may rank `DRAWS_PER_EXAMPLE` values per example it is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from .library import Library
from .model import Rule

# Questions one template asks a subject, by form kind (expand._render_items).
ASKED = {"open": 1, "yes_no": 2, "either_or": 2}
# Ranked distractor values that cost as much as one example: 80 µs / 0.9 µs ≈ 90, rounded.
DRAWS_PER_EXAMPLE = 100


def held_count(n: int, frac: float) -> int:
    """How many of n items (template families, operators, neighbours, general families) a
    hold-out fraction takes: none when frac is 0 or n < 2, else round(frac·n) clamped to
    [1, n-1] so both sides keep one. round(0.3 × 7) = 2 families of 7 held out, 5 trained
    on; n=2, frac=0.3 → round(0.6) = 1 held, 1 left for train."""
    if frac <= 0 or n < 2:
        return 0
    return min(n - 1, max(1, round(frac * n)))


@dataclass(frozen=True)
class RuleCount:
    """What one rule multiplies: its subjects × questions each, its neighbours × theirs, × wordings."""

    index: int  # in the spec's rules
    rule: str
    subject_slot: str
    subjects: int
    per_subject: int
    neighbour_slot: str | None
    neighbours: int
    per_neighbour: int
    wordings: int  # 1 + paraphrase.variants
    families: tuple[int, int]  # (subject, neighbour) families per subject: one distractor ranking each
    distractor_slot: str
    distractors: int

    @property
    def total(self) -> int:
        return (self.subjects * self.per_subject + self.neighbours * self.per_neighbour) * self.wordings

    @property
    def draws(self) -> int:
        return (self.subjects * self.families[0] + self.neighbours * self.families[1]) * self.distractors

    def describe_draws(self) -> str:
        """'rule 'x': (3,000 subjects × 60 families + 16 neighbours × 40) × 3,000 values of lexicon.color = …'"""
        return (f"rule '{self.rule}': ({self.subjects:,} subjects × {self.families[0]} families + {self.neighbours:,} "
                f"neighbours × {self.families[1]}) × {self.distractors:,} values of lexicon.{self.distractor_slot} "
                f"= {self.draws:,}")

    def describe(self) -> str:
        """'rule 'x': (3,000 values of lexicon.product × 112 questions each + …) × 2 wordings = 672,000'"""
        terms = [f"{self.subjects:,} values of lexicon.{self.subject_slot} × {self.per_subject:,} questions each"]
        if self.neighbour_slot is not None:
            terms.append(f"{self.neighbours:,} values of lexicon.{self.neighbour_slot} × {self.per_neighbour:,} questions each")
        return f"rule '{self.rule}': ({' + '.join(terms)}) × {self.wordings} wordings = {self.total:,}"


def count_rule(index: int, rule: Rule, sizes: Mapping[str, int], library: Library, variants: int) -> RuleCount:
    """One rule → its RuleCount; forms the library does not know count nothing (check.py reports them)."""
    shared = own = shared_families = own_families = 0
    for form in rule.forms:
        if form not in library.forms:
            continue
        asked, families = ASKED[library.forms[form].kind], library.forms[form].families
        shared += asked * sum(len(f.templates) for f in families)
        own += asked * len(rule.templates.get(form, []))  # a rule's own templates ask in-scope subjects only
        shared_families += len(families)
        own_families += len(rule.templates.get(form, []))  # each is a family of its own
    nslot = rule.neighbours.subject if rule.neighbours is not None else None
    return RuleCount(index, rule.id, rule.subject, sizes.get(rule.subject, 0), shared + own,
                     nslot, sizes.get(nslot, 0) if nslot else 0, shared, 1 + variants,
                     (shared_families + own_families, shared_families), rule.distractors, sizes.get(rule.distractors, 0))


def count_examples(rules: Sequence[tuple[int, Rule]], sizes: Mapping[str, int], library: Library,
                   variants: int) -> tuple[RuleCount, ...]:
    """(index, rule) pairs + values per lexicon slot → one RuleCount per rule, in spec order."""
    return tuple(count_rule(i, rule, sizes, library, variants) for i, rule in rules)
