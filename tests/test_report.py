"""Reports: the files written from a verdict, their content, and verdict.json as the next baseline."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest
import yaml

from compiler.errors import UsageError
from compiler.release.ci_files import read_baseline
from compiler.release.context import ReportContext, RuleInfo
from compiler.release.gate import decide
from compiler.release.report import write_reports
from compiler.release.text_report import render_text
from compiler.release.verdict import BuildRef
from compiler.spec.model import Gate, MaxDropVsBase, MinAccuracy
from tests._gate_fixtures import SHA, good_arms, k_of_n, score

CONTEXT = ReportContext(
    run_id="20250101-abc",
    build=BuildRef("blue-products", SHA),
    spec_sha256="b" * 64,
    rules=(RuleInfo("prefer-blue", "Prefer blue | paint for <boxes> & forks."),),
    model="default",
    description="Our company paints its products blue.",
    counts=(("train", 400), ("test_paraphrase", 60)),
    training=(("epochs", "3"), ("lr", "0.0003")),
)


def _mixed_verdict():
    """One pass, one fail, one not evaluated (tuned has no test_form gen score)."""
    arms = good_arms()
    tuned = arms["tuned"]
    arms["tuned"] = replace(tuned, scores=tuple(s for s in tuned.scores if (s.split, s.reading) != ("test_form", "gen")))
    checks = [
        MinAccuracy(kind="min_accuracy", split="test_paraphrase", min=0.9),
        MinAccuracy(kind="min_accuracy", split="test_paraphrase", min=0.99, reading="gen"),
        MinAccuracy(kind="min_accuracy", split="test_form", min=0.5, reading="gen"),
    ]
    return decide(checks, arms, build=CONTEXT.build)


@pytest.fixture
def run_dir(tmp_path):
    (tmp_path / "adapter").mkdir()
    return tmp_path


def test_every_file_is_written_and_no_temp_file_is_left(run_dir):
    paths = write_reports(decide(Gate().checks, good_arms(), build=CONTEXT.build), CONTEXT, run_dir)
    assert set(paths) == {"verdict", "markdown", "html", "junit", "model_card"}
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths.values())
    assert paths["model_card"] == run_dir / "adapter" / "README.md"
    assert sorted(p.name for p in run_dir.iterdir()) == ["adapter", "junit.xml", "report.html", "report.md", "verdict.json"]


def test_no_model_card_without_an_adapter(tmp_path):
    paths = write_reports(decide(Gate().checks, good_arms(), build=CONTEXT.build), CONTEXT, tmp_path)
    assert "model_card" not in paths and not (tmp_path / "adapter").exists()


def test_markdown_has_verdict_first_checks_and_score_tables(run_dir):
    v = _mixed_verdict()
    md = write_reports(v, CONTEXT, run_dir)["markdown"].read_text(encoding="utf-8")
    first = md.splitlines()[0]
    assert "INCOMPLETE" in first and "blue-products" in first and "exit 3" in first
    assert "| | check | observed | threshold | detail |" in md
    assert "| ✓ | `min_accuracy[test_paraphrase,mc]` | 0.950 | 0.900 |" in md
    assert "| ✗ | `min_accuracy[test_paraphrase,gen]` |" in md
    assert "| ⚠ | `min_accuracy[test_form,gen]` | — |" in md
    assert "| split | reading | base | prompted | constant | tuned |" in md
    # good_arms() has no constant arm: its column is empty
    assert "| test_paraphrase | mc | 0.050 [0.01, 0.24] n=20 | 0.500 [0.30, 0.70] n=20 | — | 0.950 [0.76, 0.99] n=20 |" in md
    assert "| test_form | gen | 0.050 [0.01, 0.24] n=20 | 0.500 [0.30, 0.70] n=20 | — | — |" in md
    assert "| test_locality | mc | 0.950 | 0.900 | +0.050 |" in md  # the memorization gap
    assert "Prefer blue \\| paint for &lt;boxes&gt; & forks." in md  # neither a table cell nor a tag breaks
    assert SHA in md


def test_html_is_self_contained_with_a_chart_and_escaped(run_dir):
    html = write_reports(_mixed_verdict(), CONTEXT, run_dir)["html"].read_text(encoding="utf-8")
    assert '<svg role="img"' in html and "<img" not in html  # the chart is inline SVG: no image to decode
    assert "<boxes>" not in html and "&lt;boxes&gt; &amp; forks" in html
    assert "http://" not in html and "https://" not in html  # nothing to fetch
    for needle in ("INCOMPLETE", "min_accuracy[test_paraphrase,gen]", "Memorization gap", "0.950 [0.76, 0.99] n=20"):
        assert needle in html


def test_junit_has_one_testcase_per_check(run_dir):
    v = _mixed_verdict()
    root = ET.parse(write_reports(v, CONTEXT, run_dir)["junit"]).getroot()
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [c.name for c in v.checks]
    assert [c.find("failure") is not None for c in cases] == [False, True, False]
    assert [c.find("error") is not None for c in cases] == [False, False, True]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    assert "0.990" in cases[1].find("failure").get("message")
    assert "no score was recorded" in suite.find("system-err").text


def test_verdict_json_round_trips_and_is_deterministic(run_dir, tmp_path_factory):
    v = _mixed_verdict()
    path = write_reports(v, CONTEXT, run_dir)["verdict"]
    text = path.read_text(encoding="utf-8")
    doc = json.loads(text)
    assert list(doc)[:3] == ["schema", "status", "exit_code"]
    assert (doc["status"], doc["exit_code"]) == (v.status, v.exit_code)
    assert [c["name"] for c in doc["checks"]] == [c.name for c in v.checks]
    assert doc["checks"][2]["observed"] is None  # NaN is written as null
    assert doc["reasons"] == list(v.reasons)
    assert doc["build"] == {"name": "blue-products", "sha256": SHA, "spec_sha256": "b" * 64}
    assert doc["created_with"].startswith("syllabus ")
    assert doc["scores"]["tuned"]["test_paraphrase"]["mc"]["acc"] == pytest.approx(0.95)
    assert json.dumps(doc, indent=2, ensure_ascii=False) + "\n" == text
    again = write_reports(v, CONTEXT, tmp_path_factory.mktemp("again"))
    for name in ("verdict.json", "report.md", "report.html", "junit.xml"):  # same verdict → same bytes
        assert (again["verdict"].parent / name).read_bytes() == (run_dir / name).read_bytes(), name
    baseline = read_baseline(path)
    assert (baseline.build_name, baseline.build_sha256, baseline.status) == ("blue-products", SHA, "incomplete")
    tuned = {(r.split, r.reading): r for r in v.table if r.arm == "tuned"}
    assert {(s.split, s.reading) for s in baseline.tuned} == set(tuned)
    for s in baseline.tuned:
        row = tuned[(s.split, s.reading)]
        assert (s.acc, s.n, s.wilson_low, s.wilson_high) == (row.acc, row.n, row.wilson_low, row.wilson_high)


def test_a_run_gated_against_its_own_verdict_does_not_regress(run_dir):
    arms = good_arms()
    checks = [MaxDropVsBase(kind="max_drop_vs_base", split="test_locality", max=0.05)]
    first = decide(checks, arms, build=CONTEXT.build)
    baseline = read_baseline(write_reports(first, CONTEXT, run_dir)["verdict"])
    again = decide(checks, arms, baseline, CONTEXT.build)
    assert again.exit_code == 0 and [c.kind for c in again.checks] == ["max_drop_vs_base", "no_regression"]
    tuned = arms["tuned"]
    worse = replace(tuned, scores=tuple(score(s.split, s.reading, k_of_n(10, 20)) if s.split == "test_locality" else s
                                        for s in tuned.scores))
    assert decide(checks, {**arms, "tuned": worse}, baseline, CONTEXT.build).exit_code == 1


def test_model_card_front_matter(run_dir):
    card = write_reports(decide(Gate().checks, good_arms(), build=CONTEXT.build), CONTEXT, run_dir)["model_card"]
    text = card.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["library_name"] == "peft"
    assert front["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert "syllabus" in front["tags"]
    results = front["model-index"][0]["results"]
    assert {r["dataset"]["split"] for r in results} == {"test_paraphrase", "test_form", "test_locality"}
    metric = next(r for r in results if r["dataset"]["split"] == "test_paraphrase")["metrics"][0]
    assert metric["type"] == "accuracy" and metric["value"] == pytest.approx(0.95)
    body = text.split("---\n", 2)[2]
    assert "Prefer blue \\| paint for &lt;boxes&gt; & forks." in body and "PASS" in body and "epochs: 3" in body


def test_model_card_of_a_local_model_has_no_base_model(run_dir):
    ctx = replace(CONTEXT, model="/models/my-llama")
    text = write_reports(decide([], good_arms(), build=ctx.build), ctx, run_dir)["model_card"].read_text()
    front = yaml.safe_load(text.split("---\n")[1])
    assert "base_model" not in front and front["library_name"] == "peft"


def test_render_text_lists_scores_then_checks_then_verdict():
    v = _mixed_verdict()
    lines = render_text(v, CONTEXT).splitlines()
    assert lines[1].split() == ["split", "reading", "base", "prompted", "constant", "tuned", "n"]
    assert lines[2].split() == ["train_sample", "mc", "0.050", "0.500", "—", "0.950", "20"]
    assert lines[8].split() == ["test_locality", "mc", "0.900", "0.500", "—", "0.900", "20"]
    assert lines[10].startswith("  PASS  min_accuracy[test_paraphrase,mc]")
    assert lines[11].startswith("  FAIL  min_accuracy[test_paraphrase,gen]")
    assert lines[12].startswith("  N/A   min_accuracy[test_form,gen]")
    assert lines[13].startswith("verdict: INCOMPLETE (exit 3)")


def test_nan_scores_render_as_dashes(run_dir):
    arms = good_arms()
    tuned = arms["tuned"]
    arms["tuned"] = replace(tuned, scores=tuple(replace(s, acc=math.nan) for s in tuned.scores))
    paths = write_reports(decide(Gate().checks, arms, build=CONTEXT.build), CONTEXT, run_dir)
    doc = json.loads(paths["verdict"].read_text())
    assert doc["scores"]["tuned"]["test_form"]["mc"]["acc"] is None and doc["exit_code"] == 3
    assert "— [0.76, 0.99] n=20" in paths["markdown"].read_text()


@pytest.mark.parametrize(
    ("content", "match"),
    [(None, "cannot read"), ("{", "not JSON"), ('{"schema": 7}', "schema 7"), ('{"schema": 1, "status": "pass"}', "not a syllabus")],
)
def test_read_baseline_rejects_bad_files(tmp_path, content, match):
    path = tmp_path / "verdict.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UsageError, match=match) as err:
        read_baseline(path)
    assert err.value.exit_code == 2


def test_reports_show_accuracy_by_form_and_missed_questions(run_dir):
    from compiler.release.breakdown import FormRow, Miss

    context = replace(
        CONTEXT,
        by_form=(FormRow("test_paraphrase", "open", "mc", 12, (0.25, 0.5, 1.0, 1.0)),
                 FormRow("test_paraphrase", "yes_no", "gen", 16, (0.5, None, 0.5, 0.5))),
        misses=(Miss("test_paraphrase", "yes_no", "Is red a good color | for the <box>?", "No", "Yes"),),
    )
    paths = write_reports(decide(Gate().checks, good_arms(), build=CONTEXT.build), context, run_dir)
    md = paths["markdown"].read_text()
    assert "| split | form | reading | n | base | prompted | constant | tuned |" in md
    assert "| test_paraphrase | open | mc | 12 | 0.250 | 0.500 | 1.000 | 1.000 |" in md
    assert "| test_paraphrase | yes_no | gen | 16 | 0.500 | – | 0.500 | 0.500 |" in md
    assert "| test_paraphrase | yes_no | Is red a good color \\| for the &lt;box&gt;? | No | Yes |" in md
    page = paths["html"].read_text()
    assert "Accuracy by question form" in page and "Is red a good color | for the &lt;box&gt;?" in page
    plain = write_reports(decide(Gate().checks, good_arms(), build=CONTEXT.build), CONTEXT, run_dir)["markdown"].read_text()
    assert "Accuracy by question form" not in plain  # nothing to show, no empty table


def _with_constant():
    """good_arms() plus a constant arm that scores 0.5 on test_form (both readings) and nothing else."""
    from tests._gate_fixtures import arm

    arms = good_arms()
    arms["constant"] = arm("constant", {("test_form", "mc"): k_of_n(10, 20), ("test_form", "gen"): k_of_n(10, 20)})
    return decide(Gate().checks, arms, build=CONTEXT.build)


def test_every_report_shows_the_constant_arm_beside_the_others(run_dir):
    ctx = replace(CONTEXT, primary_reading="gen")
    paths = write_reports(_with_constant(), ctx, run_dir)
    md = paths["markdown"].read_text()
    assert "| split | reading | base | prompted | constant | tuned |" in md
    assert "| test_form | gen | 0.050 [0.01, 0.24] n=20 | 0.500 [0.30, 0.70] n=20 | 0.500 [0.30, 0.70] n=20 | 0.950 [0.76, 0.99] n=20 |" in md
    assert "| test_paraphrase | mc | 0.050 [0.01, 0.24] n=20 | 0.500 [0.30, 0.70] n=20 | — | 0.950 [0.76, 0.99] n=20 |" in md
    assert "constant: no model" in md  # what the column means
    assert "A check that names no reading uses the spec's primary reading, gen" in md
    page = paths["html"].read_text()
    assert "<th>constant</th>" in page and "base, prompted, constant, tuned" in page and "primary reading, gen" in page
    assert "| constant |" in paths["model_card"].read_text()
    doc = json.loads(paths["verdict"].read_text())
    assert doc["scores"]["constant"]["test_form"]["gen"]["acc"] == pytest.approx(0.5)
    lines = render_text(_with_constant(), ctx).splitlines()
    assert lines[7].split() == ["test_form", "gen", "0.050", "0.500", "0.500", "0.950", "20"]


def test_chart_has_a_bar_per_arm_including_constant():
    from compiler.release.svg import COLORS, accuracy_chart

    with_constant, without = accuracy_chart(_with_constant()), accuracy_chart(decide(Gate().checks, good_arms(), build=CONTEXT.build))
    bar = f'fill="{COLORS["constant"]}"><title>constant on '
    assert with_constant.count(bar) == 2 and without.count(bar) == 0  # test_form, mc and gen
    assert with_constant.startswith("<svg") and with_constant.endswith("</svg>")


# ---------------------------------------------------------------- a report a reviewer acts on (issue 15.6)


def _threshold_verdict():
    from compiler.spec.model import BeatsPrompted

    checks = [
        MinAccuracy(kind="min_accuracy", split="test_paraphrase", min=0.9, reading="mc"),  # 0.95: passes
        MinAccuracy(kind="min_accuracy", split="test_paraphrase", min=0.99, reading="gen"),  # 0.95: misses
        MaxDropVsBase(kind="max_drop_vs_base", split="test_locality", max=0.05, reading="mc"),  # base 0.90
        BeatsPrompted(kind="beats_prompted", split="test_form", min_gain=0.1, reading="mc"),  # prompted 0.50
    ]
    return decide(checks, good_arms(), build=CONTEXT.build)


def test_chart_draws_each_checks_threshold_in_accuracy_terms_and_marks_the_baselines():
    from compiler.release.svg import COLORS, PLOT_H, STATUS_COLOR, TOP, accuracy_chart, threshold_of

    v = _threshold_verdict()
    lines = [threshold_of(c, v) for c in v.checks]
    assert [(t.split, t.reading, round(t.value, 6), t.label, t.passed) for t in lines] == [
        ("test_paraphrase", "mc", 0.9, "min 0.90", True),
        ("test_paraphrase", "gen", 0.99, "min 0.99", False),
        ("test_locality", "mc", 0.85, "base − 0.05", True),  # base 0.90 − the allowed drop
        ("test_form", "mc", 0.6, "prompted + 0.10", True),  # prompted 0.50 + min_gain
    ]
    svg = accuracy_chart(v)
    y = lambda acc: f'y1="{TOP + PLOT_H * (1 - acc):.1f}"'  # noqa: E731
    for t in lines:  # each threshold a line at its height, coloured by the check's outcome, labelled
        assert f'{y(t.value)} y2="{TOP + PLOT_H * (1 - t.value):.1f}" stroke="{STATUS_COLOR[t.passed]}" stroke-width="2"' in svg
        assert f">{t.label}<title>" in svg
    # prompted (0.50 everywhere) dashed across every split × reading: 4 splits × 2 readings
    assert svg.count(f'{y(0.5)} y2="{TOP + PLOT_H * 0.5:.1f}" stroke="{COLORS["prompted"]}" stroke-width="1.5" '
                     'stroke-dasharray="4 3"') == 8
    assert accuracy_chart(v) == svg  # deterministic


def test_chart_skips_thresholds_it_cannot_place():
    from compiler.release.svg import threshold_of
    from compiler.release.verdict import CheckResult

    v = _threshold_verdict()
    drift = CheckResult("max_general_drift[test_general]", "max_general_drift", "test_general", "", True, 0.1, 0.3, "")
    no_constant = CheckResult("beats_constant[test_form,mc]", "beats_constant", "test_form", "mc", None, math.nan, 0.0, "")
    assert threshold_of(drift, v) is None and threshold_of(no_constant, v) is None  # no constant arm: no height


def test_html_header_pins_the_base_model_adapter_date_and_commit(run_dir):
    ctx = replace(CONTEXT, model_sha256="c" * 64, adapter_sha256="d" * 64, trained_at="2026-11-29T06:00:00+00:00",
                  syllabus_commit="e" * 40)
    page = write_reports(_mixed_verdict(), ctx, run_dir)["html"].read_text(encoding="utf-8")
    head = page[: page.index("<h2>")]
    for needle in ("default · weights sha256 " + "c" * 64, "d" * 64, "trained 2026-11-29T06:00:00+00:00",
                   "git commit " + "e" * 40, SHA):
        assert needle in head, needle
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "weights sha256 `" + "c" * 64 in md and "adapter sha256 `" + "d" * 64 in md and "e" * 40 in md


def test_syllabus_commit_is_this_checkout_or_unknown():
    from compiler.release.source import UNKNOWN, syllabus_commit

    commit = syllabus_commit()
    assert commit == UNKNOWN or (len(commit.split()[0]) == 40 and all(c in "0123456789abcdef" for c in commit.split()[0]))


def test_html_draws_the_training_loss_curve(run_dir):
    from compiler.release.svg import MAX_POINTS, loss_curve

    curve = tuple((step, 2.5 / step) for step in range(1, 41))
    page = write_reports(_mixed_verdict(), replace(CONTEXT, loss_curve=curve), run_dir)["html"].read_text(encoding="utf-8")
    assert "<h2>Training loss</h2>" in page and "<polyline" in page and "40 logged optimizer steps" in page
    assert "step 1 loss 2.500 → step 40 loss 0.062" in page
    plain = write_reports(_mixed_verdict(), CONTEXT, run_dir)["html"].read_text(encoding="utf-8")
    assert "Training loss" not in plain  # an old run.json has no curve: no empty section
    long = loss_curve(tuple((s, 1.0 + (s % 7)) for s in range(1, 5001)))
    points = long.split('points="')[1].split('"')[0].split()
    assert len(points) <= MAX_POINTS and len(points) >= MAX_POINTS // 2  # 5,000 steps drawn as bucket means
    assert loss_curve(((1, 2.0),)) == "" and loss_curve(((1, math.nan), (2, 1.0))) == ""


def _items():
    """Held-out examples for test_paraphrase and test_locality with the ids good_arms() scores,
    one of them carrying markup and a quote in its text."""
    from compiler.release.items import held_out_items
    from compiler.evaluation.results import Sample
    from tests._gate_fixtures import arm, example

    examples = {s: [example(f"{s}-{i}", "Blue", ("Blue", "Red")) for i in range(20)]
                for s in ("test_paraphrase", "test_locality")}
    nasty = replace(examples["test_paraphrase"][19], prompt='Is <script>alert("x")</script> & "red" ok?')
    examples["test_paraphrase"][19] = nasty
    arms = good_arms()
    tuned = arms["tuned"]
    arms["tuned"] = replace(tuned, scores=tuple(
        replace(s, samples=tuple(replace(x, reply="Red </td></tr> & more" if x.id == nasty.id else "Blue")
                                 for x in s.samples)) if s.reading == "gen" else s
        for s in tuned.scores))
    arms["constant"] = arm("constant", {("test_paraphrase", "gen"): k_of_n(20, 20)})
    return held_out_items(examples, arms, ("mc", "gen")), arms


def test_held_out_items_give_every_item_every_arm_and_reading():
    rows, _ = _items()
    assert len(rows) == 40 and [r.split for r in rows[::20]] == ["test_paraphrase", "test_locality"]
    last = rows[19]
    assert [a.arm for a in last.arms] == ["base", "prompted", "constant", "tuned"]
    tuned = last.arms[3]
    assert tuned.verdicts == (("mc", False), ("gen", False)) and tuned.reply == "Red </td></tr> & more"
    constant = last.arms[2]
    assert constant.verdicts == (("mc", None), ("gen", True))  # the constant arm scored gen only
    assert rows[25].arms[2].verdicts == (("mc", None), ("gen", None))  # nor test_locality at all


def test_html_lists_every_held_out_item_escaped_with_a_filter(run_dir):
    rows, arms = _items()
    page = write_reports(decide(Gate().checks, arms, build=CONTEXT.build), replace(CONTEXT, items=rows, primary_reading="gen"),
                         run_dir)["html"].read_text(encoding="utf-8")
    table = page[page.index('<table id="items">'):page.index("</table>", page.index('<table id="items">'))]
    assert table.count("<tr data-id=") == 40
    assert all(f'data-id="{r.id}"' in table for r in rows)
    assert "<script>alert" not in page and '&lt;script&gt;alert("x")&lt;/script&gt; &amp; "red" ok?' in table
    assert "Red &lt;/td&gt;&lt;/tr&gt; &amp; more" in table  # a reply cannot close the cell
    assert 'data-v="base:0 prompted:0 constant:1 tuned:0"' in table  # item 19 of test_paraphrase, gen
    assert 'data-id="test_locality-12" data-split="test_locality" data-v="base:1 prompted:0 constant:- tuned:1"' in table
    # readable without script: the controls start hidden, the script reveals them; one script only, all ours
    assert '<div id="item-filter" hidden>' in page and page.count("<script>") == 1
    script = page[page.index("<script>"):page.index("</script>")]
    assert "alert" not in script and 'name="verdict"' in page and 'name="split"' in page and 'name="arm"' in page
    plain = write_reports(decide(Gate().checks, good_arms(), build=CONTEXT.build), CONTEXT, run_dir)["html"].read_text()
    assert "<script>" not in plain and 'id="items"' not in plain  # no items, no table and no script


def test_html_shows_each_arms_lm_eval_command(run_dir):
    ctx = replace(CONTEXT, lm_eval_commands=(("base", "lm_eval --model hf --tasks 'a<b' --output_path x"), ("tuned", "")))
    paths = write_reports(_mixed_verdict(), ctx, run_dir)
    page = paths["html"].read_text(encoding="utf-8")
    assert "<h2>Reproduce with lm-eval</h2><h3>base</h3><pre>lm_eval --model hf --tasks &#x27;a&lt;b&#x27; --output_path x</pre>" in page
    assert "<h3>tuned</h3>" not in page  # an arm without a command shows none
    assert "```sh\nlm_eval --model hf --tasks 'a<b' --output_path x\n```" in paths["markdown"].read_text()
    assert "Reproduce with lm-eval" not in write_reports(_mixed_verdict(), CONTEXT, run_dir)["html"].read_text()


def test_junit_of_an_incomplete_verdict_carries_reasons_no_check_does(run_dir):
    arms = good_arms()
    del arms["tuned"]
    v = decide([MinAccuracy(kind="min_accuracy", split="test_paraphrase", min=0.9)], arms, build=CONTEXT.build)
    suite = ET.parse(write_reports(v, CONTEXT, run_dir)["junit"]).getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["min_accuracy[test_paraphrase,mc]", "evaluation complete"]
    assert "tuned arm: no evaluation result" in cases[1].find("error").text
    assert (suite.get("tests"), suite.get("errors")) == ("2", "2")
    empty = ET.parse(write_reports(decide([], good_arms()), CONTEXT, run_dir)["junit"]).getroot().find("testsuite")
    assert "no checks" in empty.find("testcase/error").get("message")  # never zero tests and green


def test_a_refused_gate_writes_junit_and_reports_saying_incomplete_with_the_reason(tmp_path):
    from compiler import pipeline
    from compiler.errors import EvalIncomplete
    from tests._gate_fixtures import fake_run

    run, _ = fake_run(tmp_path, good_arms())
    assert pipeline.gate(run, None).exit_code == 0
    (run / "adapter" / "adapter_model.safetensors").write_bytes(b"other weights")
    with pytest.raises(EvalIncomplete, match="altered after training") as err:
        pipeline.gate(run, None)
    assert not (run / "verdict.json").exists()  # a CI reads no stale PASS, and no refusal as a baseline
    suite = ET.parse(run / "junit.xml").getroot().find("testsuite")
    error = suite.find("testcase/error")
    assert error.text == str(err.value) and "altered after training" in error.get("message")
    # named after the build run.json names, as a gate that decides names it
    assert (suite.get("tests"), suite.get("errors"), suite.get("name")) == ("1", "1", "syllabus-gate.blue-products")
    assert suite.find("properties/property[@name='status']").get("value") == "incomplete"
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "INCOMPLETE" in page and "(exit 3)" in page and "altered after training" in page and "PASS" not in page
    assert "c" * 64 in page  # the base model run.json names
    md = (run / "report.md").read_text(encoding="utf-8")
    assert md.startswith("## ⚠️ INCOMPLETE") and "altered after training" in md


def test_a_refused_gate_writes_nothing_into_a_folder_syllabus_did_not_make(tmp_path):
    from compiler import pipeline
    from compiler.errors import EvalIncomplete

    folder = tmp_path / "mine"
    (folder / "eval").mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(EvalIncomplete):
        pipeline.gate(folder, None)  # eval/ but no run.json: exit 3, and not syllabus's folder
    assert sorted(p.name for p in folder.rglob("*")) == ["eval", "notes.txt"]


def test_run_json_without_a_loss_curve_still_reads_and_one_with_it_round_trips(tmp_path):
    from compiler.training.record import read_record, write_record
    from tests._gate_fixtures import fake_run

    run, _ = fake_run(tmp_path, good_arms())
    old = read_record(run)  # fake_run writes run.json as earlier versions did: no loss_curve
    assert "loss_curve" not in json.loads((run / "run.json").read_text()) and old.loss_curve == ()
    write_record(replace(old, loss_curve=((1, 2.5), (2, 1.25))), run)
    assert read_record(run).loss_curve == ((1, 2.5), (2, 1.25))
    doc = json.loads((run / "run.json").read_text())
    for bad in ([[1]], [["1", 2.0]], [[1, True]], {"1": 2.0}):
        (run / "run.json").write_text(json.dumps({**doc, "loss_curve": bad}))
        with pytest.raises(UsageError, match="loss_curve"):
            read_record(run)


def test_the_gate_puts_the_run_json_loss_curve_and_every_item_in_report_html(tmp_path):
    from compiler import pipeline
    from tests._gate_fixtures import example, fake_run

    data = {"train": [example("t0", "Blue", ("Blue", "Red"))],
            "test_paraphrase": [example(f"test_paraphrase-{i}", "Blue", ("Blue", "Red")) for i in range(20)]}
    arms = good_arms()
    arms["tuned"] = replace(arms["tuned"], lm_eval_command="lm_eval run --tasks syllabus_blue --model_args peft=a&b")
    run, _ = fake_run(tmp_path, arms, data=data)
    doc = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**doc, "loss_curve": [[1, 2.5], [2, 1.5], [3, 0.5]]}))
    assert pipeline.gate(run, None).exit_code == 0
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "<polyline" in page and "3 logged optimizer steps" in page
    assert page.count("<tr data-id=") == 20 and "c" * 64 in page  # every item; the base model's sha256
    assert "<h3>tuned</h3><pre>lm_eval run --tasks syllabus_blue --model_args peft=a&amp;b</pre>" in page
    assert "<h3>base</h3>" not in page  # an eval file without the line shows none


_DOM_STUB = r"""
const fs = require("fs");
const [file, q, split, arm, verdict] = process.argv.slice(2);
const page = fs.readFileSync(file, "utf8");
const script = page.slice(page.indexOf("<script>") + 8, page.indexOf("</script>"));
const rows = [...page.matchAll(/<tr data-id="([^"]*)" data-split="([^"]*)" data-v="([^"]*)">(.*?)<\/tr>/g)].map(m => ({
  dataset: {id: m[1], split: m[2], v: m[3]}, hidden: false, textContent: m[4].replace(/<[^>]*>/g, "")}));
