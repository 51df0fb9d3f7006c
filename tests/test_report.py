"""Reports: the files written from a verdict, their content, and verdict.json as the next baseline."""

from __future__ import annotations

import json
import math
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
    assert '<img alt="accuracy per split' in html and 'src="data:image/png;base64,' in html
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
    from compiler.release.html_report import _chart_png

    with_constant, without = _chart_png(_with_constant()), _chart_png(decide(Gate().checks, good_arms(), build=CONTEXT.build))
    assert with_constant.startswith(b"\x89PNG") and without.startswith(b"\x89PNG")
    assert with_constant != without  # the constant's test_form bars are drawn
