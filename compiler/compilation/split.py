"""Split: whole families go to train or to one held-out axis, chosen by seeded stable hash.

| split           | built from                                                        |
| train           | seen forms × seen families × train operators; seen neighbours (retain) |
| test_paraphrase | seen forms × held-out families, held-out operators                |
| test_form       | held-out forms (every family), held-out operators: in-scope subjects |
|                 | and, as many, seen neighbours (a constant answer cannot pass it)  |
| test_locality   | held-out neighbours × held-out families, held-out operators       |
| dev             | `splits.dev` of train's families per (rule, seen form), unparaphrased: |
|                 | whole families taken from train with their seen neighbours' questions |

A (neighbour, family) pair that fits no row (a held-out neighbour in a seen family)
is dropped rather than risk wording overlap with train. Nothing is split per
example, so no family, form or neighbour can reach both sides.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ..names import DEV_SPLIT, SPLITS
from ..spec.budget import held_count
from ..spec.library import Library
from .paraphrase import Operators, paraphrase
from ..records import Example, SplitSet, stable_unit, unit_after, unit_hasher
from ..spec.model import Spec, Splits


def _hold(seed: int, key: tuple, items: list[str], frac: float) -> frozenset[str]:
    ranked = sorted(dict.fromkeys(items), key=lambda i: (stable_unit(seed, "hold", *key, i), i))
    return frozenset(ranked[: held_count(len(ranked), frac)])


@dataclass(frozen=True)
class HoldoutPlan:
    forms: frozenset[str]
    families: frozenset[tuple[str, str, str]]  # (rule, form, family) held out
    neighbours: frozenset[tuple[str, str]]  # (rule, neighbour name) held out
    train_ops: Operators
    test_ops: Operators
    # Share of seen neighbours' (neighbour, family) pairs in held-out forms that go to test_form,
    # per rule: as many out-of-scope questions as in-scope ones (12 in / 72 out → 1/6).
    form_neighbours: dict[str, float] = field(default_factory=dict)
    # (rule, form, family) of train's families carved out as the dev split (splits.dev > 0).
    dev: frozenset[tuple[str, str, str]] = frozenset()


def plan(spec: Spec, library: Library, base: tuple[Example, ...], ops: Operators) -> HoldoutPlan:
    """Spec + base examples + operators → which families, neighbours, operators are held out."""
    frac = spec.splits.hold_out
    families: dict[tuple[str, str], list[str]] = defaultdict(list)
    neighbours: dict[str, list[str]] = defaultdict(list)
    for ex in base:
        p = ex.provenance
        families[(p.rule, p.form)].append(p.family)
        if p.scope == "neighbour":
            neighbours[p.rule].append(p.subject)
    held_fams = frozenset(
        (rule, form, fam)
        for (rule, form), fams in families.items()
        for fam in _hold(spec.seed, (rule, form), fams, frac.templates)
    )
    held_nbrs = frozenset(
        (rule, n) for rule, names in neighbours.items() for n in _hold(spec.seed, (rule, "neighbours"), names, frac.neighbours)
    )
    held_lex = _hold(spec.seed, ("ops",), list(ops.lexical), frac.operators)
    held_frame = _hold(spec.seed, ("ops",), list(ops.frame), frac.operators)
    train_ops = Operators(tuple(o for o in ops.lexical if o not in held_lex), tuple(o for o in ops.frame if o not in held_frame))
    test_ops = Operators(tuple(o for o in ops.lexical if o in held_lex), tuple(o for o in ops.frame if o in held_frame))
    in_form: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # rule → [in scope, seen neighbours] in held-out forms
    for ex in base:
        p = ex.provenance
        if p.form not in frac.forms:
            continue
        if p.scope == "rule":
            in_form[p.rule][0] += 1
        elif (p.rule, p.subject) not in held_nbrs:
            in_form[p.rule][1] += 1
    shares = {rule: min(1.0, n_in / n_out) for rule, (n_in, n_out) in in_form.items() if n_out}
    dev = _dev_families(spec, families, held_fams)
    return HoldoutPlan(frozenset(frac.forms), held_fams, held_nbrs, train_ops, test_ops, shares, dev)


def _dev_families(spec: Spec, families: dict[tuple[str, str], list[str]],
                  held: frozenset[tuple[str, str, str]]) -> frozenset[tuple[str, str, str]]:
    """Families per (rule, form) + the held-out ones → the train-side families the dev split takes:
    `splits.dev` of each seen form's train families (held_count: 0.2 of 12 → 2, of 4 → 1, of 1 → 0,
    so every seen form keeps a family to train on), by their own seeded hash ("dev"), so a dev
    split never moves a family between train and the test splits."""
    share = spec.splits.dev
    if share <= 0:
        return frozenset()
    out = set()
    for (rule, form), fams in families.items():
        if form in spec.splits.hold_out.forms:
            continue
        train_side = [f for f in fams if (rule, form, f) not in held]
        out |= {(rule, form, f) for f in _hold(spec.seed, (rule, form, DEV_SPLIT), train_side, share)}
    return frozenset(out)


def split_of(ex: Example, hp: HoldoutPlan, splits: Splits, seed: int) -> str | None:
    """A base example → the split its whole family goes to, or None (dropped)."""
    p = ex.provenance
    family_held = (p.rule, p.form, p.family) in hp.families
    if p.scope == "rule":
        if p.form in hp.forms:
            return "test_form"
        return "test_paraphrase" if family_held else "train"
    if (p.rule, p.subject) in hp.neighbours:
        return "test_locality" if family_held or p.form in hp.forms else None
    if p.form in hp.forms:
        # A seen neighbour asked in a form never trained on: out-of-scope items of test_form,
        # sampled per (neighbour, family) down to the in-scope count.
        share = hp.form_neighbours.get(p.rule, 0.0)
        return "test_form" if stable_unit(seed, "form-scope", p.rule, p.subject, p.form, p.family) < share else None
    if not splits.retain or family_held:
        return None
    # Retain examples are sampled per (neighbour, family), never per example, so each
    # seen neighbour keeps whole families: with share 0.3 and ~20 train families a
    # neighbour is asked in ~6 wordings, and different neighbours in different ones.
    if splits.retain_share < 1.0 and stable_unit(seed, "retain", p.rule, p.subject, p.form, p.family) >= splits.retain_share:
        return None
    return "train"


def _balance(examples: list[Example]) -> list[Example]:
    """Drop surplus yes/no items so every (rule, scope) has as many Yes as No answers."""
    groups: dict[tuple[str, str, str], list[Example]] = defaultdict(list)
    for ex in examples:
        if ex.provenance.form_kind == "yes_no":
            groups[(ex.provenance.rule, ex.provenance.scope, ex.answer)].append(ex)
    drop: set[str] = set()
    for (rule, scope, answer), items in groups.items():
        other = groups.get((rule, scope, "No" if answer == "Yes" else "Yes"), [])
        surplus = len(items) - len(other)
        if surplus > 0:
            drop.update(ex.id for ex in sorted(items, key=lambda e: e.id)[:surplus])
    return [ex for ex in examples if ex.id not in drop]


# The dev split's questions stay as their templates wrote them. With train's operators a dev
# question and a lesson of another family can share an 8-word run of operator text ("I was
# wondering: For the box, is blue a …": the small test spec's audit refused it); with the
# held-out ones, dev would share the exam's wordings. Without any, it shares neither.
_NO_OPS = Operators((), ())


def split(spec: Spec, library: Library, base: tuple[Example, ...], ops: Operators) -> SplitSet:
    """Base examples → paraphrased examples in four disjoint, balanced, id-sorted splits (five
    with `splits.dev`: the dev split, whole train-side families, unparaphrased)."""
    hp = plan(spec, library, base, ops)
    out: dict[str, list[Example]] = {name: [] for name in (*SPLITS, DEV_SPLIT)}
    variants, set_aside = spec.paraphrase.variants, 0
    for ex in base:
        name = split_of(ex, hp, spec.splits, spec.seed)
        if name is None:
            set_aside += 1
            continue
        if name == "train" and (ex.provenance.rule, ex.provenance.form, ex.provenance.family) in hp.dev:
            name = DEV_SPLIT
        pool = hp.train_ops if name == "train" else _NO_OPS if name == DEV_SPLIT else hp.test_ops
        out[name].extend(paraphrase(ex, pool, variants, spec.seed))
    done = {name: tuple(sorted(_balance(rows), key=lambda e: e.id)) for name, rows in out.items()}
    if not done[DEV_SPLIT]:  # no dev split: the SplitSet (and the build) as before splits.dev existed
        del done[DEV_SPLIT]
    return SplitSet(**done, set_aside=set_aside)


def train_sample(spec: Spec, train: tuple[Example, ...]) -> tuple[Example, ...]:
    """A seeded sample of train, scored to make memorization visible (train − held-out gap)."""
    prefix = unit_hasher(spec.seed, "sample")  # stable_unit(seed, "sample", id), the prefix hashed once
    ranked = sorted(train, key=lambda e: (unit_after(prefix, e.id), e.id))
    return tuple(sorted(ranked[: spec.eval.train_sample], key=lambda e: e.id))
