"""The drift checks (max_general_drift, max_collapsed): pass, fail, and every way to fail closed;
the reports' general section; `syllabus gate` reading eval/general.json."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from compiler import pipeline
from compiler.release.breakdown import general_pairs
from compiler.errors import UsageError
from compiler.release.ci_files import verdict_document
from compiler.release.context import ReportContext
from compiler.release.gate import decide
from compiler.release.html_report import render_html
from compiler.release.text_report import render_markdown, render_text
from compiler.release.verdict import BuildRef
from compiler.evaluation.results import DriftItem, DriftResult, DriftScore, write_drift
from compiler.spec.model import Gate, MaxCollapsed, MaxGeneralDrift
from tests._gate_fixtures import SHA, SPEC, fake_run, good_arms

BUILD = BuildRef("blue-products", SHA)
LONG = "Here is a reply of well over eight words, as the base model writes them."
DRIFT = MaxGeneralDrift(kind="max_general_drift", max=0.3)
COLLAPSE = MaxCollapsed(kind="max_collapsed", max=0.05)


def _gated(run, baseline):
    """pipeline.gate → (what the CLI prints, exit code)."""
    result = pipeline.gate(run, baseline)
    return result.render(), result.exit_code


def drift(drops=(0.1, 0.2, 0.1, 0.2), tuned=None, sha=SHA, complete=True) -> DriftResult:
    """Items whose base reply is LONG; `tuned` replies default to LONG too (nothing collapsed)."""
    tuned = tuned or [LONG] * len(drops)
    items = tuple(DriftItem(f"g{k}", f"prompt {k}", ("writing", "code", "facts", "lists")[k % 4], LONG, t, 12,
                            -1.0, -1.0 - d) for k, (d, t) in enumerate(zip(drops, tuned)))
    return DriftResult("default", sha, complete, (DriftScore.from_items("test_general", items),), 48)


def test_checks_pass_and_fail_on_the_figures():
    v = decide([DRIFT, COLLAPSE], good_arms(), build=BUILD, general=drift())
    assert v.status == "pass", v.reasons
    assert [c.name for c in v.checks] == ["max_general_drift[test_general]", "max_collapsed[test_general]"]
    assert v.checks[0].observed == pytest.approx(0.15) and v.checks[0].reading == ""
    assert "lost 0.150 ± 0.029 nats/token" in v.checks[0].detail
    (row,) = v.general
    assert (row.n, row.collapsed) == (4, 0) and row.drift == pytest.approx(0.15)
    far = decide([DRIFT], good_arms(), build=BUILD, general=drift(drops=(1.0, 1.1, 0.9, 1.0)))
    assert (far.status, far.exit_code) == ("fail", 1)
    short = decide([COLLAPSE], good_arms(), build=BUILD, general=drift(tuned=["Lighthouse", LONG, "5", LONG]))
    assert (short.status, short.checks[0].observed) == ("fail", 0.5)
    assert "2 of 4 tuned replies to held-out general prompts collapsed" in short.checks[0].detail


def _broken_items(result: DriftResult) -> DriftResult:
    (s,) = result.scores
    return replace(result, scores=(replace(s, drift=0.01),))  # a figure the items do not give


@pytest.mark.parametrize("general, why", [
    (None, "eval/general.json is missing"),
    (drift(complete=False), "did not finish"),
    (drift(sha="f" * 64), "measured on another build"),
    (replace(drift(), scores=()), "no score was recorded"),
    (replace(drift(), scores=(DriftScore.from_items("test_general", ()),)), "the split is empty"),
    (drift(drops=(math.nan, 0.1)), "not numbers"),
    (_broken_items(drift()), "not what the per-item records give"),
])
def test_what_cannot_be_verified_is_incomplete(general, why):
    for check in (DRIFT, COLLAPSE):
        v = decide([check], good_arms(), build=BUILD, general=general)
        assert (v.status, v.exit_code) == ("incomplete", 3), v
        assert why in v.checks[0].detail and v.checks[0].passed is None


def test_drift_checks_never_count_as_regressions_and_need_no_reading():
    from compiler.release.gate import resolve_readings
    from compiler.release.verdict import BaselineVerdict

    assert resolve_readings([DRIFT], "gen") == (DRIFT,)
    base = BaselineVerdict("blue-products", SHA, "pass", ())
    v = decide([DRIFT], good_arms(), base, BUILD, general=drift())
    assert [c.kind for c in v.checks] == ["max_general_drift"]


def test_the_spec_schema_takes_the_new_kinds():
    gate = Gate.model_validate({"checks": [{"kind": "max_general_drift", "max": 0.3},
                                           {"kind": "max_collapsed", "split": "test_general", "max": 0.05}]})
    assert gate.checks == [DRIFT, COLLAPSE]


def _context(pairs=()) -> ReportContext:
    return ReportContext("r1", BUILD, "b" * 64, (), "default", general_pairs=pairs, general_expected=True)


def test_reports_show_drift_and_replies_side_by_side():
    result = drift(tuned=["Lighthouse", LONG, LONG, LONG], drops=(1.2, 0.1, 0.3, 0.2))
    v = decide([DRIFT, COLLAPSE], good_arms(), build=BUILD, general=result)
    pairs = general_pairs(result)
    assert pairs[0].tuned_reply == "Lighthouse" and pairs[0].collapsed  # collapsed first, then the largest drops
    assert [p.kind for p in pairs] == ["writing", "facts", "lists", "code"]
    md = render_markdown(v, _context(pairs))
    assert "### General behaviour (held-out general prompts)" in md
    assert "| test_general | 4 | 0.450 ± " in md and "| 1 (0.250) |" in md
    assert "Lighthouse **(collapsed)**" in md
    html = render_html(v, _context(pairs))
    assert "General behaviour" in html and "Lighthouse <strong>(collapsed)</strong>" in html
    assert "test_general: drift 0.450 ± " in render_text(v, _context(pairs))
    doc = verdict_document(v, _context(pairs))
    assert doc["general"][0]["collapsed"] == 1 and doc["general"][0]["drift"] == pytest.approx(0.45)


def test_reports_say_when_the_drift_was_not_measured():
    v = decide([DRIFT], good_arms(), build=BUILD, general=None)
    assert "Not measured: eval/general.json is missing" in render_markdown(v, _context())
    assert "General behaviour" not in render_markdown(v, replace(_context(), general_expected=False))


def test_syllabus_gate_reads_eval_general_json(tmp_path):
    spec = {**SPEC, "retain": {"general": {"share": 0.1}},
            "gate": {"checks": [{"kind": "max_general_drift", "max": 0.3}, {"kind": "max_collapsed", "max": 0.05}]}}
    run, sha = fake_run(tmp_path, good_arms(), spec=spec)
    text, code = _gated(run, None)
    assert code == 3 and "general drift: not measured" in text
    adapter = json.loads((run / "run.json").read_text())["adapter_sha256"]
    write_drift(replace(drift(sha=sha), adapter_sha256=adapter), run / "eval" / "general.json")
    text, code = _gated(run, None)
    assert code == 0, text
    assert "test_general: drift 0.150" in text
    assert "General behaviour" in (run / "report.md").read_text()
    assert json.loads((run / "verdict.json").read_text())["general"][0]["n"] == 4
    write_drift(drift(sha=sha), run / "eval" / "general.json")  # names no adapter: untrusted
    text, code = _gated(run, None)
    assert code == 3 and "general drift: measured with an adapter it does not name" in text
    (run / "eval" / "general.json").write_text("{not json")
    with pytest.raises(UsageError, match="general.json: not JSON"):  # malformed: bad input
        pipeline.gate(run, None)
