"""`syllabus export`: a verified build or run → a clean folder the Hub takes; never over what is there."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml
from click.testing import CliRunner

from compiler.cli import main
from compiler.export import export
from compiler.errors import PushFailed
from compiler.errors import UsageError
from compiler.model.load import load_model
from compiler.pipeline import compile_spec
from compiler.release.model_card import write_train_card
from compiler.training.lora import TrainSettings, train_lora
from compiler.training.record import read_record
from tests._specs import small_spec
from tests._tiny import save_tiny, tiny_examples

IDS = torch.tensor([[2, 10, 11, 12, 13, 3]])


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("export-build")
    spec = root / "small.yaml"
    spec.write_text(yaml.safe_dump(small_spec().model_dump(mode="json", exclude_defaults=True)))
    return compile_spec(spec, root / "small").path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run trained on a tiny local model (~3 s): (run folder, the tuned model in memory)."""
    root = tmp_path_factory.mktemp("export-run")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        base = save_tiny(root / "base")
        settings = TrainSettings(model=str(base), epochs=2, lr=1e-2, batch_size=4, checkpoint_every=1000, seed=3)
        result = train_lora(load_model(str(base), device="cpu"), tiny_examples(), settings, root / "run",
                            build_sha256="b" * 64, progress=False)
        write_train_card(result.adapter_dir, read_record(result.run_dir))  # as pipeline.train does
    finally:
        torch.set_num_threads(before)
    return result.run_dir, result.model


def _cli(*args: str):
    result = CliRunner().invoke(main, ["export", *map(str, args)])
    assert "Traceback" not in result.output, result.output
    return result


def test_a_build_exports_its_card_rows_and_tasks_and_loads_as_a_dataset(build, tmp_path):
    import datasets

    dest = tmp_path / "hub" / "small"
    result = _cli(build, dest)
    assert result.exit_code == 0, result.output
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert "README.md" in files and "data/train.parquet" in files and "data/train.jsonl" in files
    assert any(f.startswith("tasks/") for f in files)
    assert not {"manifest.json", "spec.json", "spec.yaml", "leakage.json"} & set(files)
    for rel in files:  # the bytes the manifest vouched for
        assert (dest / rel).read_bytes() == (build / rel).read_bytes()
    assert not list(tmp_path.glob("hub/.*"))  # no temp folder left
    manifest = json.loads((build / "manifest.json").read_text())
    ds = datasets.load_dataset(str(dest), cache_dir=str(tmp_path / "hf"))
    default = {s for s in manifest["counts"]["splits"] if s != "train_sample"}
    assert set(ds) == default
    assert {s: ds[s].num_rows for s in ds} == {s: manifest["counts"]["splits"][s] for s in default}
    sample = datasets.load_dataset(str(dest), "train_sample", cache_dir=str(tmp_path / "hf"))
    assert sample["train_sample"].num_rows == manifest["counts"]["splits"]["train_sample"]


def test_dest_must_be_new_or_empty_and_nothing_there_is_touched(build, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    (full / "mine.txt").write_text("keep me")
    result = _cli(build, full)
    assert result.exit_code == 2 and "not empty" in result.output
    assert sorted(p.name for p in full.iterdir()) == ["mine.txt"] and (full / "mine.txt").read_text() == "keep me"
    (tmp_path / "a-file").write_text("x")
    assert _cli(build, tmp_path / "a-file").exit_code == 2
    assert _cli(build, build / "inside").exit_code == 2 and not (build / "inside").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _cli(build, empty).exit_code == 0 and (empty / "README.md").is_file()


def test_a_build_that_does_not_verify_is_not_exported(build, tmp_path):
    altered = tmp_path / "altered"
    shutil.copytree(build, altered)
    with (altered / "data" / "test_form.jsonl").open("a") as fh:
        fh.write("{}\n")
    result = _cli(altered, tmp_path / "out")
    assert result.exit_code == 3 and "data/test_form.jsonl" in result.output
    assert not (tmp_path / "out").exists()
    assert _cli(build, tmp_path / "m", "--merged").exit_code == 2  # merging needs a run
    assert _cli(tmp_path, tmp_path / "n").exit_code == 2  # neither a build nor a run


def test_a_run_exports_a_loadable_adapter_and_merged_weights(run, tmp_path):
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run_dir, tuned = run
    dest = tmp_path / "adapter-repo"
    result = _cli(run_dir, dest, "--merged", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["schema"] == "syllabus.export/1" and doc["kind"] == "run" and any("not yet gated" in n for n in doc["notes"])
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md", "tokenizer.json",
            "merged/config.json", "merged/model.safetensors"} <= set(doc["files"])
    with torch.no_grad():
        want = tuned(input_ids=IDS).logits
        assert torch.allclose(AutoPeftModelForCausalLM.from_pretrained(str(dest)).eval()(input_ids=IDS).logits, want,
                              atol=1e-5)
        merged = AutoModelForCausalLM.from_pretrained(str(dest / "merged")).eval()
        assert torch.allclose(merged(input_ids=IDS).logits, want, atol=1e-4)
    assert AutoTokenizer.from_pretrained(str(dest)).chat_template
    assert "not yet gated" in (dest / "README.md").read_text(encoding="utf-8")


def test_an_altered_adapter_or_an_adapter_folder_is_refused(run, tmp_path):
    run_dir, _ = run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    result = _cli(copy / "adapter", tmp_path / "a")
    assert result.exit_code == 2 and f"pass its run, {copy}" in result.output
    (copy / "adapter" / "adapter_config.json").write_text("{}")
    result = _cli(copy, tmp_path / "b")
    assert result.exit_code == 3 and "altered after training" in result.output and not (tmp_path / "b").exists()


def test_push_fails_cleanly_without_a_network_and_keeps_the_export(run, tmp_path, monkeypatch):
    import huggingface_hub

    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve 'huggingface.co'")

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", offline)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", offline)
    run_dir, _ = run
    with pytest.raises(PushFailed, match="ConnectionError: Failed to resolve") as err:
        export(run_dir, tmp_path / "out", push="me/blue-adapter")
    assert err.value.exit_code == 3 and (tmp_path / "out" / "adapter_config.json").is_file()
    result = _cli(run_dir, tmp_path / "out2", "--push", "me/blue-adapter")
    assert result.exit_code == 3 and "was written and is kept" in result.output
    with pytest.raises(UsageError, match="not a Hugging Face repo id"):  # before anything is written
        export(run_dir, tmp_path / "out3", push="not a repo//")
    assert not (tmp_path / "out3").exists()


def test_push_uploads_the_folder_as_a_dataset_or_a_model(build, tmp_path, monkeypatch):
    import huggingface_hub

    calls = []
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, repo, **kw: calls.append(("create", repo, kw)))
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder",
                        lambda self, **kw: calls.append(("upload", kw)) or SimpleNamespace(commit_url="https://hf/c/1"))
    result = export(build, tmp_path / "out", push="me/small")
    assert result.pushed == "https://hf/c/1"
    assert calls[0] == ("create", "me/small", {"repo_type": "dataset", "exist_ok": True})
    assert calls[1][1]["folder_path"] == str(tmp_path / "out") and calls[1][1]["repo_type"] == "dataset"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(UsageError, match="HF_HUB_OFFLINE"):
        export(build, tmp_path / "out4", push="me/small")
