"""The gate: every fail-closed case, each check kind passing and failing, McNemar by hand, baselines."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from compiler import pipeline
from compiler.errors import EvalIncomplete, UsageError
from compiler.evaluation.stats import mcnemar_exact
from compiler.release.gate import decide, resolve_readings
from compiler.release.verdict import BaselineVerdict, BuildRef, TableRow
from compiler.evaluation.results import ArmResult, Sample, Score, read_arm, wilson_interval
from compiler.spec.model import (BeatsBase, BeatsConstant, BeatsPrompted, Check, Gate, MaxDropVsBase, MaxGap, MinAccuracy,
                           Spec)
from tests._gate_fixtures import SPEC, SHA, arm, example, fake_run, good_arms, k_of_n, reseal, score

DEFAULT = Gate().checks
BUILD = BuildRef("blue-products", SHA)


def _gated(run, baseline):
    """pipeline.gate → (what the CLI prints, exit code)."""
    result = pipeline.gate(run, baseline)
    return result.render(), result.exit_code


def only(arms, **kw):
    return {**arms, **kw}


def test_default_checks_pass_on_a_good_run():
    v = decide(DEFAULT, good_arms(), build=BUILD)
    assert (v.status, v.exit_code) == ("pass", 0), v.reasons
    assert len(v.checks) == 4 and all(c.passed for c in v.checks)
    assert v.reasons == ()


# ---------------------------------------------------------------- fail closed → exit 3


def _incomplete(v, *needles):
    assert (v.status, v.exit_code) == ("incomplete", 3)
    text = " ".join(v.reasons)
    for needle in needles:
        assert needle in text, (needle, v.reasons)


def test_missing_arm_is_incomplete():
    v = decide(DEFAULT, only(good_arms(), tuned=None), build=BUILD)
    _incomplete(v, "tuned arm: no evaluation result")
    assert all(c.passed is None for c in v.checks)


def test_missing_prompted_arm_is_incomplete_even_when_every_check_passes():
    arms = good_arms()
    del arms["prompted"]
    v = decide(DEFAULT, arms, build=BUILD)
    _incomplete(v, "prompted arm")
    assert all(c.passed for c in v.checks)


def test_unfinished_arm_is_incomplete():
    arms = good_arms()
    unfinished = replace(arms["base"], complete=False, problems=("test_form (mc): 3 items scored, the build has 24",))
    v = decide(DEFAULT, only(arms, base=unfinished), build=BUILD)
    _incomplete(v, "base arm: the evaluation did not finish (test_form (mc): 3 items scored, the build has 24)")
    by_kind = {c.kind: c.passed for c in v.checks}
    assert by_kind["min_accuracy"] is True and by_kind["beats_base"] is None and by_kind["max_drop_vs_base"] is None


def test_missing_split_metric_is_incomplete():
    arms = good_arms()
    tuned = arms["tuned"]
    kept = tuple(s for s in tuned.scores if not (s.split == "test_form" and s.reading == "mc"))
    v = decide(DEFAULT, only(arms, tuned=replace(tuned, scores=kept)), build=BUILD)
    _incomplete(v, "tuned arm, test_form (mc): no score was recorded")
    assert [c.passed for c in v.checks if c.split == "test_form"] == [None]


def test_nan_accuracy_is_incomplete():
    arms = good_arms()
    tuned = arms["tuned"]
    scores = tuple(replace(s, acc=math.nan) if s.split == "test_paraphrase" else s for s in tuned.scores)
    v = decide(DEFAULT, only(arms, tuned=replace(tuned, scores=scores)), build=BUILD)
    _incomplete(v, "test_paraphrase (mc): accuracy is nan")


def test_empty_split_is_incomplete():
    arms = good_arms()
    tuned = arms["tuned"]
    scores = tuple(score(s.split, s.reading, []) if s.split == "test_form" else s for s in tuned.scores)
    v = decide(DEFAULT, only(arms, tuned=replace(tuned, scores=scores)), build=BUILD)
    _incomplete(v, "test_form (mc): the split is empty (n = 0)")


def test_mismatched_item_ids_make_the_paired_test_incomplete():
    arms = good_arms()
    base = arms["base"]
    shifted = tuple(score(s.split, s.reading, [x.correct for x in s.samples], prefix="other") for s in base.scores)
    v = decide([BeatsBase(kind="beats_base", split="test_paraphrase")], only(arms, base=replace(base, scores=shifted)), build=BUILD)
    _incomplete(v, "different items (20 only in tuned, 20 only in base)")


def test_duplicate_item_ids_make_the_paired_test_incomplete():
    arms = good_arms()
    dup = Score.from_samples("test_paraphrase", "mc", (Sample("x", True), Sample("x", False)))
    tuned = replace(arms["tuned"], scores=(dup,))
    base = replace(arms["base"], scores=(dup,))
    v = decide([BeatsBase(kind="beats_base", split="test_paraphrase")], only(arms, tuned=tuned, base=base), build=BUILD)
    _incomplete(v, "occurs twice")


def test_arm_scored_on_another_build_is_incomplete():
    arms = good_arms()
    v = decide(DEFAULT, only(arms, base=replace(arms["base"], build_sha256="f" * 64)), build=BUILD)
    _incomplete(v, "base arm: scored on another build")
    # without the expected build, arms must still agree with each other
    v = decide(DEFAULT, only(arms, base=replace(arms["base"], build_sha256="f" * 64)))
    _incomplete(v, "base arm: scored on another build")


def test_file_holding_the_wrong_arm_is_incomplete():
    arms = good_arms()
    v = decide(DEFAULT, only(arms, tuned=replace(arms["base"])), build=BUILD)
    _incomplete(v, "holds the 'base' arm")


# ---------------------------------------------------------------- each check kind


def _one(check, arms=None):
    v = decide([check], arms or good_arms(), build=BUILD)
    assert len(v.checks) == 1
    return v, v.checks[0]


def test_min_accuracy_point_pass_fail_and_boundary():
    v, c = _one(MinAccuracy(kind="min_accuracy", split="test_form", min=0.95))
    assert c.passed and v.exit_code == 0 and c.observed == pytest.approx(0.95)
    v, c = _one(MinAccuracy(kind="min_accuracy", split="test_form", min=0.96))
    assert c.passed is False and v.exit_code == 1 and v.status == "fail"
    assert "test_form" in v.reasons[0] and "0.950" in c.detail


def test_min_accuracy_wilson_lower_bound():
    # 19/20: p̂ = 0.95, z² = 3.8415; centre = (0.95 + 3.8415/40) / (1 + 3.8415/20) = 0.8775;
    # half = 1.96·sqrt(0.95·0.05/20 + 3.8415/1600) / 1.1921 = 0.1136 → lower bound 0.7639.
    v, c = _one(MinAccuracy(kind="min_accuracy", split="test_form", min=0.9, bound="wilson_lower"))
    assert c.passed is False and c.observed == pytest.approx(0.7639, abs=1e-3)
    v, c = _one(MinAccuracy(kind="min_accuracy", split="test_form", min=0.75, bound="wilson_lower"))
    assert c.passed is True


def test_min_accuracy_gen_reading_reads_gen():
    arms = good_arms()
    tuned = arms["tuned"]
    scores = tuple(score(s.split, s.reading, k_of_n(2, 20)) if s.reading == "gen" else s for s in tuned.scores)
    arms["tuned"] = replace(tuned, scores=scores)
    _, mc = _one(MinAccuracy(kind="min_accuracy", split="test_form", min=0.8), arms)
    _, gen = _one(MinAccuracy(kind="min_accuracy", split="test_form", min=0.8, reading="gen"), arms)
    assert mc.passed and gen.passed is False and gen.observed == pytest.approx(0.1)


def _loc_arms(base_k: int, tuned_k: int) -> dict[str, ArmResult]:
    arms = good_arms()
    for name, k in (("base", base_k), ("tuned", tuned_k)):
        a = arms[name]
        arms[name] = replace(a, scores=tuple(score(s.split, s.reading, k_of_n(k, 20)) if s.split == "test_locality" else s
                                             for s in a.scores))
    return arms


def test_max_drop_vs_base():
    arms = _loc_arms(18, 17)  # 0.90 → 0.85: a drop of 0.05
    _, c = _one(MaxDropVsBase(kind="max_drop_vs_base", split="test_locality", max=0.05), arms)
    assert c.passed and c.observed == pytest.approx(0.05)
    v, c = _one(MaxDropVsBase(kind="max_drop_vs_base", split="test_locality", max=0.04), arms)
    assert c.passed is False and v.exit_code == 1
    _, c = _one(MaxDropVsBase(kind="max_drop_vs_base", split="test_locality", max=0.0), _loc_arms(17, 19))
    assert c.passed and c.observed == pytest.approx(-0.1)  # tuned better than base: no drop


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [
        (8, 1, 20 / 512),  # 2·(C(9,0) + C(9,1)) / 2⁹
        (1, 8, 20 / 512),  # symmetric
        (6, 1, 16 / 128),  # 2·(1 + 7) / 2⁷
        (5, 0, 2 / 32),  # 2·1 / 2⁵
        (3, 3, 1.0),  # 2·(1 + 6 + 15 + 20)/64 = 84/64, capped at 1
        (0, 0, 1.0),  # no discordant pairs: no evidence
    ],
)
def test_mcnemar_exact_by_hand(b, c, p):
    assert mcnemar_exact(b, c) == pytest.approx(p, rel=1e-12)


def _paired_arms(gains: int, losses: int, both: int, neither: int) -> dict[str, ArmResult]:
    """Items on test_paraphrase: `gains` only tuned right, `losses` only base right, and the rest."""
    tuned = [True] * gains + [False] * losses + [True] * both + [False] * neither
    base = [False] * gains + [True] * losses + [True] * both + [False] * neither
    arms = good_arms()
    for name, correct in (("tuned", tuned), ("base", base)):
        a = arms[name]
        arms[name] = replace(a, scores=tuple(score(s.split, s.reading, correct) if s.split == "test_paraphrase" else s
                                             for s in a.scores))
    return arms


def test_beats_base_mcnemar_pass_and_fail():
    arms = _paired_arms(8, 1, 5, 6)  # tuned 13/20 = 0.65, base 6/20 = 0.30: gain 0.35, p = 20/512 = 0.039
    _, c = _one(BeatsBase(kind="beats_base", split="test_paraphrase", min_gain=0.3, alpha=0.05), arms)
    assert c.passed and c.observed == pytest.approx(0.35) and "p = 0.03906" in c.detail
    _, c = _one(BeatsBase(kind="beats_base", split="test_paraphrase", min_gain=0.3, alpha=0.01), arms)
    assert c.passed is False  # not significant at 1 %
    _, c = _one(BeatsBase(kind="beats_base", split="test_paraphrase", min_gain=0.4, alpha=0.05), arms)
    assert c.passed is False  # significant, but the gain is too small
    arms = _paired_arms(6, 1, 7, 6)  # p = 16/128 = 0.125
    _, c = _one(BeatsBase(kind="beats_base", split="test_paraphrase", min_gain=0.0, alpha=0.05), arms)
    assert c.passed is False and "p = 0.125" in c.detail


def _vs(ref: str, tuned: list[bool], other: list[bool], split: str = "test_paraphrase") -> dict[str, ArmResult]:
    """good_arms() with tuned and the `ref` arm (base, prompted or constant) scored on `split` as given."""
    arms = good_arms()
    if ref == "constant":
        arms["constant"] = arm("constant", {(s, r): k_of_n(10, 20) for s in ("test_paraphrase", "test_form") for r in ("mc", "gen")})
    for name, correct in (("tuned", tuned), (ref, other)):
        a = arms[name]
        arms[name] = replace(a, scores=tuple(score(s.split, s.reading, correct) if s.split == split else s
                                             for s in a.scores))
    return arms


def _discordant(gains: int, losses: int, both: int, neither: int) -> tuple[list[bool], list[bool]]:
    """(tuned, reference) correctness: `gains` only tuned right, `losses` only the reference right, and the rest."""
    return ([True] * gains + [False] * losses + [True] * both + [False] * neither,
            [False] * gains + [True] * losses + [True] * both + [False] * neither)


def test_beats_prompted_pass_fail_like_beats_base_but_against_prompted():
    arms = _vs("prompted", *_discordant(8, 1, 5, 6))  # tuned 0.65, prompted 0.30: gain 0.35, p = 0.039
    v, c = _one(BeatsPrompted(kind="beats_prompted", split="test_paraphrase", min_gain=0.3), arms)
    assert c.passed and v.exit_code == 0 and c.observed == pytest.approx(0.35)
    assert c.name == "beats_prompted[test_paraphrase,mc]" and c.reading == "mc"
    assert c.detail.startswith("tuned vs prompted on test_paraphrase (mc): gain +0.350") and "p = 0.03906 (needs ≤ 0.05)" in c.detail
    v, c = _one(BeatsPrompted(kind="beats_prompted", split="test_paraphrase", alpha=0.01), arms)
    assert c.passed is False and v.exit_code == 1 and "beats_prompted[test_paraphrase,mc] failed" in v.reasons[0]
    # the base arm is not what it compares with: base is far worse than tuned on every split
    arms = _vs("prompted", *_discordant(1, 8, 5, 6))
    _, c = _one(BeatsPrompted(kind="beats_prompted", split="test_paraphrase"), arms)
    assert c.passed is False and c.observed == pytest.approx(-0.35)


def test_beats_prompted_is_incomplete_without_the_prompted_score():
    arms = good_arms()
    prompted = arms["prompted"]
    arms["prompted"] = replace(prompted, scores=tuple(s for s in prompted.scores if s.split != "test_form"))
    v, c = _one(BeatsPrompted(kind="beats_prompted", split="test_form"), arms)
    assert c.passed is None
    _incomplete(v, "prompted arm, test_form (mc): no score was recorded")


def test_beats_constant_needs_a_strict_gain_and_shows_mcnemar():
    arms = _vs("constant", *_discordant(3, 1, 10, 6))  # tuned 0.65 vs constant 0.55: gain 0.10, p = 0.625
    v, c = _one(BeatsConstant(kind="beats_constant", split="test_paraphrase"), arms)
    assert c.passed and v.exit_code == 0 and c.observed == pytest.approx(0.1) and c.threshold == 0.0
    assert "tuned vs constant on test_paraphrase (mc): gain +0.100 (needs > 0.000)" in c.detail
    assert "p = 0.625 (shown, not required)" in c.detail
    v, c = _one(BeatsConstant(kind="beats_constant", split="test_paraphrase", min_gain=0.15), arms)
    assert c.passed is False and v.exit_code == 1 and "(needs ≥ 0.150)" in c.detail
    # equal accuracy is no gain: "always say blue" scores as well as the tuned model
    v, c = _one(BeatsConstant(kind="beats_constant", split="test_paraphrase"), _vs("constant", *_discordant(2, 2, 9, 7)))
    assert c.passed is False and c.observed == 0.0 and v.status == "fail"


def test_beats_constant_fails_closed_without_the_constant_arm():
    arms = good_arms()  # no constant arm at all
    v, c = _one(BeatsConstant(kind="beats_constant", split="test_form"), arms)
    assert c.passed is None and c.name == "beats_constant[test_form,mc]"
    _incomplete(v, "constant arm: not computed")
    unfinished = arm("constant", {("test_form", "mc"): k_of_n(10, 20)}, complete=False)
    v, _ = _one(BeatsConstant(kind="beats_constant", split="test_form"), {**arms, "constant": replace(unfinished, problems=("test_form: bad row",))})
    _incomplete(v, "constant arm: the evaluation did not finish (test_form: bad row)")
    v, _ = _one(BeatsConstant(kind="beats_constant", split="test_locality"), _vs("constant", *_discordant(3, 1, 10, 6)))
    _incomplete(v, "constant arm, test_locality (mc): no score was recorded")
    other = arm("constant", {("test_form", "mc"): k_of_n(10, 20)}, sha="f" * 64)
    v, _ = _one(BeatsConstant(kind="beats_constant", split="test_form"), {**arms, "constant": other})
    _incomplete(v, "constant arm: scored on another build")


def test_a_missing_constant_arm_only_matters_to_the_checks_that_read_it():
    v = decide(DEFAULT, good_arms(), build=BUILD)  # no constant arm
    assert v.exit_code == 0 and v.reasons == ()
    broken = arm("constant", {}, complete=False)
    assert decide(DEFAULT, {**good_arms(), "constant": broken}, build=BUILD).exit_code == 0


def test_beats_base_fails_when_tuned_is_significantly_worse():
    arms = _paired_arms(1, 8, 5, 6)
    _, c = _one(BeatsBase(kind="beats_base", split="test_paraphrase", min_gain=-1.0, alpha=0.05), arms)
    assert c.passed is False and c.observed == pytest.approx(-0.35)


def test_max_gap():
    arms = good_arms()
    tuned = arms["tuned"]
    scores = tuple(score(s.split, s.reading, [True] * 20 if s.split == "train_sample" else k_of_n(16, 20))
                   for s in tuned.scores)
    arms["tuned"] = replace(tuned, scores=scores)
    _, c = _one(MaxGap(kind="max_gap", split="test_form", max=0.2), arms)
    assert c.passed and c.observed == pytest.approx(0.2)
    v, c = _one(MaxGap(kind="max_gap", split="test_form", max=0.1), arms)
    assert c.passed is False and v.exit_code == 1


def test_gap_is_reported_without_a_check():
    v = decide([], good_arms(), build=BUILD)
    gaps = {(g.split, g.reading): g.gap for g in v.gaps}
    assert gaps[("test_form", "mc")] == pytest.approx(0.0)
    assert gaps[("test_locality", "gen")] == pytest.approx(0.95 - 0.9)
    assert len(gaps) == 6
    assert any("no checks" in r for r in v.reasons)


def test_checks_without_a_reading_use_the_primary_reading():
    arms = good_arms()
    tuned = arms["tuned"]
    arms["tuned"] = replace(tuned, scores=tuple(score(s.split, s.reading, k_of_n(2, 20)) if s.reading == "gen" else s
                                                for s in tuned.scores))
    check = MinAccuracy(kind="min_accuracy", split="test_form", min=0.8)
    assert check.reading is None
    v = decide([check], arms, build=BUILD, primary_reading="gen")
    (c,) = v.checks
    assert (c.name, c.reading, c.passed, c.observed) == ("min_accuracy[test_form,gen]", "gen", False, pytest.approx(0.1))
    assert "(gen)" in c.detail
    v = decide([check], arms, build=BUILD)  # no primary reading given: mc
    assert (v.checks[0].name, v.checks[0].passed) == ("min_accuracy[test_form,mc]", True)
    named = MinAccuracy(kind="min_accuracy", split="test_form", min=0.8, reading="mc")
    assert decide([named], arms, build=BUILD, primary_reading="gen").checks[0].reading == "mc"  # a named reading stays
    assert [c.reading for c in resolve_readings([check, named], "gen")] == ["gen", "mc"]


def test_primary_reading_is_gen_when_any_rule_answers_explained():
    assert Spec.model_validate(SPEC).primary_reading() == "gen"  # answers: explained is the default
    terse = {**SPEC, "answers": "terse"}
    assert Spec.model_validate(terse).primary_reading() == "mc"
    one = {**terse, "rules": [SPEC["rules"][0], {**SPEC["rules"][0], "id": "second", "answers": "explained"}]}
    assert Spec.model_validate(one).primary_reading() == "gen"
    none = {**SPEC, "rules": [{**SPEC["rules"][0], "answers": "terse"}]}
    assert Spec.model_validate(none).primary_reading() == "mc"


def test_duplicate_checks_get_unique_names():
    c = MinAccuracy(kind="min_accuracy", split="test_form", min=0.5)
    v = decide([c, c], good_arms(), build=BUILD)
    assert [x.name for x in v.checks] == ["min_accuracy[test_form,mc]", "min_accuracy[test_form,mc]#2"]


def test_table_covers_every_arm_split_and_reading_in_order():
    v = decide(DEFAULT, good_arms(), build=BUILD)
    assert len(v.table) == 3 * 4 * 2
    assert [r.arm for r in v.table[:8]] == ["base"] * 8
    assert [(r.split, r.reading) for r in v.table[:2]] == [("train_sample", "mc"), ("train_sample", "gen")]
    constant = arm("constant", {("test_form", "gen"): k_of_n(5, 20), ("test_form", "mc"): k_of_n(5, 20)})
    v = decide(DEFAULT, {**good_arms(), "constant": constant}, build=BUILD)
    assert list(dict.fromkeys(r.arm for r in v.table)) == ["base", "prompted", "constant", "tuned"]
    assert [(r.split, r.reading, r.acc) for r in v.table if r.arm == "constant"] == [("test_form", "mc", 0.25),
                                                                                   ("test_form", "gen", 0.25)]


# ---------------------------------------------------------------- regression baseline


def _baseline(k: int, n: int, name: str = "blue-products") -> BaselineVerdict:
    lo, hi = wilson_interval(k, n)
    scores = tuple(TableRow("tuned", s, r, k / n, n, lo, hi) for s in ("test_paraphrase", "test_form", "test_locality")
                   for r in ("mc", "gen"))
    return BaselineVerdict(name, "c" * 64, "pass", scores)


def test_baseline_regression_pass_and_fail():
    # baseline 90/100: Wilson 95 % lower bound 0.8256 (centre 0.8852, half-width 0.0596)
    assert wilson_interval(90, 100)[0] == pytest.approx(0.8256, abs=1e-3)
    arms = _loc_arms(18, 18)  # locality 0.90; test_paraphrase / test_form 0.95
    v = decide(DEFAULT, arms, _baseline(90, 100), BUILD)
    regressions = [c for c in v.checks if c.kind == "no_regression"]
    assert [c.split for c in regressions] == ["test_paraphrase", "test_form", "test_locality"]
    assert v.exit_code == 0 and all(c.passed for c in regressions)
    arms = _loc_arms(16, 16)  # locality 0.80 < 0.8256: a regression (and drop vs base is 0)
    v = decide(DEFAULT, arms, _baseline(90, 100), BUILD)
    assert v.exit_code == 1
    failed = [c for c in v.checks if c.passed is False]
    assert [c.name for c in failed] == ["no_regression[test_locality,mc]"]
    assert "last release" in failed[0].detail and "0.826" in failed[0].detail


def test_baseline_of_another_build_is_bad_input():
    with pytest.raises(UsageError) as err:
        decide(DEFAULT, good_arms(), _baseline(90, 100, name="other-spec"), BUILD)
    assert err.value.exit_code == 2 and "other-spec" in str(err.value)


def test_baseline_without_a_score_for_a_split_adds_no_check():
    base = BaselineVerdict("blue-products", "c" * 64, "pass", ())
    v = decide(DEFAULT, good_arms(), base, BUILD)
    assert [c.kind for c in v.checks if c.kind == "no_regression"] == []


# ---------------------------------------------------------------- never raises


_SPLITS = st.sampled_from(["train_sample", "test_paraphrase", "test_form", "test_locality", "junk"])
_READINGS = st.sampled_from(["mc", "gen", "x"])
_FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, 0.5, 1.0, math.nan])
_SAMPLES = st.lists(st.builds(Sample, st.sampled_from(["a", "b", "c", "d"]), st.booleans()), max_size=6).map(tuple)
_SCORES = st.builds(Score, _SPLITS, _READINGS, _FLOATS, st.integers(-2, 8), _FLOATS, _FLOATS, _FLOATS, _SAMPLES) | st.builds(
    Score.from_samples, _SPLITS, _READINGS, _SAMPLES
)
_ARMS = st.builds(ArmResult, st.sampled_from(["base", "prompted", "constant", "tuned"]), st.just("m"),
                  st.sampled_from([SHA, "f" * 64]), st.booleans(), st.lists(_SCORES, max_size=8).map(tuple))
_CHECK_DOCS = st.fixed_dictionaries({
    "kind": st.sampled_from(["min_accuracy", "max_drop_vs_base", "beats_base", "beats_prompted", "beats_constant",
                             "max_gap"]),
    "split": st.sampled_from(["train_sample", "test_paraphrase", "test_form", "test_locality"]),
    "reading": st.sampled_from(["mc", "gen", None]),
})


def _check(doc: dict) -> Check:
    extra = {"min_accuracy": {"min": 0.5, "bound": "wilson_lower"}, "max_drop_vs_base": {"max": 0.1},
             "beats_base": {}, "beats_prompted": {}, "beats_constant": {}, "max_gap": {"max": 0.1}}[doc["kind"]]
    return TypeAdapter(Check).validate_python({**doc, **extra})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    arms=st.fixed_dictionaries({}, optional={"base": _ARMS | st.none(), "prompted": _ARMS | st.none(),
                                             "constant": _ARMS | st.none(), "tuned": _ARMS | st.none()}),
    checks=st.lists(_CHECK_DOCS, max_size=5),
    with_build=st.booleans(),
    with_baseline=st.booleans(),
    primary=st.sampled_from(["mc", "gen"]),
)
def test_decide_never_raises_and_is_consistent(arms, checks, with_build, with_baseline, primary):
    v = decide([_check(c) for c in checks], arms, _baseline(9, 10) if with_baseline else None, BUILD if with_build else None,
               primary)
    assert (v.status, v.exit_code) in {("pass", 0), ("fail", 1), ("incomplete", 3)}
    assert all(c.reading in ("mc", "gen") and f",{c.reading}]" in c.name for c in v.checks)
    if any(arms.get(a) is None or not arms[a].complete for a in ("base", "prompted", "tuned")):
        assert v.exit_code == 3 and v.reasons
    if any(c.passed is None for c in v.checks):
        assert v.exit_code == 3
    assert v.exit_code == 0 or v.reasons  # anything but a pass says why
    json.dumps([c.detail for c in v.checks])


# ---------------------------------------------------------------- pipeline.gate on a run folder


def test_pipeline_gate_pass_writes_reports(tmp_path):
    run, _ = fake_run(tmp_path, good_arms())
    text, code = _gated(run, None)
    assert code == 0
    # the fixture spec's answers are explained (the default): checks without a reading read gen
    assert "PASS  min_accuracy[test_paraphrase,gen]" in text and "verdict: PASS (exit 0)" in text
    for name in ("verdict.json", "report.md", "report.html", "junit.xml", "adapter/README.md"):
        assert (run / name).is_file(), name
    card = (run / "adapter" / "README.md").read_text()
    assert "Prefer blue paint for boxes and forks." in card  # from the build
    for line in ("- lora_r: 16", "- lora_layers: 0.13, 0.53", "- lora_targets: q_proj, k_proj, v_proj, o_proj",
                 "- lr: 0.0003", "- epochs: 3", "- examples: 40", "- final_loss: 0.1235"):  # from run.json
        assert line in card, line
    assert json.loads((run / "verdict.json").read_text())["run"] == "r1"


def test_report_renders_what_the_gate_writes_and_writes_nothing(tmp_path):
    run, _ = fake_run(tmp_path, good_arms())
    text = pipeline.report(run, "markdown")
    assert not (run / "verdict.json").exists() and not (run / "report.md").exists()  # written nowhere
    assert "min_accuracy[test_paraphrase,gen]" in text
    pipeline.gate(run, None)
    assert (run / "report.md").read_text(encoding="utf-8") == text
    assert pipeline.report(run, "html") == (run / "report.html").read_text(encoding="utf-8")
    assert "verdict: PASS (exit 0)" in pipeline.report(run, "text")
    with pytest.raises(ValueError, match="report format 'pdf'"):
        pipeline.report(run, "pdf")


def _paraphrase_data() -> dict:
    """train (yes/no lessons mostly No) and test_paraphrase with the ids good_arms() scores:
    10 open items answered Blue, then 10 yes/no items, 5 Yes and 5 No."""
    items = [example(f"test_paraphrase-{i}", "Blue", ("Blue", "Red")) for i in range(10)]
    items += [example(f"test_paraphrase-{i}", "Yes" if i % 2 else "No", ("Yes", "No"), "yes_no") for i in range(10, 20)]
    train = [example(f"t{i}", "No" if i else "Yes", ("Yes", "No"), "yes_no") for i in range(3)]
    return {"train": train, "test_paraphrase": items}


def test_pipeline_gate_computes_and_writes_the_constant_arm_and_gates_on_it(tmp_path):
    spec = {**SPEC, "gate": {"checks": [{"kind": "beats_constant", "split": "test_paraphrase"},
                                        {"kind": "beats_prompted", "split": "test_paraphrase", "reading": "mc"}]}}
    run, sha = fake_run(tmp_path, good_arms(), spec, data=_paraphrase_data())
    text, code = _gated(run, None)
    constant = read_arm(run / "eval" / "constant.json")
    assert (constant.arm, constant.complete, constant.build_sha256) == ("constant", True, sha)
    score = constant.score("test_paraphrase", "gen")
    assert score.acc == pytest.approx(15 / 20)  # every open item, and the 5 "No" (train's majority) of 10 yes/no
    assert [s.reply for s in score.samples[9:12]] == ["Blue", "No", "No"]
    assert code == 0, text
    assert "PASS  beats_constant[test_paraphrase,gen]" in text and "PASS  beats_prompted[test_paraphrase,mc]" in text
    assert "constant" in text.splitlines()[1]  # the score table's header
    doc = json.loads((run / "verdict.json").read_text())
    assert doc["scores"]["constant"]["test_paraphrase"]["gen"]["acc"] == pytest.approx(0.75)
    assert [(c["name"], c["reading"]) for c in doc["checks"]] == [("beats_constant[test_paraphrase,gen]", "gen"),
                                                                   ("beats_prompted[test_paraphrase,mc]", "mc")]
    # tuned (good_arms) is right on items 0-18: it wins the "Yes" items 11, 13, 15, 17 and loses none
    assert doc["checks"][0]["observed"] == pytest.approx(4 / 20) and "4 items won, 0 lost of 20" in doc["checks"][0]["detail"]
    md = (run / "report.md").read_text()
    assert "| split | reading | base | prompted | constant | tuned |" in md
    assert "primary reading, gen" in md
    assert "| test_paraphrase | yes_no | gen | 10 |" in md  # the per-form breakdown, per reading


def test_pipeline_gate_beats_constant_fails_closed_when_the_build_data_is_damaged(tmp_path):
    spec = {**SPEC, "gate": {"checks": [{"kind": "beats_constant", "split": "test_paraphrase"},
                                        {"kind": "min_accuracy", "split": "test_paraphrase", "min": 0.9}]}}
    run, _ = fake_run(tmp_path, good_arms(), spec, data=_paraphrase_data())
    build = json.loads((run / "run.json").read_text())["build_path"]
    (Path(build) / "data" / "test_paraphrase.jsonl").write_text("{broken\n", encoding="utf-8")
    reseal(run)  # compiled that way, not altered after: the integrity check passes, the constant arm cannot read it
    text, code = _gated(run, None)
    assert code == 3 and "N/A   beats_constant[test_paraphrase,gen]" in text
    assert "PASS  min_accuracy[test_paraphrase,gen]" in text
    assert "constant arm: the evaluation did not finish (test_paraphrase: " in text
    assert "data/test_paraphrase.jsonl:1: not JSON" in text
    assert read_arm(run / "eval" / "constant.json").complete is False


def test_pipeline_gate_fail_and_baseline(tmp_path):
    arms = _loc_arms(18, 10)  # locality drops 0.40 vs base
    run, _ = fake_run(tmp_path, arms)
    text, code = _gated(run, None)
    assert code == 1 and "FAIL  max_drop_vs_base[test_locality,mc]" in text
    (tmp_path / "other").mkdir()
    good, _ = fake_run(tmp_path / "other", good_arms())
    assert pipeline.gate(good, None).exit_code == 0
    text, code = _gated(run, good / "verdict.json")  # locality 0.50 vs the release's 0.90
    assert code == 1 and "FAIL  no_regression[test_locality,mc]" in text


def test_pipeline_gate_missing_arm_file_writes_an_incomplete_verdict(tmp_path):
    run, _ = fake_run(tmp_path, good_arms())
    (run / "eval" / "tuned.json").unlink()  # a malformed one is bad input (2): test_integrity.py
    text, code = _gated(run, None)
    assert code == 3 and "tuned arm: no evaluation result" in text
    assert json.loads((run / "verdict.json").read_text())["status"] == "incomplete"


def test_pipeline_gate_bad_run_dirs(tmp_path):
    with pytest.raises(UsageError):
        pipeline.gate(tmp_path / "nope", None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvalIncomplete) as err:
        pipeline.gate(tmp_path / "empty", None)
    assert err.value.exit_code == 3
    run, sha = fake_run(tmp_path, good_arms())
    meta = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**meta, "build_sha256": "0" * 64}))
    with pytest.raises(UsageError, match="build changed"):
        pipeline.gate(run, None)
    (run / "run.json").write_text(json.dumps({"status": "complete", "model": "default"}))
    with pytest.raises(UsageError, match="not a run record as `syllabus train` writes it"):
        pipeline.gate(run, None)
    (run / "run.json").write_text(json.dumps({**meta, "build_path": None}))
    with pytest.raises(UsageError, match="build_path"):
        pipeline.gate(run, None)
    (run / "run.json").unlink()
    with pytest.raises(EvalIncomplete):
        pipeline.gate(run, None)


def test_pipeline_gate_baseline_file_problems_are_bad_input(tmp_path):
    run, _ = fake_run(tmp_path, good_arms())
    with pytest.raises(UsageError, match="cannot read"):
        pipeline.gate(run, tmp_path / "missing.json")
    (tmp_path / "v.json").write_text(json.dumps({"schema": 1}))
    with pytest.raises(UsageError, match="not a syllabus verdict"):
        pipeline.gate(run, tmp_path / "v.json")


# ---------------------------------------------------------------- faults planted in a finished run


def _edit_json(path: Path, edit) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    edit(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")


@pytest.mark.parametrize("status", ["interrupted", "running", "failed", None])
def test_gate_refuses_a_run_that_did_not_finish_training(tmp_path, status):
    run, _ = fake_run(tmp_path, good_arms())
    _edit_json(run / "run.json", lambda d: d.update(status=status) if status else d.pop("status"))
    with pytest.raises(EvalIncomplete, match="not 'complete': training did not finish") as err:
        pipeline.gate(run, None)
    assert err.value.exit_code == 3


def test_gate_refuses_complete_written_as_a_string(tmp_path):
    run, _ = fake_run(tmp_path, good_arms())
    _edit_json(run / "eval" / "tuned.json", lambda d: d.update(complete="false"))
    text, code = _gated(run, None)
    assert code == 3 and "tuned arm: the evaluation did not finish (complete is 'false', not a JSON true or false)" in text


@pytest.mark.parametrize("fault", ["no records", "accuracy above its records"])
def test_gate_trusts_per_item_records_not_a_bare_accuracy(tmp_path, fault):
    run, _ = fake_run(tmp_path, good_arms())

    def plant(doc):
        for s in doc["scores"]:
            if fault == "no records":
                s["samples"] = []  # n stays as it was
            else:
                s["acc"] = 1.0
                for x in s["samples"]:
                    x["correct"] = False

    _edit_json(run / "eval" / "tuned.json", plant)
    text, code = _gated(run, None)
    assert code == 3
    assert ("per-item records" in text) if fault == "no records" else ("does not match its per-item records" in text)


def test_a_gate_without_checks_never_passes():
    verdict = decide([], good_arms())
    assert verdict.status == "incomplete" and verdict.exit_code == 3
    assert any("no checks" in r for r in verdict.reasons)
