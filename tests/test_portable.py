"""A trained adapter loads on another machine: its config names a base that resolves there, the
tokenizer and chat template sit beside it, its card is syllabus's, and the gate's card rewrite
keeps the adapter's sha256."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml

from compiler.errors import UsageError
from compiler.integrity import adapter_sha256
from compiler.model import embedded as E
from compiler.model import load as M
from compiler.release.gate import decide
from compiler.release.model_card import card_context, write_train_card
from compiler.release.report import write_reports
from compiler.spec.model import Gate
from compiler.training import lora as T
from compiler.training import portable as P
from compiler.training.record import (BaseRef, GgufRef, ModelRef, RunRecord, now, parse_record, read_record,
                                      write_record)
from tests._gate_fixtures import good_arms
from tests._tiny import save_tiny, tiny_examples

IDS = torch.tensor([[2, 10, 11, 12, 13, 3]])


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a 2-layer model is all overhead
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny local model folder, and a run trained on it through train_lora (~3 s)."""
    root = tmp_path_factory.mktemp("portable")
    torch.set_num_threads(1)
    base = save_tiny(root / "base")
    loaded = M.load_model(str(base), device="cpu")
    settings = T.TrainSettings(model=str(base), epochs=2, lr=1e-2, batch_size=4, checkpoint_every=1000, seed=3)
    result = T.train_lora(loaded, tiny_examples(), settings, root / "run", build_sha256="b" * 64, progress=False)
    write_train_card(result.adapter_dir, read_record(result.run_dir))  # as pipeline.train does after training
    return base, loaded, result


def _copy_elsewhere(adapter: Path, tmp_path: Path) -> Path:
    copied = tmp_path / "elsewhere" / "my-adapter"
    shutil.copytree(adapter, copied)
    return copied


