"""pipeline.py: `syllabus run` chains every stage — on a tiny random model, in seconds, so
`make test-fast` covers the main job's wiring (the real model runs in test_e2e_slow.py)."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner

from compiler.cli import main
from tests._tiny import save_tiny
from tests.conftest import SPECS


def test_run_chains_compile_eval_train_gate_and_reports(tmp_path, monkeypatch):
    monkeypatch.setenv("SYLLABUS_CACHE", str(tmp_path / "cache"))
    model_dir = save_tiny(tmp_path / "tiny-model")
    text = (SPECS / "blue_products.yaml").read_text()
    assert "  model: default\n" in text and "  epochs: 1.25\n" in text
    text = text.replace("  model: default\n", f"  model: {model_dir}\n").replace("  epochs: 1.25\n", "  epochs: 0.1\n")
    spec = tmp_path / "blue.yaml"
    spec.write_text(text)
    monkeypatch.chdir(tmp_path)  # build/<name>/ goes under the test's folder
    out = CliRunner().invoke(main, ["run", str(spec), "--runs", str(tmp_path / "runs"), "--device", "cpu"])
    assert "Traceback" not in out.output, out.output
    assert out.exit_code in (0, 1), out.output  # a verdict: a random model fails the gate
    # the tiny model has 2 layers: the span 0.13-0.53 of depth is layer 1 (1/2 = 0.5)
    assert "train: 508 lessons, LoRA r=16 on gate_proj, up_proj, down_proj of layers 1-1" in out.output
    (run,) = (tmp_path / "runs").iterdir()
    verdict = json.loads((run / "verdict.json").read_text())
    assert verdict["exit_code"] == out.exit_code and len(verdict["checks"]) == 4
    for name in ("report.md", "report.html", "junit.xml", "eval/base.json", "eval/prompted.json", "eval/tuned.json"):
        assert (run / name).is_file(), name
    card = (run / "adapter" / "README.md").read_text()
    assert "- lora_layers: 0.13, 0.53" in card and "- examples: 508" in card
    assert os.path.isdir(tmp_path / "build" / "blue-products")
