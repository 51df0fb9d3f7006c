"""pipeline.py: `syllabus run` chains every stage — on a tiny random model, in seconds, so
`make test-fast` covers the main job's wiring (the real model runs in test_e2e_slow.py)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import yaml

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
    counts = json.loads((tmp_path / "build" / "blue-products" / "manifest.json").read_text())["counts"]["splits"]
    # the tiny model has 2 layers: the founding spec's span of depth falls on layer 1 alone
    retain = f" + {counts['train_general']} general retain lessons" if "train_general" in counts else ""
    assert re.search(rf"train: {counts['train']} lessons{re.escape(retain)}, LoRA r=16 on [a-z_, ]+ of layers 1-1",
                     out.output), out.output
    (run,) = (tmp_path / "runs").iterdir()
    verdict = json.loads((run / "verdict.json").read_text())
    spec_doc = yaml.safe_load(spec.read_text())
    assert verdict["exit_code"] == out.exit_code and len(verdict["checks"]) == len(spec_doc["gate"]["checks"])
    for name in ("report.md", "report.html", "junit.xml", "eval/base.json", "eval/prompted.json", "eval/tuned.json"):
        assert (run / name).is_file(), name
    card = (run / "adapter" / "README.md").read_text()
    span = spec_doc["train"]["lora"]["layers"]
    assert f"- lora_layers: {span['start']}, {span['end']}" in card and f"- examples: {counts['train']}" in card
    assert os.path.isdir(tmp_path / "build" / "blue-products")


def test_run_with_general_retain_lessons_writes_the_drift_and_gates_on_it(tmp_path, monkeypatch):
    """retain.general on a tiny model: the base writes retain and test_general replies (cached),
    they join the lessons, the drift lands in eval/general.json, the report and the gate."""
    monkeypatch.setenv("SYLLABUS_CACHE", str(tmp_path / "cache"))
    model_dir = save_tiny(tmp_path / "tiny-model")
    doc = yaml.safe_load((SPECS / "blue_products.yaml").read_text())
    doc["train"].update(model=str(model_dir), epochs=0.1)
    doc["retain"] = {"general": {"share": 0.1, "test_size": 12, "max_new_tokens": 8}}
    doc["gate"]["checks"] = [c for c in doc["gate"]["checks"] if c["kind"] not in ("max_general_drift", "max_collapsed")]
    doc["gate"]["checks"] += [{"kind": "max_general_drift", "max": 100}, {"kind": "max_collapsed", "max": 1}]
    text = yaml.safe_dump(doc, sort_keys=False)
    spec = tmp_path / "blue.yaml"
    spec.write_text(text)
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(main, ["run", str(spec), "--runs", str(tmp_path / "runs"), "--device", "cpu"])
    assert "Traceback" not in out.output, out.output
    assert out.exit_code in (0, 1), out.output
    counts = json.loads((tmp_path / "build" / "blue-products" / "manifest.json").read_text())["counts"]["splits"]
    n_retain, n_test = counts["train_general"], counts["test_general"]
    assert f"general replies: {n_retain} retain lessons by {model_dir} (self-distillation)" in out.output
    assert f"{n_retain + n_test} written, 0 from the cache" in out.output
    (run,) = (tmp_path / "runs").iterdir()
    record = json.loads((run / "run.json").read_text())
    assert record["retain_lessons"] == n_retain and record["examples"] == counts["train"]
    general = json.loads((run / "eval" / "general.json").read_text())
    assert general["complete"] and general["scores"][0]["split"] == "test_general"
    verdict = json.loads((run / "verdict.json").read_text())
    drift_checks = [c for c in verdict["checks"] if c["kind"] in ("max_general_drift", "max_collapsed")]
    assert [c["passed"] for c in drift_checks] == [True, True]
    assert "General behaviour (held-out general prompts)" in (run / "report.md").read_text()
    # a second run writes no reply: every one comes from the cache; its result as JSON (docs/cli-json.md)
    again = CliRunner().invoke(main, ["run", str(spec), "--runs", str(tmp_path / "runs2"), "--device", "cpu",
                                      "--format", "json"])
    assert "0 written" in again.stderr, again.output
    doc = json.loads(again.stdout)  # the one document on stdout: the progress lines went to stderr
    (run2,) = (tmp_path / "runs2").iterdir()
    assert doc["schema"] == "syllabus.run/1" and doc["run_dir"] == str(run2) and doc["exit_code"] == again.exit_code
    assert doc["verdict"] == json.loads((run2 / "verdict.json").read_text())
    # `syllabus eval --adapter` measures the drift too (base replies from the cache)
    build = tmp_path / "build" / "blue-products"
    scored = CliRunner().invoke(main, ["eval", str(build), "--adapter", str(run / "adapter"), "--out",
                                       str(tmp_path / "eval-again"), "--device", "cpu", "--format", "json"])
    assert scored.exit_code == 0, scored.output
    arms = json.loads(scored.stdout)["arms"]
    assert list(arms) == ["base", "prompted", "tuned"] and all(a["complete"] for a in arms.values())
    assert Path(arms["tuned"]["file"]) == tmp_path / "eval-again" / "eval" / "tuned.json"
    again_general = json.loads((tmp_path / "eval-again" / "eval" / "general.json").read_text())
    assert again_general["scores"][0]["drift"] == general["scores"][0]["drift"]