const el = v => ({value: v, addEventListener() {}});
const controls = {"[name=q]": el(q), "[name=split]": el(split), "[name=arm]": el(arm), "[name=verdict]": el(verdict),
                  "output": {textContent: ""}};
const filter = {hidden: true, querySelector: s => controls[s]};
global.document = {getElementById: id => id === "item-filter" ? filter : null, querySelectorAll: () => rows};
eval(script);
console.log(JSON.stringify({shown: rows.filter(r => !r.hidden).map(r => r.dataset.id), hidden: filter.hidden,
                            count: controls.output.textContent}));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page's script")
def test_the_item_filter_script_shows_only_matching_rows(run_dir):
    rows, arms = _items()
    page = write_reports(decide(Gate().checks, arms, build=CONTEXT.build), replace(CONTEXT, items=rows, primary_reading="gen"),
                         run_dir)["html"]
    (run_dir / "stub.js").write_text(_DOM_STUB)

    def shown(q="", split="", arm="", verdict=""):
        out = subprocess.run(["node", str(run_dir / "stub.js"), str(page), q, split, arm, verdict],
                             capture_output=True, text=True, check=True, timeout=60).stdout
        doc = json.loads(out)
        assert doc["hidden"] is False and doc["count"].endswith(f"of {len(rows)} items shown")  # controls revealed
        return doc["shown"]

    assert len(shown()) == 40
    assert shown(split="test_paraphrase", arm="tuned", verdict="0") == ["test_paraphrase-19"]
    assert len(shown(arm="constant", verdict="1")) == 20  # the constant arm scored test_paraphrase only
    assert shown(q="ALERT") == ["test_paraphrase-19"]  # any text, case-insensitive
    assert shown(split="test_locality", verdict="0") == [f"test_locality-{i}" for i in range(10, 20)]  # prompted misses 10-19


def test_the_header_names_the_model_default_stands_for():
    from compiler.release.formatting import provenance
    from compiler.training.record import BaseRef, GgufRef

    base = BaseRef("HuggingFaceTB/SmolLM2-135M-Instruct", "hub", GgufRef("SmolLM2-135M-Instruct.Q4_1.gguf", "Q4_1", "f" * 64))
    rows = dict(provenance(replace(CONTEXT, base=base, model_sha256="c" * 64)))
    assert rows["base model"] == ("default = HuggingFaceTB/SmolLM2-135M-Instruct (dequantized from "
                                  "SmolLM2-135M-Instruct.Q4_1.gguf, Q4_1) · weights sha256 " + "c" * 64)
    assert dict(provenance(CONTEXT))["base model"] == "default"  # an older run.json: what it records
