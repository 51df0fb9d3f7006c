"""Leakage audit between every test split and train, in linear time.

Three measurements, each by hashing into sets built once from train (never all-pairs):
- structural: no template family, form or neighbour of a test split reaches train;
- exact: a test prompt equal to a train prompt after normalization (case, punctuation, spaces);
- n-gram: a test prompt sharing any word n-gram (default 8) with some train prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .records import Example, SplitSet
from .spec import Leakage

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


def _structural_key(ex: Example, split: str) -> tuple[str, ...]:
    p = ex.provenance
    if split == "test_form":
        return ("form", p.rule, p.form)
    if split == "test_locality":
        return ("neighbour", p.rule, p.subject)
    return ("family", p.rule, p.form, p.family)


def audit(splits: SplitSet, limits: Leakage) -> AuditReport:
    """Splits + limits → AuditReport; `refused` lists every limit the build breaks."""
    n = limits.ngram
    exact_index: dict[str, Example] = {}
    gram_index: dict[str, Example] = {}
    seen: set[tuple[str, ...]] = set()
    for ex in splits.train:
        norm = normalize(ex.prompt)
        exact_index.setdefault(norm, ex)
        for g in ngrams(norm.split(), n):
            gram_index.setdefault(g, ex)
        p = ex.provenance
        seen.update({("form", p.rule, p.form), ("family", p.rule, p.form, p.family)})
        if p.scope == "neighbour":
            seen.add(("neighbour", p.rule, p.subject))
    results, refused = [], []
    for name, rows in splits.items()[1:]:
        exact = gram = structural = 0
        pairs: list[LeakPair] = []
        for ex in rows:
            norm = normalize(ex.prompt)
            key = _structural_key(ex, name)
            hit: LeakPair | None = None
            if key in seen:
                structural += 1
                hit = LeakPair("structural", ex.id, ex.prompt, "", "", " ".join(key))
            if norm in exact_index:
                exact += 1
                other = exact_index[norm]
                hit = hit or LeakPair("exact", ex.id, ex.prompt, other.id, other.prompt, norm)
            shared = next((g for g in ngrams(norm.split(), n) if g in gram_index), None)
            if shared is not None:
                gram += 1
                other = gram_index[shared]
                hit = hit or LeakPair("ngram", ex.id, ex.prompt, other.id, other.prompt, shared)
            if hit and len(pairs) < _MAX_PAIRS:
                pairs.append(hit)
        sa = SplitAudit(name, len(rows), exact, gram, structural, tuple(pairs))
        results.append(sa)
        if structural:
            refused.append(f"{name}: {structural} examples share a family/form/neighbour with train")
        if exact > limits.max_exact:
            refused.append(f"{name}: {exact} examples equal a train example (limit {limits.max_exact})")
        if sa.ngram_share > limits.max_ngram_share:
            refused.append(
                f"{name}: {gram} of {len(rows)} examples ({sa.ngram_share:.1%}) share a {n}-gram with train "
                f"(limit {limits.max_ngram_share:.1%})"
            )
    return AuditReport(n, tuple(results), tuple(refused))
