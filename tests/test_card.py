"""build/card.py: every build is a Hugging Face dataset repo (README.md with `configs:`)."""

from __future__ import annotations

import json

import yaml

from compiler.build.read import read_build
from compiler.names import SPLITS


def _header(build) -> dict:
    text = (build / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_the_card_maps_each_split_to_its_own_file(blue_build):
    header = _header(blue_build)
    configs = {c["config_name"]: {f["split"]: f["path"] for f in c["data_files"]} for c in header["configs"]}
    assert configs["default"] == {s: f"data/{s}.parquet" for s in SPLITS}  # train_sample is not merged into train
    assert configs["train_sample"] == {"train_sample": "data/train_sample.parquet"}
    assert configs["general"] == {"train_general": "data/train_general.parquet", "test_general": "data/test_general.parquet"}
    manifest = json.loads((blue_build / "manifest.json").read_text())
    assert "README.md" in manifest["files"]  # hashed like every other file: the gate verifies it


def test_load_dataset_returns_exactly_the_builds_splits(blue_build, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from datasets import load_dataset

    counts = read_build(blue_build).manifest.counts
    ds = load_dataset(str(blue_build), cache_dir=str(tmp_path / "cache"))
    assert {name: len(split) for name, split in ds.items()} == {s: counts[s] for s in SPLITS}
    row = ds["train"][0]
    assert row["messages"][0]["role"] == "user" and row["messages"][0]["content"] == row["question"]
    sample = load_dataset(str(blue_build), "train_sample", cache_dir=str(tmp_path / "cache"))
    assert len(sample["train_sample"]) == counts["train_sample"]
    general = load_dataset(str(blue_build), "general", cache_dir=str(tmp_path / "cache"))
    assert len(general["test_general"]) == counts["test_general"]


def test_the_card_says_what_each_split_is_and_the_audit(blue_build):
    text = (blue_build / "README.md").read_text(encoding="utf-8")
    build = read_build(blue_build)
    for split, n in build.manifest.counts.items():
        assert f"| `{split}` | {n} |" in text
    for line in build.manifest.audit.splits:
        assert f"| `{line.split}` | {line.n} | {line.exact} |" in text
    assert build.spec.rules[0].statement in text and "--apply_chat_template" in text


def test_user_text_cannot_break_the_card():
    from compiler.build.card import dataset_card
    from compiler.compilation.audit import AuditReport
    from compiler.spec.model import Spec

    spec = Spec.model_validate({
        "syllabus": 1, "name": "x", "description": "a | b\n---\nconfigs: []  <script>",
        "lexicon": {"product": ["box"]},
        "rules": [{"id": "r", "statement": "Use | pipes\nand <b>tags</b>.", "subject": "product",
                   "attribute": "color", "value": "blue", "distractors": "product", "forms": ["open"]}],
    })
    card = dataset_card(spec, {"train": 1}, AuditReport(8, (), ()), ["train"], (), "syllabus_x")
    header = yaml.safe_load(card.split("---\n")[1])
    assert [c["config_name"] for c in header["configs"]] == ["default", "train_sample"]
    body = card.split("---\n", 2)[2]
    assert "a \\| b --- configs: [] &lt;script&gt;" in body  # one line, escaped: no table or header it could end
    assert "**r**: Use \\| pipes and &lt;b&gt;tags&lt;/b&gt;." in body
    assert "--system_instruction 'Use | pipes\nand <b>tags</b>.'" in body  # verbatim, inside a code block
