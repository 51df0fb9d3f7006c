"""A gate that verifies before it trusts (issue #14, part 3), and stats/diff that say what they
found: one fault planted per test in a finished fake run or a compiled build, then the exit code
and the message. No model is loaded: the runs are tests/_gate_fixtures.fake_run's.

Exit codes: 3 = the gate cannot vouch for the scores (a file altered, an adapter that is not the
one trained, figures its records do not give); 2 = a file that is not what it should be (not
JSON, the wrong shape, a folder); never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler import pipeline
from compiler.cli import main
from compiler.errors import EvalIncomplete, UsageError
from compiler.integrity import adapter_sha256, build_problems, read_json
from compiler.build.stats import render_stats
from tests._gate_fixtures import SPEC, fake_run, good_arms
from tests.test_gate import _paraphrase_data

NESTED = "[" * 100_000 + "]" * 100_000  # json.loads raises RecursionError on it


def _gate(run: Path) -> tuple[int, str]:
    """`syllabus gate RUN` → (exit code, everything it printed); never a traceback."""
    out = CliRunner().invoke(main, ["gate", str(run)])
    assert "Traceback" not in out.output and not isinstance(out.exception, (AssertionError, TypeError, KeyError)), \
        out.output
    return out.exit_code, out.output


def _edit_json(path: Path, edit) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    edit(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")


@pytest.fixture
def run(tmp_path) -> Path:
    """A finished run whose every check passes, of a build with data files (the constant arm's)."""
    spec = {**SPEC, "gate": {"checks": [{"kind": "min_accuracy", "split": "test_paraphrase", "min": 0.8},
                                        {"kind": "beats_constant", "split": "test_paraphrase"}]}}
    run, _ = fake_run(tmp_path, good_arms(), spec, data=_paraphrase_data())
    return run


def _build(run: Path) -> Path:
    return Path(json.loads((run / "run.json").read_text())["build_path"])


def test_the_fixture_run_passes_and_the_report_does_not_change_the_adapter(run):
    assert _gate(run)[0] == 0
    assert (run / "adapter" / "README.md").is_file()  # the model card the gate writes: not part of the hash
    assert _gate(run)[0] == 0


# ---------------------------------------------------------------- 1. the build is what was compiled

def test_a_data_file_altered_after_the_eval_is_untrusted(run):
    path = _build(run) / "data" / "test_paraphrase.jsonl"
    path.write_text(path.read_text().replace('"Blue"', '"Red"', 1))
    code, text = _gate(run)
    assert code == 3 and "data/test_paraphrase.jsonl: sha256" in text and "altered after the build was compiled" in text


def test_a_refused_gate_leaves_no_earlier_verdict_behind(run):
    assert _gate(run)[0] == 0 and (run / "verdict.json").is_file() and (run / "junit.xml").is_file()
    path = _build(run) / "data" / "test_paraphrase.jsonl"
    path.write_text(path.read_text().replace('"Blue"', '"Red"', 1))
    assert _gate(run)[0] == 3
    assert not (run / "verdict.json").exists()  # a CI must not read the old PASS
    junit = (run / "junit.xml").read_text()  # the refusal's, with its reason: not the old PASS
    assert 'name="status" value="incomplete"' in junit and "<error" in junit and "altered after the build" in junit


def test_spec_json_edited_to_no_checks_is_untrusted_not_a_pass(run):
    _edit_json(_build(run) / "spec.json", lambda d: d["gate"].update(checks=[]))
    code, text = _gate(run)
    assert code == 3 and "spec.json: sha256" in text and "PASS" not in text


def test_a_file_added_to_the_build_or_deleted_from_it_is_untrusted(run):
    (_build(run) / "tasks").mkdir()
    (_build(run) / "tasks" / "t_test_paraphrase.yaml").write_text("task: t_test_paraphrase\n")
    (_build(run) / "data" / "train.jsonl").unlink()
    code, text = _gate(run)
    assert code == 3
    assert "tasks/t_test_paraphrase.yaml: not listed in manifest.json" in text
    assert "data/train.jsonl: missing (manifest.json records it)" in text


def test_a_manifest_whose_spec_sha256_is_not_its_spec_yaml_is_reported(blue_build, tmp_path):
    copy = shutil.copytree(blue_build, tmp_path / "b")
    assert build_problems(copy, read_json(copy / "manifest.json")["files"],
                          read_json(copy / "manifest.json")["spec_sha256"]) == ()
    problems = build_problems(copy, read_json(copy / "manifest.json")["files"], "0" * 64)
    assert problems == ("manifest.json: spec_sha256 000000000000… is not the sha256 of spec.yaml "
                        f"({read_json(copy / 'manifest.json')['files']['spec.yaml'][:12]}…) it lists",)


# ---------------------------------------------------------------- 2. the adapter is the one trained and scored

def test_a_run_json_without_the_adapter_sha256_is_untrusted(run):
    _edit_json(run / "run.json", lambda d: d.pop("adapter_sha256"))
    code, text = _gate(run)
    assert code == 3 and "run.json: does not record the adapter's sha256" in text and "re-run `syllabus train`" in text


def test_a_deleted_adapter_is_untrusted(run):
    shutil.rmtree(run / "adapter")
    code, text = _gate(run)
    assert code == 3 and "adapter: missing" in text


def test_an_altered_adapter_is_untrusted(run):
    (run / "adapter" / "adapter_model.safetensors").write_bytes(b"other weights")
    code, text = _gate(run)
    assert code == 3 and "the adapter was altered after training" in text


@pytest.mark.parametrize("recorded", ["f" * 64, None])
def test_a_tuned_arm_of_another_adapter_or_of_none_is_untrusted(run, recorded):
    _edit_json(run / "eval" / "tuned.json",
               lambda d: d.update(adapter_sha256=recorded) if recorded else d.pop("adapter_sha256"))
    code, text = _gate(run)
    assert code == 3
    assert ("tuned arm: scored another adapter (adapter sha256 ffffffffffff" in text) if recorded else \
        ("tuned arm: scored an adapter it does not name" in text)


def test_the_adapter_hash_covers_names_and_bytes_but_not_the_model_card(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    (a / "adapter_config.json").write_text("{}")
    first = adapter_sha256(a)
    (a / "README.md").write_text("a model card")
    assert adapter_sha256(a) == first
    (a / "adapter_config.json").rename(a / "other.json")
    assert adapter_sha256(a) != first


# ---------------------------------------------------------------- 3. the figures are what the records give

@pytest.mark.parametrize("planted, says", [
    ({"samples": [], "n": 24}, "n = 24 but 0 per-item records"),
    ({"n": 24}, "n = 24 but 20 per-item records"),
    ({"acc": 1.0}, "accuracy 1.0 does not match its per-item records"),
    ({"stderr": 0.001}, "stderr 0.001 does not match its per-item records"),
    ({"wilson_low": 0.99}, "wilson_low 0.99 does not match its per-item records"),
])
def test_figures_the_per_item_records_do_not_give_are_untrusted(run, planted, says):
    _edit_json(run / "eval" / "tuned.json", lambda d: [s.update(planted) for s in d["scores"]])
    code, text = _gate(run)
    assert code == 3 and says in text


# ---------------------------------------------------------------- 4. malformed files: exit 2, the file named

@pytest.mark.parametrize("which", ["eval/tuned.json", "run.json"])
@pytest.mark.parametrize("fault, says", [
    ("not json", "not JSON (Expecting property name"),
    ("a list", "a JSON array, where a JSON object was expected"),
    ("a folder", "a folder, where a JSON file was expected"),
    ("nested", "JSON nested too deeply to read"),
])
def test_malformed_run_files_are_bad_input(run, which, fault, says):
    path = run / which
    path.unlink()
    if fault == "a folder":
        path.mkdir()
    else:
        path.write_text({"not json": "{nope", "a list": "[1, 2]", "nested": NESTED}[fault])
    code, text = _gate(run)
    assert code == 2 and f"{path}: {says}" in text


def test_an_eval_file_of_the_wrong_shape_inside_is_bad_input(run):
    _edit_json(run / "eval" / "base.json", lambda d: d["scores"][0]["samples"][0].update(correct="yes"))
    code, text = _gate(run)
    assert code == 2 and "base.json: not an evaluation result" in text and "correct is 'yes'" in text
    _edit_json(run / "eval" / "base.json", lambda d: d.update(scores={"a": 1}))
    code, text = _gate(run)
    assert code == 2 and "scores is a JSON object, not an array" in text


@pytest.mark.parametrize("fault, says", [
    ("a list", "manifest.json: a JSON array, where a JSON object was expected"),
    ("a folder", "manifest.json: a folder, where a JSON file was expected"),
    ("nested", "manifest.json: JSON nested too deeply to read"),
])
def test_a_malformed_manifest_is_bad_input_for_gate_stats_and_diff(run, fault, says):
    build = _build(run)
    (build / "manifest.json").unlink()
    if fault == "a folder":
        (build / "manifest.json").mkdir()
    else:
        (build / "manifest.json").write_text("[1]" if fault == "a list" else NESTED)
    for args in (["gate", str(run)], ["stats", str(build)], ["diff", str(build), str(build)]):
        out = CliRunner().invoke(main, args)
        assert out.exit_code == 2 and says in out.output and "Traceback" not in out.output, (args, out.output)


def test_a_deeply_nested_baseline_is_bad_input(run, tmp_path):
    (tmp_path / "v.json").write_text(NESTED)
    out = CliRunner().invoke(main, ["gate", str(run), "--baseline", str(tmp_path / "v.json")])
    assert out.exit_code == 2 and "nested too deeply" in out.output


# ---------------------------------------------------------------- 5. stats and diff: warnings, and file:line errors

def _copy(blue_build: Path, dest: Path) -> Path:
    return shutil.copytree(blue_build, dest)


def test_stats_and_diff_warn_about_a_file_that_does_not_match_the_manifest(blue_build, tmp_path):
    old, new = _copy(blue_build, tmp_path / "old"), _copy(blue_build, tmp_path / "new")
    path = new / "data" / "test_form.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[1:]))  # one example dropped after the compile
    text = render_stats(new)
    assert "warning: does not match its manifest.json: data/test_form.jsonl: sha256" in text
    assert "warning:" not in render_stats(old)
    out = CliRunner().invoke(main, ["diff", str(old), str(new)])
    assert out.exit_code == 0 and f"warning: new build {new} does not match its manifest.json: data/test_form.jsonl" \
        in out.output and "−1" in out.output  # still diffed: the removal shows
    md = CliRunner().invoke(main, ["diff", str(old), str(new), "--format", "markdown"]).output
    assert "> ⚠️ **warning:** new build" in md
    doc = json.loads(CliRunner().invoke(main, ["diff", str(old), str(new), "--format", "json"]).output)
    assert doc["old"]["integrity"] == [] and doc["new"]["integrity"][0].startswith("data/test_form.jsonl: sha256")


@pytest.mark.parametrize("fault, says", [
    ("bad json", ":3: not JSON (Expecting property name enclosed in double quotes at column 2)"),
    ("no provenance", ":3: missing key 'provenance'"),
    ("a list", ":3: a JSON array, where a row object was expected"),
    ("nested", ":3: JSON nested too deeply to read"),
])
def test_a_bad_data_line_is_file_line_what_for_stats_and_diff(blue_build, tmp_path, fault, says):
    build = _copy(blue_build, tmp_path / "b")
    path = build / "data" / "train.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    row = json.loads(lines[2])
    row.pop("provenance")
    lines[2] = {"bad json": "{nope\n", "no provenance": json.dumps(row) + "\n", "a list": "[1]\n",
                "nested": NESTED + "\n"}[fault]
    path.write_text("".join(lines))
    for args in (["stats", str(build)], ["diff", str(blue_build), str(build)]):
        out = CliRunner().invoke(main, args)
        assert out.exit_code == 2 and f"{path}{says}" in out.output and "Traceback" not in out.output, (args, out.output)


def test_a_data_file_that_is_a_folder_is_bad_input_for_stats(blue_build, tmp_path):
    build = _copy(blue_build, tmp_path / "b")
    (build / "data" / "test_form.jsonl").unlink()
    (build / "data" / "test_form.jsonl").mkdir()
    with pytest.raises(UsageError, match="test_form.jsonl: a folder, where a file was expected"):
        render_stats(build)


def test_gate_raises_typed_errors_not_tracebacks(run):
    """The same faults through pipeline.gate: EvalIncomplete (3) and UsageError (2), as the CLI maps them."""
    (run / "adapter" / "adapter_config.json").write_text('{"r": 8}')
    with pytest.raises(EvalIncomplete) as err:
        pipeline.gate(run, None)
    assert err.value.exit_code == 3
    (run / "run.json").write_text("[]")
    with pytest.raises(UsageError):
        pipeline.gate(run, None)
