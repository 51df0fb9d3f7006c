"""The statistics a comparison of runs prints: Wilson 95 % intervals for each run's accuracy,
the exact McNemar test for two runs scored on the same items, and Holm's correction when one
table holds several such tests. Pure.

wilson_interval and mcnemar_exact have one home, evaluation/stats.py (the gate uses them too),
and are re-exported here; holm and discordant are the comparison's own.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from ..evaluation.stats import mcnemar_exact, wilson_interval

__all__ = ["wilson_interval", "mcnemar_exact", "holm", "discordant"]

def holm(pvalues: Sequence[float]) -> tuple[float, ...]:
    """p-values of m tests → Holm–Bonferroni adjusted p-values, in the same order.

    Sorted ascending p₍₁₎ ≤ … ≤ p₍ₘ₎, the k-th (1-based) is multiplied by m − k + 1, capped at 1,
    and made monotone (never below the one before it): reject where adjusted < α controls the
    family-wise error at α. E.g. (0.01, 0.04, 0.03) → 0.01·3 = 0.03, 0.03·2 = 0.06,
    max(0.06, 0.04·1) = 0.06 → (0.03, 0.06, 0.06)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: (pvalues[i], i))  # ties keep their order: deterministic
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return tuple(adjusted)


def discordant(a: Mapping[str, bool], b: Mapping[str, bool], ids: Sequence[str]) -> tuple[int, int]:
    """Two runs' correctness by item id + the ids both scored → (items only a got right, items
    only b got right): McNemar's b and c. Items both got right or both wrong say nothing about
    which run is better, so the test reads only these two counts."""
    only_a = sum(1 for i in ids if a[i] and not b[i])
    only_b = sum(1 for i in ids if b[i] and not a[i])
    return only_a, only_b
