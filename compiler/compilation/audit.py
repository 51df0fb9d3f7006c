"""Leakage audit between every test split and train, in linear time.

Three measurements, each by hashing into sets built once from train (never all-pairs):
- structural: no template family, form or neighbour of a test split reaches train (nor a
  general prompt family of test_general: the train side's general prompts count as train);
- exact: a test prompt equal to a train prompt after normalization (case, punctuation, spaces);
- n-gram: a test prompt sharing any word n-gram (default 8) with some train prompt.

A dev split (splits.dev) is audited the same way against train, and every test split
against it as well (`<test split>~dev`): tuning on dev must not tune on the exam.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from ..records import Example, GeneralPrompt, SplitSet
from ..spec.model import Leakage

_PUNCT = re.compile(r"[^\w\s]")
_MAX_PAIRS = 20  # leaking pairs shown per split: enough to see the pattern


def normalize(text: str) -> str:
    """'Quick question: What colour?' → 'quick question what colour'."""
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def ngrams(words: list[str], n: int) -> list[str]:
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


@dataclass(frozen=True)
class LeakPair:
    kind: str  # "exact" | "ngram" | "structural"
    test_id: str
    test_prompt: str
    train_id: str
    train_prompt: str
    shared: str  # the shared n-gram, normalized text, or the crossing family/form/neighbour


@dataclass(frozen=True)
class SplitAudit:
    split: str
    n: int
    exact: int  # test examples equal to a train example after normalization
    ngram: int  # test examples sharing at least one n-gram with train
    structural: int  # test examples whose family/form/neighbour is also in train
    pairs: tuple[LeakPair, ...]

    def counts(self) -> dict[str, float]:
        """The leak counts a diff compares, by name: every number of the split but its size."""
        return {"exact": self.exact, "ngram": self.ngram, "ngram_share": round(self.ngram_share, 6),
                "structural": self.structural}

    @property
    def ngram_share(self) -> float:
        return self.ngram / self.n if self.n else 0.0


@dataclass(frozen=True)
class AuditReport:
    ngram: int
    splits: tuple[SplitAudit, ...]
    refused: tuple[str, ...]  # why the build is refused; empty when it is clean

    def to_json(self) -> dict:
        return {
            "ngram": self.ngram,
            "refused": list(self.refused),
            "splits": {
                s.split: {
                    "n": s.n,
                    "exact": s.exact,
                    "ngram": s.ngram,
                    "ngram_share": round(s.ngram_share, 6),
                    "structural": s.structural,
                    "pairs": [vars(p) for p in s.pairs],
                }
                for s in self.splits
            },
        }

    def summary(self) -> dict:
        """The manifest's copy: counts only, no pairs."""
        doc = self.to_json()
        for s in doc["splits"].values():
            s.pop("pairs")
        return doc

    @classmethod
    def from_json(cls, doc: Mapping) -> "AuditReport":
        """leakage.json's document, or the manifest's summary (no pairs) → AuditReport; KeyError /
        TypeError name what is missing for the reader to locate (build/read.py, diffs/sides.py)."""
        splits = tuple(
            SplitAudit(split, int(s["n"]), int(s["exact"]), int(s["ngram"]), int(s["structural"]),
                       tuple(LeakPair(**p) for p in s.get("pairs", ())))
            for split, s in doc["splits"].items()
        )
        return cls(int(doc["ngram"]), splits, tuple(doc["refused"]))


def _structural_key(ex: Example | GeneralPrompt, split: str) -> tuple[str, ...]:
    if split == "test_general":  # general prompts: their family within their kind of task
        return ("general", ex.kind, ex.family)  # type: ignore[union-attr]
    p = ex.provenance  # type: ignore[union-attr]
    if split == "test_form":
        return ("form", p.rule, p.form)
    if split == "test_locality":
        return ("neighbour", p.rule, p.subject)
    return ("family", p.rule, p.form, p.family)


def _normalized(rows: Sequence[Example | GeneralPrompt]) -> list[str]:
    """Examples → normalize(prompt) of each.

    One lower() and one regex pass over all prompts joined by newlines rather than one per
    prompt: the same text, a tenth of the calls. A prompt that holds a newline itself (a
    spec's prefix may) would shift the lines, so such a build goes prompt by prompt.
    Returns strings, not word lists: 100k lists kept alive make the garbage collector
    walk them again and again (measured: the audit ran 40% slower)."""
    prompts = [ex.prompt for ex in rows]
    lines = _PUNCT.sub(" ", "\n".join(prompts).lower()).split("\n") if prompts else []
    if len(lines) != len(prompts):
        return [normalize(text) for text in prompts]
    return [" ".join(line.split()) for line in lines]


