"""cli.py + progress.py: the command for scripts — `-h` everywhere, `--format json` documents
(docs/cli-json.md) with a versioned `schema`, JSON errors, -q / -v / --no-progress, NO_COLOR.
No model is loaded here: the gate runs on a fake run folder, `run` and `eval` JSON are unit-tested
on their result types (tests/test_pipeline.py reads them from the tiny-model run)."""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from compiler import pipeline, progress
from compiler.cli import main
from compiler.evaluation.results import Score
from tests._gate_fixtures import SPEC, arm, fake_run, good_arms, k_of_n
from tests.conftest import ROOT, SPECS


def _invoke(*args: str, env: dict | None = None):
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    assert "Traceback" not in result.output, result.output
    return result


def _doc(result) -> dict:
    """stdout → the one JSON document it must hold (nothing else: json.loads refuses extra text)."""
    return json.loads(result.stdout)


# ------------------------------------------------------------------ -h, group options

def test_dash_h_is_help_on_the_group_and_every_command():
    assert _invoke("-h").exit_code == 0
    for name in main.commands:
        out = _invoke(name, "-h")
        assert out.exit_code == 0 and out.stdout.startswith("Usage: ") and f" {name} " in out.stdout, name


def test_quiet_and_verbose_together_are_refused():
    out = _invoke("-q", "-v", "schema")
    assert out.exit_code == 2 and "-q/--quiet and -v/--verbose" in out.stderr


def test_every_result_printing_command_has_format_json():
    for name in ("validate", "compile", "stats", "diff", "train", "eval", "gate", "run"):
        assert "json" in _invoke(name, "-h").stdout, name


def test_the_cli_imports_no_torch():
    code = "import sys, compiler.cli; print(sorted(m for m in ('torch', 'transformers', 'peft', 'lm_eval') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ validate, compile, stats

def test_validate_json_names_its_schema_and_lists_warnings():
    out = _invoke("validate", SPECS / "blue_products.yaml", "--format", "json")
    assert out.exit_code == 0, out.output
    assert _doc(out) == {"schema": "syllabus.validate/1", "exit_code": 0, "spec": str(SPECS / "blue_products.yaml"),
                         "warnings": []}


def test_an_error_under_json_is_a_document_on_stdout_and_a_message_on_stderr(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"syllabus": 1, "name": "x", "rules": [], "bogus": 1}))
    out = _invoke("validate", bad, "--format", "json")
    assert out.exit_code == 2 and out.stderr.startswith("error: ")
    doc = _doc(out)
    assert doc["schema"] == "syllabus.error/1" and doc["exit_code"] == 2
    assert doc["error"]["type"] == "SpecError" and doc["error"]["problems"]
    assert set(doc["error"]["problems"][0]) == {"file", "line", "col", "field", "message", "hint", "severity"}
    assert all(p["file"] == str(bad) for p in doc["error"]["problems"])
    # text: no document, the same message
    text = _invoke("validate", bad)
    assert text.exit_code == 2 and text.stdout == "" and text.stderr == out.stderr


def test_a_bad_option_value_under_json_is_an_error_document_too(blue_build):
    out = _invoke("stats", blue_build, "--format", "json", "--examples", "many")
    assert out.exit_code == 2 and "Invalid value" in out.stderr
    doc = _doc(out)
    assert doc["schema"] == "syllabus.error/1" and doc["error"]["type"] == "BadParameter"


def test_compile_json_and_quiet(tmp_path):
    out = _invoke("compile", SPECS / "blue_products.yaml", "--out", tmp_path / "b", "--format", "json")
    assert out.exit_code == 0, out.output
    doc = _doc(out)
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert doc["schema"] == "syllabus.compile/1" and doc["build"] == str(tmp_path / "b")
    assert doc["counts"]["train"] == manifest["counts"]["splits"]["train"]
    assert "expanded" in out.stderr  # progress lines on stderr …
    quiet = _invoke("-q", "compile", SPECS / "blue_products.yaml", "--out", tmp_path / "b")
    assert quiet.exit_code == 0 and quiet.stderr == ""  # … and none under -q
    assert quiet.stdout.startswith(f"built {tmp_path / 'b'}:")


