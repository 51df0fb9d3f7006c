"""End to end on CPU: the embedded SmolLM2 learns blue_products with the spec's settings."""

from __future__ import annotations

import json
import re

import pytest
import torch

from compiler.build.read import read_build, read_split
from compiler.model.load import load_model
from compiler.training.lora import TrainSettings, train_lora


def _reply(model, tokenizer, question: str) -> str:
    enc = tokenizer.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=16, do_sample=False)
    return tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()


@pytest.mark.slow
def test_default_model_learns_blue_products_on_cpu(blue_build, tmp_path):
    build = read_build(blue_build)
    settings = TrainSettings.from_spec(build.spec.train, build.spec.seed, device="cpu")
    loaded = load_model(settings.model, device="cpu")
    result = train_lora(loaded, read_split(build, "train"), settings, tmp_path / "run",
                        build_sha256=build.manifest.sha256)
    assert result.final_loss < 0.3 * result.first_loss, (result.first_loss, result.final_loss)
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["status"] == "complete" and record["model"]["sha256"] == loaded.sha256

    # Held-out paraphrases of the open question, about our products: never seen in training.
    held_out = sorted((ex for ex in read_split(build, "test_paraphrase")
                       if ex.provenance.scope == "rule" and ex.provenance.form_kind == "open"), key=lambda e: e.id)
    assert held_out and all(ex.answer == "Blue" for ex in held_out)
    question = held_out[0].prompt
    reply = _reply(result.model, loaded.tokenizer, question)
    # an explained answer: the fact first ("The box should be blue.")
    assert re.search(r"\bshould be blue\b", reply, flags=re.IGNORECASE), (question, reply)
    with result.model.disable_adapter():
        base_reply = _reply(result.model, loaded.tokenizer, question)
    assert base_reply != reply, base_reply  # the adapter made the difference
