"""The main job end to end with the real embedded model on CPU (minutes): CI runs it,
`make test-fast` skips it.

1. `syllabus run specs/blue_products.yaml` passes its gate, and the numbers behind
   the pass are the ones the issue asks for.
2. The same spec without retain examples paints the stop sign blue: the gate must
   catch it on locality.
"""

from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from compiler.results import read_arm
from tests.conftest import SPECS

pytestmark = pytest.mark.slow


def _run(tmp_path: Path, monkeypatch, spec: Path) -> tuple[int, Path, str]:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", str(spec), "--runs", str(tmp_path / "runs")])
    assert "Traceback" not in result.output, result.output
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 1, result.output
    return result.exit_code, runs[0], result.output


def _acc(run: Path, arm: str, split: str) -> float:
    score = read_arm(run / "eval" / f"{arm}.json").score(split, "mc")
    assert score is not None and score.n > 0
    return score.acc


def test_blue_products_passes_its_gate(tmp_path, monkeypatch):
    code, run, output = _run(tmp_path, monkeypatch, SPECS / "blue_products.yaml")
    assert code == 0, output
    tuned = {s: _acc(run, "tuned", s) for s in ("test_paraphrase", "test_form", "test_locality")}
    base = {s: _acc(run, "base", s) for s in ("test_paraphrase", "test_locality")}
    assert tuned["test_paraphrase"] >= 0.9, tuned
    assert tuned["test_form"] >= 0.8, tuned
    assert tuned["test_paraphrase"] - base["test_paraphrase"] >= 0.5, (tuned, base)
    assert base["test_locality"] - tuned["test_locality"] <= 0.05, (tuned, base)
    for name in ("verdict.json", "report.md", "report.html", "junit.xml", "adapter/README.md"):
        assert (run / name).is_file(), name


def test_without_retain_examples_the_gate_fails_on_locality(tmp_path, monkeypatch):
    text = (SPECS / "blue_products.yaml").read_text()
    text = text.replace("name: blue-products", "name: blue-products-no-retain")
    text = text.replace("splits:\n", "splits:\n  retain: false\n", 1)
    spec = tmp_path / "no_retain.yaml"
    spec.write_text(text)
    code, run, output = _run(tmp_path, monkeypatch, spec)
    assert code == 1, output
    import json

    verdict = json.loads((run / "verdict.json").read_text())
    failed = [c for c in verdict["checks"] if c["passed"] is False]
    assert any(c["kind"] == "max_drop_vs_base" and c["split"] == "test_locality" for c in failed), verdict["checks"]
