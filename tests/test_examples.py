"""examples/: the template-pack spec compiles, the API script runs, the CI workflow is well formed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from compiler.build.read import read_build, read_split
from compiler.spec.library import load_library
from compiler.pipeline import compile_spec

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def test_template_pack_adds_a_scenario_form_with_six_families():
    library = load_library((EXAMPLES / "template_pack",))
    form = library.forms["scenario"]
    assert form.kind == "open" and len(form.families) == 6
    assert "open" in library.forms  # the built-in pack is still there
    assert "vendor" in dict(library.paraphrase.synonyms)["supplier"]


def test_template_pack_spec_compiles_and_holds_the_new_form_out(tmp_path):
    result = compile_spec(EXAMPLES / "template_pack" / "spec.yaml", tmp_path / "kitchen-wood")
    build = read_build(result.path)
    assert build.manifest.name == "kitchen-wood"
    test_form = read_split(build, "test_form")
    assert test_form and {e.provenance.form for e in test_form} == {"scenario"}
    in_scope = [e for e in test_form if e.provenance.scope == "rule"]
    assert in_scope and all(e.answer == "Wood" for e in in_scope)
    # out of scope too: seen neighbours asked in the held-out form keep their own answers
    assert all(e.answer != "Wood" for e in test_form if e.provenance.scope == "neighbour")
    assert "scenario" not in {e.provenance.form for e in read_split(build, "train")}
    assert {e.provenance.form for e in read_split(build, "test_paraphrase")} <= {"open", "yes_no", "either_or", "instruction"}


def test_api_script_compiles_and_prints_held_out_questions(tmp_path):
    out = tmp_path / "bp"
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "api" / "compile_and_inspect.py"), "--out", str(out), "-n", "2"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    counts = json.loads((out / "manifest.json").read_text())["counts"]["splits"]
    assert f"  test_form        {counts['test_form']:>5}" in proc.stdout
    for split in ("test_paraphrase", "test_form", "test_locality"):
        assert f"\n{split} ({counts[split]}), first 2:" in proc.stdout
    assert proc.stdout.count("      answer ") == 6


def test_api_script_reports_a_bad_spec_with_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("syllabus: 1\nname: Not A Valid Name\n")
    proc = subprocess.run([sys.executable, str(EXAMPLES / "api" / "compile_and_inspect.py"), str(bad)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_ci_workflow_gates_on_the_exit_code():
    wf = yaml.safe_load((EXAMPLES / "ci" / "gate.yml").read_text())
    steps = wf["jobs"]["gate"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "make setup" in runs and "syllabus compile" in runs and "syllabus gate" in runs
    assert "GITHUB_STEP_SUMMARY" in runs and "--baseline" in runs
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert "runs/" in upload["with"]["path"] and upload["if"] == "always()"
    assert 'exit "$code"' in steps[-1]["run"] and steps[-1]["if"].startswith("always()")
    readme = (EXAMPLES / "ci" / "README.md").read_text()
    assert all(f"| {code} |" in readme for code in range(4))