def test_stats_json_agrees_with_the_manifest(blue_build):
    out = _invoke("stats", blue_build, "--format", "json", "--examples", "1")
    assert out.exit_code == 0, out.output
    doc = _doc(out)
    manifest = json.loads((blue_build / "manifest.json").read_text())
    assert doc["schema"] == "syllabus.stats/1" and doc["name"] == manifest["name"] and doc["integrity"] == []
    assert doc["counts"] == manifest["counts"]["splits"]
    assert set(doc["audit"]["splits"]) == {"test_paraphrase", "test_form", "test_locality", "test_general"} & set(doc["counts"])
    assert "train_sample" not in doc["examples"]
    first = doc["examples"]["test_form"][0]
    assert len(doc["examples"]["test_form"]) == 1 and first["answer"] in first["choices"] and first["question"]


def test_stray_prints_go_to_stderr_under_json(monkeypatch):
    def noisy(spec):
        print("a library talking on stdout")
        return ()

    monkeypatch.setattr(pipeline, "validate", noisy)
    out = _invoke("validate", "any.yaml", "--format", "json")
    assert _doc(out)["schema"] == "syllabus.validate/1"
    assert "a library talking on stdout" in out.stderr
    assert "a library talking on stdout" in _invoke("validate", "any.yaml").stdout  # text: left alone


# ------------------------------------------------------------------ gate, eval, run

def _good_run(tmp_path: Path) -> Path:
    run, _ = fake_run(tmp_path, good_arms())
    return run


def test_gate_json_carries_the_verdict_document(tmp_path):
    run = _good_run(tmp_path)
    out = _invoke("gate", run, "--format", "json")
    doc = _doc(out)
    assert doc["schema"] == "syllabus.gate/1" and doc["exit_code"] == out.exit_code == doc["verdict"]["exit_code"]
    assert doc["status"] == doc["verdict"]["status"]
    assert doc["verdict"] == json.loads((run / "verdict.json").read_text())  # one home: verdict.json's document
    assert set(doc["reports"]) >= {"verdict", "markdown", "html", "junit"}
    assert all(Path(p).is_file() for p in doc["reports"].values())
    assert out.stderr == ""


def test_a_gate_that_refuses_under_json_is_an_error_document(tmp_path):
    run = _good_run(tmp_path)
    (run / "eval" / "tuned.json").write_text("[1, 2]")  # a list where an object belongs: bad input
    out = _invoke("gate", run, "--format", "json")
    doc = _doc(out)
    assert out.exit_code == doc["exit_code"] == 2 and doc["schema"] == "syllabus.error/1"
    assert doc["error"]["message"] in out.stderr


def test_run_json_is_the_gate_document_with_the_run_folder(tmp_path):
    run = _good_run(tmp_path)
    result = pipeline.RunResult(run, pipeline.gate(run), 12.34)
    doc = result.to_json()
    assert doc["schema"] == "syllabus.run/1" and doc["run_dir"] == str(run) and doc["seconds"] == 12.3
    assert doc["exit_code"] == result.exit_code and doc["verdict"]["checks"]
    json.dumps(doc, allow_nan=False)


def test_eval_json_lists_each_arm_and_writes_no_nan(tmp_path):
    nan_score = Score("test_form", "gen", math.nan, 0, math.nan, 0.0, 1.0)
    arms = (arm("base", {("test_form", "mc"): k_of_n(3, 4)}), arm("tuned", {}, complete=False))
    arms = (arms[0], type(arms[1])(**{**arms[1].__dict__, "scores": (nan_score,), "problems": ("why",)}))
    doc = pipeline.EvalResult(tmp_path, arms).to_json()
    assert doc["schema"] == "syllabus.eval/1" and doc["run_dir"] == str(tmp_path)
    assert doc["arms"]["base"]["scores"] == [{"split": "test_form", "reading": "mc", "acc": 0.75, "n": 4,
                                              "wilson_low": pytest.approx(0.30, abs=0.01),
                                              "wilson_high": pytest.approx(0.954, abs=0.01)}]
    assert doc["arms"]["base"]["file"] == str(tmp_path / "eval" / "base.json")
    assert doc["arms"]["tuned"]["complete"] is False and doc["arms"]["tuned"]["problems"] == ["why"]
    assert doc["arms"]["tuned"]["scores"][0]["acc"] is None
    json.dumps(doc, allow_nan=False)


# ------------------------------------------------------------------ diff: NO_COLOR

@pytest.fixture(scope="module")
def two_builds(tmp_path_factory, blue_build) -> tuple[Path, Path]:
    doc = yaml.safe_load((SPECS / "blue_products.yaml").read_text())
    doc["seed"] += 1  # other families held out: a diff with something in every section
    root = tmp_path_factory.mktemp("cli-diff")
    spec = root / "spec.yaml"
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    return blue_build, pipeline.compile_spec(spec, root / "new").path