def audit(splits: SplitSet, limits: Leakage) -> AuditReport:
    """Splits + limits → AuditReport; `refused` lists every limit the build breaks: the test
    splits (and dev) against train, then the test splits against dev (`<test split>~dev`)."""
    report = _audit(splits, limits)
    if not splits.dev:
        return report
    # Dev as the reference side: the same three measurements, each test split against dev.
    against_dev = _audit(dataclasses.replace(splits, train=splits.dev, train_general=(), test_general=(), dev=()),
                         limits, reference="dev")
    named = tuple(dataclasses.replace(sa, split=f"{sa.split}~dev") for sa in against_dev.splits)
    return AuditReport(report.ngram, report.splits + named,
                       report.refused + tuple(f"{r.split(':', 1)[0]}~dev:{r.split(':', 1)[1]}" for r in against_dev.refused))


def _audit(splits: SplitSet, limits: Leakage, reference: str = "train") -> AuditReport:
    """Splits + limits → AuditReport of the test splits (and dev, when `reference` is train)
    against `splits.train`, which is the `reference` side.

    Train is indexed once into hash sets (normalized prompts, word n-grams, structural
    keys); each test example is then a few set lookups. Which train example a leak
    matches is looked up afterwards, for the few pairs shown only."""
    # Train is every prompt a lesson is made of: the rule lessons and the general retain prompts.
    n, train = limits.ngram, (*splits.train, *splits.train_general)
    train_norms = _normalized(train)
    # norm → index of its first train example: dict() keeps the last of equal keys, so feed it reversed.
    exact_index = dict(zip(reversed(train_norms), range(len(train) - 1, -1, -1)))
    gram_set = {g for norm in train_norms for g in ngrams(norm.split(), n)}
    provs = [ex.provenance for ex in splits.train]
    seen: set[tuple[str, ...]] = {("form", p.rule, p.form) for p in provs}
    seen |= {_structural_key(g, "test_general") for g in splits.train_general}
    seen |= {("family", p.rule, p.form, p.family) for p in provs}
    seen |= {("neighbour", p.rule, p.subject) for p in provs if p.scope == "neighbour"}
    results, refused = [], []
    tests: list[tuple[str, Sequence[Example | GeneralPrompt]]] = [*splits.items()[1:]]
    if splits.test_general:
        tests.append(("test_general", splits.test_general))
    if splits.dev:  # whole train-side families: audited like a test split (structural key: its family)
        tests.append(("dev", splits.dev))
    for name, rows in tests:
        norms = _normalized(rows)
        structural_hit = [_structural_key(ex, name) in seen for ex in rows]
        exact_hit = [norm in exact_index for norm in norms]
        gram_hit = [not gram_set.isdisjoint(ngrams(norm.split(), n)) for norm in norms]
        pairs: list[LeakPair] = []
        for i, ex in enumerate(rows):
            if len(pairs) == _MAX_PAIRS:
                break
            if structural_hit[i]:
                pairs.append(LeakPair("structural", ex.id, ex.prompt, "", "", " ".join(_structural_key(ex, name))))
            elif exact_hit[i]:
                other = train[exact_index[norms[i]]]
                pairs.append(LeakPair("exact", ex.id, ex.prompt, other.id, other.prompt, norms[i]))
            elif gram_hit[i]:
                shared = next(g for g in ngrams(norms[i].split(), n) if g in gram_set)
                pairs.append(LeakPair("ngram", ex.id, ex.prompt, "", "", shared))  # train side: below
        structural, exact, gram = sum(structural_hit), sum(exact_hit), sum(gram_hit)
        sa = SplitAudit(name, len(rows), exact, gram, structural, tuple(pairs))
        results.append(sa)
        if structural:
            refused.append(f"{name}: {structural} examples share a family/form/neighbour with {reference}")
        if exact > limits.max_exact:
            refused.append(f"{name}: {exact} examples equal a {reference} example (limit {limits.max_exact})")
        if sa.ngram_share > limits.max_ngram_share:
            refused.append(
                f"{name}: {gram} of {len(rows)} examples ({sa.ngram_share:.1%}) share a {n}-gram with {reference} "
                f"(limit {limits.max_ngram_share:.1%})"
            )
    return AuditReport(n, tuple(_with_train_side(results, train, train_norms, n)), tuple(refused))


def _with_train_side(results: list[SplitAudit], train, train_norms, n: int) -> list[SplitAudit]:
    """Fill in each n-gram pair's train example: the first in train order with that n-gram.
    One pass over train, only when a shown pair needs it (≤ 20 per split)."""
    needed = {p.shared for sa in results for p in sa.pairs if p.kind == "ngram"}
    first: dict[str, Example] = {}
    for ex, norm in zip(train, train_norms) if needed else ():
        for g in ngrams(norm.split(), n):
            if g in needed and g not in first:
                first[g] = ex
        if len(first) == len(needed):
            break
    fill = lambda p: dataclasses.replace(p, train_id=first[p.shared].id, train_prompt=first[p.shared].prompt)  # noqa: E731
    return [
        dataclasses.replace(sa, pairs=tuple(fill(p) if p.kind == "ngram" else p for p in sa.pairs)) for sa in results
    ]
