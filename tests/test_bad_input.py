"""The bad-input corpus: every file in tests/bad_specs/ must be refused by
`syllabus validate` with exit 2, located messages and no traceback.

Each `<case>.yaml` has a `<case>.expected`: one substring per line that must appear in
the error output (the first ones carry the `file:line:col` location).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from compiler.spec.yamlio import MAX_BYTES

HERE = Path(__file__).parent
CORPUS = HERE / "bad_specs"
CASES = sorted(CORPUS.glob("*.yaml"))
SPEC = HERE.parent / "specs" / "blue_products.yaml"


def _validate(path: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exc_info
    return result.exit_code, result.stdout, result.stderr


def test_the_corpus_is_complete():
    assert len(CASES) >= 30
    for case in CASES:
        expected = case.with_suffix(".expected")
        assert expected.exists(), f"{case.name} has no .expected file"
        lines = [line for line in expected.read_text().splitlines() if line.strip()]
        assert lines, f"{expected.name} is empty"
        assert any(re.search(r"\.yaml:\d+:\d+: ", line) for line in lines), f"{expected.name} names no location"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_bad_spec_is_refused_with_located_messages(case: Path):
    code, out, err = _validate(case)
    assert code == 2
    assert out == ""  # errors go to stderr
    assert "Traceback" not in err
    for line in case.with_suffix(".expected").read_text().splitlines():
        if line.strip():
            assert line in err, f"missing {line!r} in:\n{err}"


def test_a_file_over_the_size_cap_is_refused(tmp_path: Path):
    big = tmp_path / "big.yaml"
    # A valid spec padded with a comment past the cap: the size alone is the problem.
    text = SPEC.read_text(encoding="utf-8")
    big.write_text(text + "#" + "x" * (MAX_BYTES - len(text.encode())) + "\n", encoding="utf-8")
    assert big.stat().st_size > MAX_BYTES
    code, _, err = _validate(big)
    assert code == 2
    assert "big.yaml:1:1: the file is larger than the 1 MiB limit" in err
    assert "Traceback" not in err


def test_several_problems_are_reported_at_once():
    code, _, err = _validate(CORPUS / "many_problems.yaml")
    assert code == 2
    located = re.findall(r"^\S*many_problems\.yaml:(\d+):(\d+): ", err, flags=re.M)
    # schema (seed, distractors x2, fraction, gate split) and semantic (empty slot,
    # unknown slot, unknown form) problems, in file order
    assert len(located) == 8
    assert located == sorted(located, key=lambda lc: (int(lc[0]), int(lc[1])))


def test_a_missing_spec_file_is_a_clean_error(tmp_path: Path):
    code, _, err = _validate(tmp_path / "nope.yaml")
    assert code == 2
    assert "nope.yaml: cannot read the file" in err
    assert "Traceback" not in err


def test_a_clean_spec_validates_silently():
    code, out, err = _validate(SPEC)
    assert (code, out, err) == (0, "", "")


def test_warnings_go_to_stderr_with_exit_0(tmp_path: Path):
    text = SPEC.read_text(encoding="utf-8")
    # No neighbours: the spec compiles, but locality cannot be tested.
    text = text.replace('    neighbours:\n      subject: neighbour\n      answer: "{{ neighbour.color }}"\n', "")
    spec = tmp_path / "no_neighbours.yaml"
    spec.write_text(text, encoding="utf-8")
    # A gate check of the empty test_locality split could never pass: an error, located at the check.
    code, out, err = _validate(spec)
    assert code == 2 and "gate.checks[6].split: this check reads test_locality, which will be empty" in err
    locality_check = "    - {kind: max_drop_vs_base, split: test_locality, max: 0.05, reading: mc}\n"
    assert locality_check in text
    spec.write_text(text.replace(locality_check, ""), encoding="utf-8")
    code, out, err = _validate(spec)
    assert code == 0 and out == ""
    assert "no_neighbours.yaml:32:5: warning: rules[0]: rule 'prefer-blue' has no neighbours" in err


def test_validate_as_a_real_process():
    """End to end through the installed entry point: exit codes and no traceback."""
    bad = subprocess.run(
        [sys.executable, "-m", "compiler.cli", "validate", str(CORPUS / "tmpl_dunder_class.yaml")],
        capture_output=True, text=True, timeout=120,
    )
    assert bad.returncode == 2
    assert "access to '__class__' is not allowed" in bad.stderr
    assert "Traceback" not in bad.stderr
    good = subprocess.run(
        [sys.executable, "-m", "compiler.cli", "validate", str(SPEC)], capture_output=True, text=True, timeout=120
    )
    assert (good.returncode, good.stdout, good.stderr) == (0, "", "")


@pytest.mark.parametrize("flag, value", [("--epochs", "inf"), ("--lr", "nan"), ("--lr", "0"), ("--rank", "0"),
                                         ("--batch-size", "-8")])
def test_train_refuses_a_nonsense_override_before_loading_anything(tmp_path: Path, flag: str, value: str):
    result = CliRunner().invoke(main, ["train", str(tmp_path), flag, value])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"Invalid value for '{flag}'" in result.output and "give a finite number greater than 0" in result.output