@pytest.mark.parametrize("no_color, flag, coloured", [
    (None, None, True), ("1", None, False), ("", None, True), ("1", "--color", True), (None, "--no-color", False),
])
def test_diff_colour_follows_no_color_on_a_terminal(two_builds, monkeypatch, no_color, flag, coloured):
    monkeypatch.setattr(progress, "_isatty", lambda stream: True)  # as if stdout were a terminal
    monkeypatch.delenv("NO_COLOR", raising=False)
    env = {"NO_COLOR": no_color} if no_color is not None else {}
    out = _invoke("diff", *two_builds, *([flag] if flag else []), env=env)
    assert out.exit_code == 0, out.output
    assert ("\x1b[" in out.stdout) is coloured


def test_diff_json_names_its_schema(two_builds):
    doc = _doc(_invoke("diff", *two_builds, "--format", "json"))
    assert doc["schema"] == "syllabus.diff/1" and doc["schema_version"] == 1


# ------------------------------------------------------------------ progress.py

def test_quiet_hides_progress_not_warnings(capsys):
    with progress.configured(progress.QUIET):
        progress.say("[1/6] compile")
        progress.warn("warning: something")
        progress.detail("debug")
    assert capsys.readouterr().err == "warning: something\n"
    with progress.configured(progress.VERBOSE):
        progress.say("[1/6] compile")
        progress.detail("debug")
    assert capsys.readouterr().err == "[1/6] compile\ndebug\n"


def test_bars_need_a_terminal_and_no_flag_against_them(monkeypatch):
    assert not progress.show_bars()  # pytest's stderr is no terminal
    monkeypatch.setattr(progress, "_isatty", lambda stream: True)
    assert progress.show_bars()
    with progress.configured(progress.NORMAL, bars=False):
        assert not progress.show_bars()
    with progress.configured(progress.QUIET):
        assert not progress.show_bars()
    with progress.configured(progress.VERBOSE):
        assert progress.show_bars()


def test_library_noise_is_off_unless_verbose_and_put_back_after(monkeypatch):
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    before = {n: logging.getLogger(n).level for n in progress.LIBRARY_LOGGERS}
    with progress.configured(progress.NORMAL):
        assert all(logging.getLogger(n).level == logging.ERROR for n in progress.LIBRARY_LOGGERS)
        assert os.environ["TRANSFORMERS_VERBOSITY"] == "error" and os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
        with warnings.catch_warnings(record=True) as caught:  # records what the filters let through
            warnings.warn("peft says something", FutureWarning)
        assert not [w for w in caught if "peft says" in str(w.message)]
    assert {n: logging.getLogger(n).level for n in progress.LIBRARY_LOGGERS} == before
    assert "TRANSFORMERS_VERBOSITY" not in os.environ and "HF_HUB_DISABLE_PROGRESS_BARS" not in os.environ
    with progress.configured(progress.VERBOSE):
        assert logging.getLogger("transformers").level == before["transformers"]
        assert "TRANSFORMERS_VERBOSITY" not in os.environ
        assert logging.getLogger("compiler").isEnabledFor(logging.DEBUG)


def test_a_variable_the_user_set_wins(monkeypatch):
    monkeypatch.setenv("TRANSFORMERS_VERBOSITY", "info")
    with progress.configured(progress.NORMAL):
        assert os.environ["TRANSFORMERS_VERBOSITY"] == "info"
    assert os.environ["TRANSFORMERS_VERBOSITY"] == "info"


class _Tty:
    def isatty(self) -> bool:
        return True


class _Pipe:
    def isatty(self) -> bool:
        return False


def test_no_color_decision(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert progress.use_color(_Tty()) and not progress.use_color(_Pipe()) and progress.use_color(_Pipe(), True)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not progress.use_color(_Tty()) and progress.use_color(_Tty(), True)  # the command line wins
    monkeypatch.setenv("NO_COLOR", "")  # empty: as if unset
    assert progress.use_color(_Tty())


def test_every_schema_the_code_names_is_documented():
    import re

    named = {m for path in (ROOT / "compiler").rglob("*.py")
             for m in re.findall(r"syllabus\.[a-z_]+/\d+", path.read_text(encoding="utf-8"))}
    named.add("syllabus.diff/1")  # built from diffs/render.py's SCHEMA_VERSION
    doc = (ROOT / "docs" / "cli-json.md").read_text(encoding="utf-8")
    assert {"syllabus.run/1", "syllabus.gate/1", "syllabus.error/1", "syllabus.stats/1"} <= named
    assert [s for s in sorted(named) if f"`{s}`" not in doc] == []
