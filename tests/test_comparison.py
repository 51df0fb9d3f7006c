"""`syllabus compare`: the statistics against known values, tables from fake finished runs,
McNemar + Holm numbers by hand, refusals (different builds, unfinished or unverifiable runs,
paths that are no runs), shared-item counts across builds, and every output format."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from compiler.comparison.command import compare_command
from compiler.comparison.compare import compare
from compiler.comparison.render import SCHEMA, render, to_json
from compiler.comparison.stats import discordant, holm, mcnemar_exact, wilson_interval
from compiler.errors import EvalIncomplete, UsageError
from compiler.evaluation.results import DriftItem, DriftResult, DriftScore, write_drift
from tests._gate_fixtures import SPEC, arm, fake_run, k_of_n

# ---------------------------------------------------------------- statistics, known values


def test_wilson_of_8_of_10():
    lo, hi = wilson_interval(8, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)  # Wilson (1927); e.g. R: prop.test(8, 10, correct=FALSE)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_mcnemar_exact_known_values():
    # b = 1, c = 9: 2·(C(10,0) + C(10,1)) / 2¹⁰ = 2·11/1024 = 0.021484375
    assert mcnemar_exact(1, 9) == pytest.approx(0.021484375, abs=1e-15)
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9)  # two-sided: symmetric
    assert mcnemar_exact(0, 0) == 1.0  # no discordant item: no evidence
    assert mcnemar_exact(5, 5) == 1.0  # capped at 1
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)


def test_mcnemar_in_log_space_agrees_with_the_exact_integer_sum():
    def integer_sum(b: int, c: int) -> float:  # the sum of binomial coefficients: exact, slow for large n
        n = b + c
        return 1.0 if n == 0 else min(1.0, 2 * sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n)

    for b in range(0, 41):
        for c in range(0, 41):
            assert mcnemar_exact(b, c) == pytest.approx(integer_sum(b, c), rel=1e-9, abs=1e-300), (b, c)
    assert mcnemar_exact(1000, 1100) == pytest.approx(integer_sum(1000, 1100), rel=1e-9)  # 0.0307
    assert mcnemar_exact(3, 10**6) == 0.0  # below the smallest float: no overflow, no error
    assert 0.0 < mcnemar_exact(10**6, 10**6 + 3000) < 0.05  # a million discordant items: O(√n) steps


def test_holm_adjusts_in_the_original_order():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx((0.03, 0.06, 0.06))  # 0.03·2 = 0.06 carries to 0.04·1
    assert holm([0.5, 0.6]) == (1.0, 1.0)  # 0.5·2 capped at 1; monotone
    assert holm([0.02]) == (0.02,)
    assert holm([]) == ()


def test_discordant_counts_only_disagreements():
    a = {"x": True, "y": False, "z": True, "w": False}
    b = {"x": False, "y": True, "z": True, "w": False}
    assert discordant(a, b, ["x", "y", "z", "w"]) == (1, 1)
    assert discordant(a, b, ["x", "z"]) == (1, 0)


# ---------------------------------------------------------------- fake finished runs

SPLITS = ("train_sample", "test_paraphrase", "test_form", "test_locality")
# items 0: A right, B wrong · 1–9: A wrong, B right · 10–14: both right · 15–19: both wrong
A = [True] + [False] * 9 + [True] * 5 + [False] * 5  # 6 of 20
B = [False] + [True] * 9 + [True] * 5 + [False] * 5  # 14 of 20


def make_run(tmp: Path, name: str, correct: list[bool] | dict, *, spec=SPEC, settings: dict | None = None,
             complete: bool = True) -> Path:
    """A finished, verifiable run at tmp/runs/<name> whose tuned arm scores `correct` on every split
    and reading (or {(split, reading): correct}); base and prompted arms alongside; run.json's
    settings updated with `settings` (run.json is not hashed: the recipe is what it says)."""
    table = correct if isinstance(correct, dict) else {(s, r): correct for s in SPLITS for r in ("mc", "gen")}
    base = {k: k_of_n(5, len(v)) for k, v in table.items()}
    arms = {"base": arm("base", base), "prompted": arm("prompted", base), "tuned": arm("tuned", table, complete=complete)}
    run, _ = fake_run(tmp / "src" / name, arms, spec=spec)
    dest = tmp / "runs" / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(run), dest)  # build_path in run.json is absolute: the run folder may move
    if settings:
        doc = json.loads((dest / "run.json").read_text(encoding="utf-8"))
        doc["settings"].update(settings)
        (dest / "run.json").write_text(json.dumps(doc), encoding="utf-8")
    return dest


def _table(result, split="test_paraphrase", reading="gen"):
    return next(t for t in result.tables if (t.split, t.reading) == (split, reading))


def test_two_runs_one_build(tmp_path):
    a, b = make_run(tmp_path, "a", A), make_run(tmp_path, "b", B, settings={"lr": 0.001})
    result = compare([a, b])
    assert result.same_build and result.arm == "tuned"
    assert [(t.split, t.reading) for t in result.tables] == [(s, r) for s in SPLITS for r in ("mc", "gen")]
    t = _table(result)
    assert t.shared == 20
    (ra, rb) = t.rows
    assert (ra.label, ra.correct, ra.n, ra.acc) == ("a", 6, 20, 0.3)
    assert (rb.label, rb.correct, rb.n, rb.acc) == ("b", 14, 20, 0.7)
    assert (ra.wilson_low, ra.wilson_high) == wilson_interval(6, 20)
    (test,) = t.tests
    assert (test.a, test.b, test.n, test.only_a, test.only_b) == ("a", "b", 20, 1, 9)
    assert test.p == pytest.approx(0.021484375) and test.p_holm == test.p  # one test: Holm changes nothing
    assert test.delta == pytest.approx(0.4) and test.significant
    # the recipe: lr differs (0.0003 in the fixture), nothing else
    assert [(d.setting, d.values) for d in result.recipe] == [("lr", (0.0003, 0.001))]
    info = {i.label: i for i in result.runs}
    assert info["a"].train_wall_s == 12.5 and info["a"].tokens_per_s == 320.0 and info["a"].drift is None


def test_holm_over_the_pairs_of_a_table(tmp_path):
    C = [True] * 10 + [False] * 10
    runs = [make_run(tmp_path, n, c) for n, c in (("a", A), ("b", B), ("c", C))]
    t = _table(compare(runs))
    raw = {(x.a, x.b): (x.only_a, x.only_b, x.p) for x in t.tests}
    # a vs b: (1, 9) · a vs c: only a right: items 10–14, only c right: 1–9 · b vs c: 10–14, and item 0
    assert raw == {("a", "b"): (1, 9, mcnemar_exact(1, 9)), ("a", "c"): (5, 9, mcnemar_exact(5, 9)),
                   ("b", "c"): (5, 1, mcnemar_exact(5, 1))}
    assert tuple(x.p_holm for x in t.tests) == pytest.approx(holm([x.p for x in t.tests]))
    # by hand: p = 22/1024 = 0.0215, 2·3473/16384 = 0.4240, 2·7/64 = 0.21875; sorted ×3, ×2, ×1:
    # 0.0645, 0.4375, max(0.4375, 0.4240) = 0.4375
    assert tuple(round(x.p_holm, 4) for x in t.tests) == (0.0645, 0.4375, 0.4375)
    assert not any(x.significant for x in t.tests)  # 0.0215 alone would be; not after three tests


def test_same_settings_have_no_recipe_differences(tmp_path):
    result = compare([make_run(tmp_path, "a", A), make_run(tmp_path, "b", A)])
    assert result.recipe == ()
    assert all(x.p == 1.0 for t in result.tables for x in t.tests)  # identical answers: no discordant item
    assert "Recipe differences\n  None" in render(result, "text")


def test_a_split_not_every_run_scored_is_not_compared(tmp_path):
    full = {(s, r): A for s in SPLITS for r in ("mc", "gen")}
    part = {k: B for k in full if k != ("test_form", "gen")}
    result = compare([make_run(tmp_path, "a", full), make_run(tmp_path, "b", part)])
    assert ("test_form", "gen") not in {(t.split, t.reading) for t in result.tables}
    assert result.unshared == ("test_form (gen): scored by a only",)
    assert "Not compared" in render(result, "text")


# ---------------------------------------------------------------- builds


OTHER_SPEC = {**SPEC, "name": "blue-products-v2"}


def test_runs_of_different_builds_are_refused(tmp_path):
    a, b = make_run(tmp_path, "a", A), make_run(tmp_path, "b", B, spec=OTHER_SPEC)
    with pytest.raises(UsageError, match="different builds") as err:
        compare([a, b])
    assert "--allow-different-builds" in str(err.value) and err.value.exit_code == 2
    assert "blue-products-v2" in str(err.value)


def test_allowed_different_builds_compare_the_shared_items(tmp_path):
    longer = {(s, r): B + [True] * 4 for s in SPLITS for r in ("mc", "gen")}  # 4 items only run b scored
    a, b = make_run(tmp_path, "a", A), make_run(tmp_path, "b", longer, spec=OTHER_SPEC)
    result = compare([a, b], allow_different_builds=True)
    assert not result.same_build
    t = _table(result)
    assert t.shared == 20
    assert [(r.n, r.scored, r.left_out) for r in t.rows] == [(20, 20, 0), (20, 24, 4)]
    assert t.rows[1].acc == 0.7  # 14 of the 20 shared, not 18 of 24
    assert t.tests[0].p == pytest.approx(0.021484375)
    text = render(result, "text")
    assert "2 runs, tuned arm, 2 different builds, compared on the items they share by id" in text
    assert "test_paraphrase (gen): 20 items shared by every run\n  left out:" in text
    assert "blue-products-v2" in text  # the runs table names each run's build when they differ


# ---------------------------------------------------------------- refusals


def test_fewer_than_two_runs_is_bad_input(tmp_path):
    with pytest.raises(UsageError, match="two or more"):
        compare([make_run(tmp_path, "a", A)])
    with pytest.raises(UsageError, match="two or more"):
        compare([])


def test_a_path_that_is_no_run_is_bad_input(tmp_path):
    a = make_run(tmp_path, "a", A)
    (tmp_path / "empty").mkdir()
    for bad in (tmp_path / "empty", tmp_path / "missing"):
        with pytest.raises(UsageError, match="not a run folder"):
            compare([a, bad])
    with pytest.raises(UsageError, match="the same run"):
        compare([a, tmp_path / "runs" / "." / "a"])


def test_an_unfinished_or_unverifiable_run_is_refused_with_exit_3(tmp_path):
    a = make_run(tmp_path, "a", A)
    unfinished = make_run(tmp_path, "unfinished", B, complete=False)
    with pytest.raises(EvalIncomplete, match="unfinished: tuned arm: the evaluation did not finish") as err:
        compare([a, unfinished])
    assert err.value.exit_code == 3
    tampered = make_run(tmp_path, "tampered", B)
    (tampered / "adapter" / "adapter_model.safetensors").write_bytes(b"other weights")
    with pytest.raises(EvalIncomplete, match="altered after training"):
        compare([a, tampered])
    running = make_run(tmp_path, "running", B)
    doc = json.loads((running / "run.json").read_text(encoding="utf-8"))
    (running / "run.json").write_text(json.dumps({**doc, "status": "running"}), encoding="utf-8")
    with pytest.raises(EvalIncomplete, match="training did not finish"):
        compare([a, running])
    no_arm = make_run(tmp_path, "no_arm", B)
    (no_arm / "eval" / "tuned.json").unlink()
    with pytest.raises(EvalIncomplete, match="tuned arm was never scored"):
        compare([a, no_arm])


def test_a_score_its_records_do_not_give_is_refused(tmp_path):
    a, b = make_run(tmp_path, "a", A), make_run(tmp_path, "b", B)
    path = b / "eval" / "tuned.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["scores"][0]["acc"] = 1.0  # a bare number the per-item records do not give
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(EvalIncomplete, match="does not match its per-item records"):
        compare([a, b])


# ---------------------------------------------------------------- general drift


def test_general_drift_is_shown_when_measured(tmp_path):
    a, b = make_run(tmp_path, "a", A), make_run(tmp_path, "b", B)
    doc = json.loads((b / "run.json").read_text(encoding="utf-8"))
    items = tuple(DriftItem(f"g{i}", "Write a haiku.", "writing", "one two three four five six seven eight",
                            "one two three four five six seven eight", 9, -1.0, -1.0 - 0.1 * i) for i in range(3))
    write_drift(DriftResult("default", doc["build_sha256"], True, (DriftScore.from_items("test_general", items),),
                            32, 1.0, (), doc["adapter_sha256"]), b / "eval" / "general.json")
    result = compare([a, b])
    info = {i.label: i for i in result.runs}
    assert info["a"].drift is None
    assert info["b"].drift == pytest.approx(0.1) and (info["b"].collapsed, info["b"].general_n) == (0, 3)
    assert "0.100 ± 0.058" in render(result, "text")
    assert to_json(result)["runs"][1]["general"]["collapsed"] == 0


# ---------------------------------------------------------------- formats and the command


def test_json_has_its_schema_and_no_nan(tmp_path):
    result = compare([make_run(tmp_path, "a", A), make_run(tmp_path, "b", B, settings={"lora_r": 8})])
    text = render(result, "json")
    doc = json.loads(text)  # strict JSON: render refuses NaN (allow_nan=False)
    assert doc["schema"] == SCHEMA == "syllabus.compare/1"
    assert [r["label"] for r in doc["runs"]] == ["a", "b"]
    assert doc["recipe_differences"] == [{"setting": "lora_r", "values": {"a": 16, "b": 8}}]
    t = next(t for t in doc["tables"] if (t["split"], t["reading"]) == ("test_paraphrase", "gen"))
    assert t["tests"] == [{"a": "a", "b": "b", "n": 20, "only_a": 1, "only_b": 9, "delta": pytest.approx(0.4),
                           "p": pytest.approx(0.021484375), "p_holm": pytest.approx(0.021484375),
                           "significant": True}]


def test_markdown_and_text_tables(tmp_path):
    result = compare([make_run(tmp_path, "a", A), make_run(tmp_path, "b", B)])
    md = render(result, "markdown")
    assert "### test_paraphrase (gen)" in md and "| run | accuracy | Wilson 95% |" in md
    assert "| a vs b | 1 | 9 | +0.400 | 0.0215 | 0.0215 | * |" in md
    text = render(result, "text")
    assert text.startswith("syllabus compare: 2 runs, tuned arm, one build: blue-products")
    assert "a vs b" in text and "0.300  [0.15, 0.52]" in text


def test_html_holds_the_svg_chart(tmp_path):
    result = compare([make_run(tmp_path, "a", A), make_run(tmp_path, "b", B)])
    page = render(result, "html")
    assert page.startswith("<!doctype html>") and page.count("<svg") == 1 and "</svg>" in page
    assert page.count("<rect") >= 2 * 8  # a bar per run, split and reading (+ the legend's swatches)
    assert "a, test_paraphrase (gen): 0.300 [0.15, 0.52], n = 20" in page  # a bar's hover title
    assert "<path d=" in page  # the Wilson error bars
    assert render(result, "html") == page  # deterministic


def test_cli_compare(tmp_path):
    a, b = make_run(tmp_path, "a", A), make_run(tmp_path, "b", B)
    runner = CliRunner()
    ok = runner.invoke(main, ["compare", str(a), str(b)])
    assert ok.exit_code == 0, ok.output
    assert "McNemar" in ok.output
    out = tmp_path / "reports" / "compare.html"
    wrote = runner.invoke(main, ["compare", str(a), str(b), "--format", "html", "--out", str(out)])
    assert wrote.exit_code == 0 and f"wrote {out}" in wrote.output
    assert "<svg" in out.read_text(encoding="utf-8")
    as_json = runner.invoke(main, ["compare", str(a), str(b), "--format", "json", "--arm", "base"])
    assert json.loads(as_json.stdout)["arm"] == "base"
    assert json.loads(as_json.stdout)["exit_code"] == 0
    to_file = runner.invoke(main, ["compare", str(a), str(b), "--format", "json", "--out", str(tmp_path / "c.json")])
    assert json.loads(to_file.stdout) == json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))  # one document
    one = runner.invoke(main, ["compare", str(a)])
    assert one.exit_code == 2 and "two or more" in one.output
    one_json = runner.invoke(main, ["compare", str(a), "--format", "json"])  # an error is a document too
    assert one_json.exit_code == 2 and json.loads(one_json.stdout)["schema"] == "syllabus.error/1"
    other = make_run(tmp_path, "other", B, spec=OTHER_SPEC)
    refused = runner.invoke(main, ["compare", str(a), str(other)])
    assert refused.exit_code == 2 and "--allow-different-builds" in refused.output
    allowed = runner.invoke(main, ["compare", str(a), str(other), "--allow-different-builds"])
    assert allowed.exit_code == 0, allowed.output
    (tmp_path / "runs" / "other" / "eval" / "tuned.json").unlink()
    assert runner.invoke(main, ["compare", str(a), str(other), "--allow-different-builds"]).exit_code == 3


def test_out_that_is_a_folder_is_refused(tmp_path):
    a, b = make_run(tmp_path, "a", A), make_run(tmp_path, "b", B)
    with pytest.raises(UsageError, match="a folder"):
        compare_command([a, b], fmt="html", out=tmp_path)


def test_repeated_folder_names_are_labelled_by_path(tmp_path):
    a = make_run(tmp_path / "x", "r", A)
    b = make_run(tmp_path / "y", "r", B)
    result = compare([a, b])
    assert [i.label for i in result.runs] == [str(a), str(b)]


# ---------------------------------------------------------------- sweep trials, on the dev split


def make_trial(tmp: Path, name: str, correct: list[bool], *, lr: float = 0.0003, split: str = "dev",
               adapter_sha: str = "") -> Path:
    """A finished sweep trial at tmp/sweep/<name>: run.json and adapter/ as training writes them,
    trial.json, and eval/dev.json (the tuned arm on dev, naming the adapter: lab.LiveLab.trial's
    file); no test-split arm file. `adapter_sha` other than "" names another adapter."""
    from dataclasses import replace

    from compiler.evaluation.results import write_arm
    from compiler.integrity import adapter_sha256
    from compiler.sweep.record import DEV_FILE, TRIAL_FILE

    run = make_run(tmp, name, A, settings={"lr": lr})
    shutil.rmtree(run / "eval")  # a trial not chosen: scored on dev alone
    dest = tmp / "sweep" / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(run), dest)
    recorded = adapter_sha256(dest / "adapter")  # what run.json records (the fixture's adapter)
    build_sha = json.loads((dest / "run.json").read_text(encoding="utf-8"))["build_sha256"]
    result = arm("tuned", {(split, r): correct for r in ("mc", "gen")}, sha=build_sha)
    write_arm(replace(result, adapter_sha256=adapter_sha or recorded), dest / DEV_FILE)
    (dest / TRIAL_FILE).write_text(json.dumps({"index": 1, "key": "k", "label": f"lr={lr}", "status": "done"}))
    return dest


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_sweep_trials_are_compared_on_dev_and_nothing_is_written(tmp_path):
    a, b = make_trial(tmp_path, "trial-01-a", A, lr=0.0006), make_trial(tmp_path, "trial-02-b", B, lr=0.0012)
    before = _tree(tmp_path)
    result = compare([a, b])  # every folder a trial: their dev scores
    assert result.on == "dev" and [(t.split, t.reading) for t in result.tables] == [("dev", "mc"), ("dev", "gen")]
    t = _table(result, "dev", "gen")
    assert [(r.label, r.correct, r.n) for r in t.rows] == [("trial-01-a", 6, 20), ("trial-02-b", 14, 20)]
    (test,) = t.tests
    assert (test.only_a, test.only_b) == (1, 9) and test.p == pytest.approx(0.021484375) and test.significant
    assert [(d.setting, d.values) for d in result.recipe] == [("lr", (0.0006, 0.0012))]
    doc = to_json(result)
    assert doc["on"] == "dev" and doc["tables"][0]["split"] == "dev"
    assert "tuned arm on the dev split (sweep trials)" in render(result, "text")
    assert compare([a, b], on="dev").tables == result.tables
    assert _tree(tmp_path) == before  # compare reads: nothing scored, nothing written


def test_dev_scores_of_an_altered_or_another_adapter_are_refused(tmp_path):
    a, b = make_trial(tmp_path, "trial-01-a", A), make_trial(tmp_path, "trial-02-b", B, adapter_sha="f" * 64)
    with pytest.raises(EvalIncomplete, match="tuned arm: scored another adapter"):
        compare([a, b])
    c = make_trial(tmp_path, "trial-03-c", B)
    (c / "adapter" / "adapter_model.safetensors").write_bytes(b"other weights")
    with pytest.raises(EvalIncomplete, match="the adapter was altered after training"):
        compare([a, c])
    d = make_trial(tmp_path, "trial-04-d", B, split="test_form")
    with pytest.raises(EvalIncomplete, match="holds a score of test_form, not of the dev split alone"):
        compare([a, d])


def test_dev_needs_trials_and_the_tuned_arm(tmp_path):
    a, b = make_trial(tmp_path, "trial-01-a", A), make_trial(tmp_path, "trial-02-b", B)
    run = make_run(tmp_path, "plain", B)
    with pytest.raises(EvalIncomplete, match="not a sweep trial"):
        compare([a, run], on="dev")
    with pytest.raises(UsageError, match="--arm base --on dev"):
        compare([a, b], arm="base")
    with pytest.raises(EvalIncomplete, match="eval/tuned.json: missing"):  # a trial not chosen has no exam
        compare([a, run])  # not every folder a trial: the test splits
    (a / "eval" / "dev.json").unlink()
    with pytest.raises(EvalIncomplete, match="a trial whose dev scoring was not recorded; remove"):
        compare([a, b])


def test_cli_compare_on_trials(tmp_path):
    a, b = make_trial(tmp_path, "trial-01-a", A), make_trial(tmp_path, "trial-02-b", B)
    runner = CliRunner()
    as_json = runner.invoke(main, ["compare", str(a), str(b), "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    doc = json.loads(as_json.output)
    assert doc["schema"] == SCHEMA and doc["on"] == "dev" and doc["tables"][1]["rows"][1]["correct"] == 14
    on_test = runner.invoke(main, ["compare", str(a), str(b), "--on", "test"])
    assert on_test.exit_code == 3 and "eval/tuned.json: missing" in on_test.output
