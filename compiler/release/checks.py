"""One check of the spec's gate → its CheckResult: the score a check may use (Checker: fail
closed on a missing, unfinished, foreign or inconsistent arm or drift file), then one function
per check kind (RUNNERS), the no_regression checks against a baseline, and the exact McNemar
test the beats_* checks use.

Pure: (Check, its name, a Checker over the arms) → CheckResult; gate.decide runs them and
assembles the Verdict.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from ..evaluation.results import ArmResult, DriftResult, DriftScore, Score
from ..evaluation.stats import mcnemar_exact
from ..names import ARMS, READINGS, REPORT_ARMS, SCORED_SPLITS
from ..spec.model import (
    GENERAL_CHECK_KINDS,
    BeatsBase,
    BeatsConstant,
    BeatsPrompted,
    Check,
    MaxCollapsed,
    MaxDropVsBase,
    MaxGap,
    MaxGeneralDrift,
    MinAccuracy,
)
from .verdict import BaselineVerdict, BuildRef, CheckResult


def usable(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _score_problem(score: Score | None, arm: str, split: str, reading: str) -> str | None:
    """A score a check can use → None; otherwise the sentence saying what is wrong with it."""
    where = f"{arm} arm, {split} ({reading})"
    if score is None:
        return f"{where}: no score was recorded"
    if score.n <= 0:
        return f"{where}: the split is empty (n = {score.n})"
    if not usable(score.acc) or not 0.0 <= score.acc <= 1.0:
        return f"{where}: accuracy is {score.acc!r}, not a number in [0, 1]"
    if len(score.samples) != score.n:
        return f"{where}: n = {score.n} but {len(score.samples)} per-item records"
    right = sum(s.correct for s in score.samples)
    if abs(score.acc - right / score.n) > 1e-9:  # the records are what the gate can check; a bare number is not
        return f"{where}: accuracy {score.acc!r} does not match its per-item records ({right} of {score.n} right)"
    # min_accuracy's Wilson bound and the report read these: they too must be what the records give
    again = Score.from_samples(score.split, score.reading, score.samples)
    for name in ("stderr", "wilson_low", "wilson_high"):
        got, want = getattr(score, name), getattr(again, name)
        if not ((math.isnan(got) and math.isnan(want)) or abs(got - want) <= 1e-9):  # nan: n = 1 has no stderr
            return f"{where}: {name} {got!r} does not match its per-item records ({want!r})"
    return None


def _arm_problem(name: str, arm: ArmResult | None, build_sha: str | None, adapter_sha: str | None) -> str | None:
    """An arm a check can use → None; otherwise the sentence saying what is wrong with it.
    `adapter_sha`: the adapter the tuned arm must have scored (verify.verify_run verified it), or None."""
    if arm is None:
        if name not in ARMS:  # computed by the gate, not read from a file
            return f"{name} arm: not computed (the gate computes it from the build: constant.constant_arm)"
        return f"{name} arm: no evaluation result (eval/{name}.json is missing or unreadable)"
    if arm.arm != name:
        return f"{name} arm: the result file holds the {arm.arm!r} arm"
    if not arm.complete:
        why = "; ".join(arm.problems) or "complete = false"
        return f"{name} arm: the evaluation did not finish ({why})"
    if build_sha is not None and arm.build_sha256 != build_sha:
        return f"{name} arm: scored on another build (build sha256 {arm.build_sha256[:12]} ≠ {build_sha[:12]})"
    if name == "tuned" and adapter_sha is not None and arm.adapter_sha256 != adapter_sha:
        return _other_adapter("tuned arm: scored", arm.adapter_sha256, adapter_sha)
    return None


def _other_adapter(what: str, recorded: str, adapter_sha: str) -> str:
    if not recorded:
        return f"{what} an adapter it does not name (no adapter_sha256); re-run `syllabus eval --adapter`"
    return f"{what} another adapter (adapter sha256 {recorded[:12]} ≠ {adapter_sha[:12]} in run.json)"


class Checker:
    """Evaluates checks against one set of arms; collects reasons as it goes.

    An evaluated arm (names.ARMS) that is missing or unusable makes the whole verdict
    incomplete (`bad_arms`); the constant arm only the checks that read it (`unusable`)."""

    def __init__(self, arms: Mapping[str, ArmResult | None], expected: BuildRef | None,
                 general: DriftResult | None = None, adapter_sha: str | None = None):
        self.arms, self.general, self.adapter_sha = arms, general, adapter_sha
        self.reasons: list[str] = []
        self.unusable: dict[str, str] = {}
        # Without the expected build, every arm must agree with the tuned arm (or the first present).
        present = [a for a in (arms.get("tuned"), *(arms.get(n) for n in REPORT_ARMS)) if a is not None]
        build_sha = expected.sha256 if expected else (present[0].build_sha256 if present else None)
        for name in REPORT_ARMS:
            problem = _arm_problem(name, arms.get(name), build_sha, adapter_sha)
            if problem is not None:
                self.unusable[name] = problem
        self.bad_arms = {name: why for name, why in self.unusable.items() if name in ARMS}
        self.reasons.extend(self.bad_arms.values())
        self.build_sha = build_sha

    def drift(self, split: str) -> tuple[DriftScore | None, str | None]:
        """split → (usable drift score, None) or (None, why not): the file is there, finished,
        of this build, the split scored, its figures finite and given by its per-item records."""
        g = self.general
        if g is None:
            return None, "general drift: not measured (eval/general.json is missing or unreadable)"
        if not g.complete:
            return None, f"general drift: the measurement did not finish ({'; '.join(g.problems) or 'complete = false'})"
        if self.build_sha is not None and g.build_sha256 != self.build_sha:
            return None, f"general drift: measured on another build (build sha256 {g.build_sha256[:12]} ≠ {self.build_sha[:12]})"
        if self.adapter_sha is not None and g.adapter_sha256 != self.adapter_sha:
            return None, _other_adapter("general drift: measured with", g.adapter_sha256, self.adapter_sha)
        score = g.score(split)
        if score is None:
            return None, f"general drift, {split}: no score was recorded"
        return (None, problem) if (problem := _drift_problem(score)) else (score, None)

    def score(self, arm: str, split: str, reading: str) -> tuple[Score | None, str | None]:
        """(arm, split, reading) → (usable score, None) or (None, why not)."""
        if arm in self.unusable:
            return None, self.unusable[arm]
        result = self.arms[arm]
        assert result is not None  # unusable holds every missing arm
        score = result.score(split, reading)
        problem = _score_problem(score, arm, split, reading)
        return (None, problem) if problem else (score, None)


def _drift_problem(score: DriftScore) -> str | None:
    """A drift score a check can use → None; otherwise the sentence saying what is wrong with it."""
    where = f"general drift, {score.split}"
    if score.n <= 0:
        return f"{where}: the split is empty (n = {score.n})"
    if len(score.items) != score.n:
        return f"{where}: n = {score.n} but {len(score.items)} per-item records"
    if not all(usable(x) for x in (score.drift, score.collapsed_share)):
        return f"{where}: drift {score.drift!r}, collapsed share {score.collapsed_share!r}: not numbers"
    again = DriftScore.from_items(score.split, score.items)  # what the per-item records give
    if not usable(again.drift) or abs(again.drift - score.drift) > 1e-9 or again.collapsed != score.collapsed \
            or abs(again.collapsed_share - score.collapsed_share) > 1e-12:
        return (f"{where}: the recorded drift {score.drift!r} and collapsed {score.collapsed} are not what the per-item "
                f"records give ({again.drift!r}, {again.collapsed})")
    return None


def _incomplete(name: str, check: Check, threshold: float, why: str) -> CheckResult:
    return CheckResult(name, check.kind, check.split, reading_of(check), None, math.nan, threshold, f"not evaluated: {why}")


def reading_of(check: Check) -> str:
    """A resolved check → its reading (decide resolves every None before any check runs); ""
    for a check of general drift, which reads no accuracy."""
    if check.kind in GENERAL_CHECK_KINDS:
        return ""
    assert check.reading is not None, "decide resolves a check's reading before running it"  # type: ignore[union-attr]
    return check.reading  # type: ignore[union-attr]


def _min_accuracy(c: MinAccuracy, name: str, ck: Checker) -> CheckResult:
    rd = reading_of(c)
    s, why = ck.score("tuned", c.split, rd)
    if s is None:
        return _incomplete(name, c, c.min, why or "")
    observed = s.acc if c.bound == "point" else s.wilson_low
    if not usable(observed):
        return _incomplete(name, c, c.min, f"tuned arm, {c.split} ({rd}): Wilson lower bound is {observed!r}")
    what = "accuracy" if c.bound == "point" else "Wilson 95% lower bound of accuracy"
    ok = observed >= c.min
    detail = f"tuned {what} on {c.split} ({rd}) is {observed:.3f} (n = {s.n}); needs ≥ {c.min:.3f}"
    return CheckResult(name, c.kind, c.split, rd, ok, observed, c.min, detail)


def _max_drop(c: MaxDropVsBase, name: str, ck: Checker) -> CheckResult:
    rd = reading_of(c)
    t, why_t = ck.score("tuned", c.split, rd)
    b, why_b = ck.score("base", c.split, rd)
    if t is None or b is None:
        return _incomplete(name, c, c.max, "; ".join(w for w in (why_t, why_b) if w))
    drop = b.acc - t.acc  # positive = tuned got worse than base
    ok = drop <= c.max + 1e-12  # 0.95 − 0.90 is 0.04999…; a drop equal to the limit passes
    detail = (
        f"tuned accuracy on {c.split} ({rd}) is {t.acc:.3f} vs base {b.acc:.3f}: "
        f"a drop of {drop:+.3f}; allowed ≤ {c.max:.3f}"
    )
    return CheckResult(name, c.kind, c.split, rd, ok, drop, c.max, detail)


def _pair(t: Score, r: Score, ref: str) -> tuple[int, int, int] | str:
    """Tuned and reference-arm samples → (n paired, b = only tuned right, c = only the reference right), or why not."""
    if not t.samples or not r.samples:
        return f"no per-item records to pair tuned with {ref}"
    tuned, other = t.correct_by_id(), r.correct_by_id()
    if len(tuned) != len(t.samples) or len(other) != len(r.samples):
        return "an item id occurs twice in the per-item records"
    if tuned.keys() != other.keys():
        only_t, only_r = len(tuned.keys() - other.keys()), len(other.keys() - tuned.keys())
        return f"tuned and {ref} were scored on different items ({only_t} only in tuned, {only_r} only in {ref})"
    gains = sum(1 for i, ok in tuned.items() if ok and not other[i])
    losses = sum(1 for i, ok in tuned.items() if other[i] and not ok)
    return len(tuned), gains, losses


def _beats(c: BeatsBase | BeatsPrompted | BeatsConstant, name: str, ck: Checker, ref: str,
           alpha: float | None) -> CheckResult:
    """Tuned vs a reference arm on the items both scored: a gain of at least `min_gain`, and
    more items won than lost (so a gain of 0 never passes); with `alpha`, also a significant
    paired exact McNemar test. Without it the p-value is shown, not required."""
    rd = reading_of(c)
    t, why_t = ck.score("tuned", c.split, rd)
    r, why_r = ck.score(ref, c.split, rd)
    if t is None or r is None:
        return _incomplete(name, c, c.min_gain, "; ".join(w for w in (why_t, why_r) if w))
    paired = _pair(t, r, ref)
    if isinstance(paired, str):
        return _incomplete(name, c, c.min_gain, f"{c.split} ({rd}): {paired}")
    n, gains, losses = paired
    gain = (gains - losses) / n  # = tuned accuracy − the reference's on the paired items
    p = mcnemar_exact(gains, losses)
    ok = gains > losses and gain >= c.min_gain - 1e-12 and (alpha is None or p <= alpha)
    needs = "> 0.000" if c.min_gain <= 0 else f"≥ {c.min_gain:.3f}"  # more won than lost is always required
    test = f"needs ≤ {alpha:g}" if alpha is not None else "shown, not required"
    detail = (
        f"tuned vs {ref} on {c.split} ({rd}): gain {gain:+.3f} (needs {needs}); "
        f"McNemar exact p = {p:.4g} ({test}) from {gains} items won, {losses} lost of {n}"
    )
    return CheckResult(name, c.kind, c.split, rd, ok, gain, c.min_gain, detail)


def _beats_base(c: BeatsBase, name: str, ck: Checker) -> CheckResult:
    return _beats(c, name, ck, "base", c.alpha)


def _beats_prompted(c: BeatsPrompted, name: str, ck: Checker) -> CheckResult:
    return _beats(c, name, ck, "prompted", c.alpha)


def _beats_constant(c: BeatsConstant, name: str, ck: Checker) -> CheckResult:
    return _beats(c, name, ck, "constant", None)


def _max_gap(c: MaxGap, name: str, ck: Checker) -> CheckResult:
    rd = reading_of(c)
    tr, why_tr = ck.score("tuned", "train_sample", rd)
    s, why_s = ck.score("tuned", c.split, rd)
    if tr is None or s is None:
        return _incomplete(name, c, c.max, "; ".join(w for w in (why_tr, why_s) if w))
    gap = tr.acc - s.acc
    ok = gap <= c.max + 1e-12
    detail = (
        f"tuned accuracy on train_sample ({rd}) is {tr.acc:.3f} vs {s.acc:.3f} on {c.split}: "
        f"a memorization gap of {gap:+.3f}; allowed ≤ {c.max:.3f}"
    )
    return CheckResult(name, c.kind, c.split, rd, ok, gap, c.max, detail)


def _max_general_drift(c: MaxGeneralDrift, name: str, ck: Checker) -> CheckResult:
    s, why = ck.drift(c.split)
    if s is None:
        return _incomplete(name, c, c.max, why or "")
    ok = s.drift <= c.max + 1e-12
    detail = (f"the base model's replies to {s.n} held-out general prompts lost {s.drift:.3f} ± {s.drift_stderr:.3f} "
              f"nats/token under the tuned model (0 = unchanged); allowed ≤ {c.max:.3f}")
    return CheckResult(name, c.kind, c.split, "", ok, s.drift, c.max, detail)


def _max_collapsed(c: MaxCollapsed, name: str, ck: Checker) -> CheckResult:
    s, why = ck.drift(c.split)
    if s is None:
        return _incomplete(name, c, c.max, why or "")
    ok = s.collapsed_share <= c.max + 1e-12
    detail = (f"{s.collapsed} of {s.n} tuned replies to held-out general prompts collapsed (≤ 3 words where the base "
              f"wrote ≥ 8): {s.collapsed_share:.3f}, Wilson 95% [{s.wilson_low:.2f}, {s.wilson_high:.2f}]; "
              f"allowed ≤ {c.max:.3f}")
    return CheckResult(name, c.kind, c.split, "", ok, s.collapsed_share, c.max, detail)


def regressions(checks: Sequence[Check], baseline: BaselineVerdict, ck: Checker) -> list[CheckResult]:
    """One no_regression check per held-out (split, reading) the gate's checks use.

    Tolerance: the baseline's own sampling noise. The tuned accuracy must not fall
    below the lower end of the baseline's Wilson 95 % interval (e.g. baseline 0.92 on
    n = 100 → interval [0.850, 0.959] → this run needs ≥ 0.850)."""
    pairs = sorted({(c.split, reading_of(c)) for c in checks if c.split != "train_sample" and c.kind not in GENERAL_CHECK_KINDS},
                   key=lambda p: (SCORED_SPLITS.index(p[0]), READINGS.index(p[1])))
    out = []
    for split, reading in pairs:
        base = baseline.score(split, reading)
        if base is None or not usable(base.wilson_low):
            continue  # the last release did not score this: nothing to regress from
        name = f"no_regression[{split},{reading}]"
        s, why = ck.score("tuned", split, reading)
        if s is None:
            out.append(CheckResult(name, "no_regression", split, reading, None, math.nan, base.wilson_low,
                                   f"not evaluated: {why}"))
            continue
        ok = s.acc >= base.wilson_low - 1e-12
        detail = (
            f"tuned accuracy on {split} ({reading}) is {s.acc:.3f} vs {base.acc:.3f} in the last release "
            f"(n = {base.n}); must stay ≥ its Wilson 95% lower bound {base.wilson_low:.3f}"
        )
        out.append(CheckResult(name, "no_regression", split, reading, ok, s.acc, base.wilson_low, detail))
    return out


RUNNERS = {
    "min_accuracy": _min_accuracy,
    "max_drop_vs_base": _max_drop,
    "beats_base": _beats_base,
    "beats_prompted": _beats_prompted,
    "beats_constant": _beats_constant,
    "max_gap": _max_gap,
    "max_general_drift": _max_general_drift,
    "max_collapsed": _max_collapsed,
}
