"""The statistics scores are judged by: Wilson intervals of an accuracy, and the exact McNemar
test of two arms or runs scored on the same items. Pure; one home for the gate (release/checks.py),
the scores (results.py) and `syllabus compare` (comparison/).

mcnemar_exact is computed in log space. The integer sum of binomial coefficients it replaced was
exact but slow past a few thousand discordant items (2 cores: b = 5,000, c = 5,200 took 15 s;
20,000 / 20,500 took 8.6 min); this takes at most min(b, c) float steps (< 1 ms there) and
agrees with the integer sum to 1e-9 (tests/test_comparison.py compares them).
"""

from __future__ import annotations

import math

_LN2 = math.log(2.0)


def wilson_interval(correct: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """k correct of n → Wilson score interval (95 % by default); (nan, nan) when n = 0.

    p̂ ± z·sqrt(p̂(1−p̂)/n + z²/4n²), centred at (p̂ + z²/2n) / (1 + z²/n)."""
    if n == 0:
        return (math.nan, math.nan)
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def mcnemar_exact(b: int, c: int) -> float:
    """Discordant pair counts → two-sided exact McNemar p-value: p = min(1, 2·P(X ≤ min(b, c))),
    X ~ Bin(b + c, ½) (under H0 each discordant item is a fair coin). E.g. b = 1, c = 9:
    2·(C(10,0) + C(10,1))/2¹⁰ = 22/1024 = 0.0215.

    The tail is summed down from its largest term, k = min(b, c): log P(X = k) = log C(n, k) −
    n·log 2 by lgamma, then each term before it is the one after times i / (n − i + 1), added
    until they no longer change the sum. Nothing overflows at any n; a p below ~1e−308 is 0."""
    n = b + c
    if n == 0:
        return 1.0  # no discordant item: no evidence either way
    k = min(b, c)
    if 2 * k >= n:  # b = c: P(X ≤ n/2) > ½, so p ≥ 1
        return 1.0
    log_last = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) - n * _LN2
    total = term = 1.0  # the tail in units of P(X = k)
    for i in range(k, 0, -1):  # P(X = i − 1) = P(X = i) · i / (n − i + 1)
        term *= i / (n - i + 1)
        total += term
        if term < 1e-17 * total:  # the remaining terms shrink faster than this one: done
            break
    return min(1.0, 2.0 * math.exp(log_last + math.log(total)))