def test_the_adapter_config_names_the_recorded_base_and_the_run_records_it(tiny_run):
    base, _, result = tiny_run
    config = json.loads((result.adapter_dir / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(base.resolve())
    record = read_record(result.run_dir)
    assert record.base == BaseRef(str(base.resolve()), "local", None)
    assert json.loads((result.run_dir / "run.json").read_text())["base"] == {
        "name_or_path": str(base.resolve()), "kind": "local", "gguf": None}


def test_a_copied_adapter_loads_with_its_base_and_tokenizer(tiny_run, tmp_path):
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    _, loaded, result = tiny_run
    copied = _copy_elsewhere(result.adapter_dir, tmp_path)
    model = AutoPeftModelForCausalLM.from_pretrained(str(copied)).eval()
    with torch.no_grad():
        assert torch.allclose(model(input_ids=IDS).logits, result.model(input_ids=IDS).logits, atol=1e-5)
    tokenizer = AutoTokenizer.from_pretrained(str(copied))
    assert tokenizer.chat_template == loaded.tokenizer.chat_template
    chat = [{"role": "user", "content": "What color should the box be?"}]
    assert tokenizer.apply_chat_template(chat, add_generation_prompt=True) == \
        loaded.tokenizer.apply_chat_template(chat, add_generation_prompt=True)


def test_the_card_is_syllabus_own_from_train_time(tiny_run):
    base, _, result = tiny_run
    text = (result.adapter_dir / "README.md").read_text(encoding="utf-8")
    assert "More Information Needed" not in text  # peft's placeholder never stays
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["library_name"] == "peft" and "base_model" not in front  # a local folder is no hub id
    assert "not yet gated" in text and "model-index" not in front
    assert str(base.resolve()) in text and "loads as it is only where that folder exists" in text
    assert "- lora_r: 16" in text and "AutoTokenizer.from_pretrained" in text


def test_the_hash_covers_the_tokenizer_and_a_gate_card_keeps_it(tiny_run, tmp_path):
    _, _, result = tiny_run
    record = read_record(result.run_dir)
    run_dir = tmp_path / "run"
    shutil.copytree(result.run_dir, run_dir)
    adapter = run_dir / "adapter"
    assert adapter_sha256(adapter) == record.adapter_sha256
    assert {"tokenizer.json", "tokenizer_config.json"} <= {p.name for p in adapter.iterdir()}
    # the gate rewrites the card with the verdict: the adapter is still the one run.json records
    context = replace(card_context(record), adapter_sha256=record.adapter_sha256)
    verdict = decide(Gate().checks, good_arms(), build=context.build)
    text = write_reports(verdict, context, run_dir)["model_card"].read_text(encoding="utf-8")
    assert "not yet gated" not in text and f"## Evaluation: {verdict.status.upper()}" in text
    assert str(record.base.name_or_path) in text and "- lora_r: 16" in text  # the train-time facts stay
    assert adapter_sha256(adapter) == record.adapter_sha256
    # while the tokenizer is part of what the gate verifies
    config = adapter / "tokenizer_config.json"
    config.write_text(config.read_text().replace("}", ', "x": 1}', 1))
    assert adapter_sha256(adapter) != record.adapter_sha256


def test_the_base_a_model_name_resolves_to(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert P.base_ref("org/model", "") == BaseRef("org/model", "hub")
    folder = save_tiny(tmp_path / "m")
    assert P.base_ref("m", "") == BaseRef(str(folder.resolve()), "local")  # exists here: a folder, made absolute
    assert P.base_ref("./gone/", "") == BaseRef(str(tmp_path / "gone"), "local")
    default = P.base_ref("default", "c" * 64)
    assert (default.name_or_path, default.kind) == (E.DEFAULT_HUB_ID, "hub")
    assert default.gguf == GgufRef(E.embedded_gguf().name, "Q4_1", "c" * 64)


def test_quantization_is_read_from_the_gguf_metadata_then_the_name(tmp_path):
    import gguf

    def write(path: Path, file_type: int | None) -> Path:
        w = gguf.GGUFWriter(str(path), "llama")
        w.add_name("a model")
        w.add_array("some.strings", ["a", "bb", "ccc"])  # skipped item by item
        w.add_array("some.numbers", [1, 2, 3])  # skipped at once
        if file_type is not None:
            w.add_file_type(file_type)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.close()
        return path

    assert P.gguf_quantization(write(tmp_path / "model.gguf", int(gguf.LlamaFileType.MOSTLY_Q8_0))) == "Q8_0"
    # the metadata wins over a file name that says otherwise
    assert P.gguf_quantization(write(tmp_path / "m.Q4_0.gguf", int(gguf.LlamaFileType.MOSTLY_Q5_1))) == "Q5_1"
    assert P.gguf_quantization(write(tmp_path / "m.q4_k_m.gguf", None)) == "Q4_K_M"
    assert P.gguf_quantization(write(tmp_path / "plain.gguf", None)) == "unknown"
    (tmp_path / "x.F16.gguf").write_bytes(b"not a gguf at all")
    assert P.gguf_quantization(tmp_path / "x.F16.gguf") == "F16"
    assert P.gguf_quantization(E.embedded_gguf()) == "Q4_1"  # the embedded model, as issue #15 says


def test_run_json_base_round_trips_and_is_optional(tmp_path):
    record = RunRecord(status="running", run_id="r", build_sha256="b" * 64, build_path=None,
                       model=ModelRef("default", "c" * 64, "float32", "fp32"), device="cpu", settings={},
                       versions={}, started_at=now(),
                       base=BaseRef(E.DEFAULT_HUB_ID, "hub", GgufRef("x.Q4_1.gguf", "Q4_1", "c" * 64)))
    write_record(record, tmp_path)
    assert read_record(tmp_path) == record
    doc = record.to_json()
    assert doc["base"]["gguf"] == {"file": "x.Q4_1.gguf", "quantization": "Q4_1", "sha256": "c" * 64}
    assert "base" not in replace(record, base=None).to_json()  # as run.json was before the field
    assert parse_record(replace(record, base=None).to_json(), tmp_path / "run.json").base is None
    with pytest.raises(UsageError, match="base.kind"):
        parse_record({**doc, "base": {**doc["base"], "kind": "cloud"}}, tmp_path / "run.json")


@pytest.mark.slow
def test_the_embedded_model_adapter_names_the_hub_id_and_loads_on_the_local_base(tmp_path):
    """The real default model (dequantized once into the cache): an adapter saved from it names
    HuggingFaceTB/SmolLM2-135M-Instruct and its GGUF, and a copy loads on the local base."""
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoTokenizer

    loaded = M.load_model("default", device="cpu")
    torch.manual_seed(0)
    peft_model = get_peft_model(loaded.model, LoraConfig(r=2, target_modules=["q_proj"], init_lora_weights=False))
    peft_model.save_pretrained(tmp_path / "adapter")
    record = RunRecord(status="running", run_id="r", build_sha256="b" * 64, build_path=None,
                       model=ModelRef("default", loaded.sha256, "float32", loaded.precision), device="cpu",
                       settings={"lora_r": 2}, versions={}, started_at=now(), base=P.base_ref("default", loaded.sha256))
    P.make_portable(tmp_path / "adapter", loaded.tokenizer, record)
    write_train_card(tmp_path / "adapter", record)
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    card = (tmp_path / "adapter" / "README.md").read_text(encoding="utf-8")
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in card and "Q4_1 quantization" in card and loaded.sha256 in card
    with torch.no_grad():
        want = peft_model(input_ids=IDS).logits
    copied = _copy_elsewhere(tmp_path / "adapter", tmp_path)
    again = PeftModel.from_pretrained(M.load_model("default", device="cpu").model, str(copied)).eval()
    with torch.no_grad():
        assert torch.allclose(again(input_ids=IDS).logits, want, atol=1e-5)
    tokenizer = AutoTokenizer.from_pretrained(str(copied))
    assert "<|im_start|>" in tokenizer.chat_template and len(tokenizer) == len(loaded.tokenizer)
