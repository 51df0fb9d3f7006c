"""examples/: the template-pack spec compiles, the API script runs, the CI workflow is well formed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
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


# ---------------------------------------------------------------- the public API


def _compiler_uses(path: Path) -> set[str]:
    """Every way a script reaches into the package: `import compiler.x` → 'compiler.x',
    `from compiler.x import y` → 'compiler.x:y', `compiler.name` attribute reads → 'compiler:name'."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    uses = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            uses |= {a.name for a in node.names if a.name.split(".")[0] == "compiler"}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "compiler":
            uses |= {f"{node.module}:{a.name}" for a in node.names}
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "compiler":
            uses.add(f"compiler:{node.attr}")
    return uses


@pytest.mark.parametrize("script", sorted((EXAMPLES / "api").glob("*.py")), ids=lambda p: p.name)
def test_api_examples_use_the_public_api_alone(script):
    import compiler

    uses = _compiler_uses(script)
    assert "compiler" in uses, f"{script.name} does not use the API"
    private = sorted(u for u in uses - {"compiler"} if not (u.startswith("compiler:") and u[9:] in compiler.__all__))
    assert private == [], f"{script.name} reaches past compiler.__all__: {private}"


def test_the_public_api_resolves_every_name_without_loading_torch():
    code = ("import sys, compiler\n"
            "missing = [n for n in compiler.__all__ if getattr(compiler, n, None) is None]\n"
            "assert not missing, missing\n"
            "assert 'torch' not in sys.modules, 'import compiler loaded torch'\n"
            "assert sorted(dir(compiler)) == sorted(compiler.__all__)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_release_example_runs_compile_train_evaluate_gate_on_a_tiny_model(tmp_path, monkeypatch):
    from tests._tiny import save_tiny

    model_dir = save_tiny(tmp_path / "tiny-model")
    env = {**os.environ, "SYLLABUS_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "api" / "release.py"), "--out", str(tmp_path / "bp"), "--runs",
         str(tmp_path / "runs"), "--model", str(model_dir), "--epochs", "0.1", "--device", "cpu"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600, env=env,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1), proc.stderr  # a verdict: a random model fails the gate
    (run,) = (tmp_path / "runs").iterdir()
    verdict = json.loads((run / "verdict.json").read_text())
    assert f"(exit {verdict['exit_code']}): " in proc.stdout and verdict["exit_code"] == proc.returncode
    assert proc.stdout.count("\n  ") >= len(verdict["checks"])  # one line per check
    for name in ("eval/base.json", "eval/prompted.json", "eval/tuned.json", "report.md"):
        assert (run / name).is_file(), name
