"""Batching for LoRA training on a tiny random Llama built in-process (no download)."""

from __future__ import annotations

import pytest
import torch

from compiler.model import batching as T
from tests._tiny import tiny_examples, tiny_loaded


def test_label_mask_covers_only_the_answer_and_its_eos():
    loaded = tiny_loaded()
    tok = loaded.tokenizer
    ex = tiny_examples()[0]
    enc = T.encode_example(tok, ex, max_length=256)
    prompt_ids = tok.apply_chat_template([{"role": "user", "content": ex.prompt}], add_generation_prompt=True,
                                         tokenize=True, return_dict=False)
    assert list(enc.ids[: enc.n_prompt]) == list(prompt_ids)
    assert tok.convert_ids_to_tokens(list(enc.ids[enc.n_prompt :])) == [ex.reply, "<|im_end|>"]

    batch = T.collate([enc, T.encode_example(tok, tiny_examples()[3], 256)], tok.pad_token_id, share_prefix=False)
    labels, ids, mask = batch["labels"], batch["input_ids"], batch["attention_mask"]
    labelled = labels != T.IGNORE
    assert torch.equal(labels[labelled], ids[labelled])  # labels are the tokens themselves
    assert not labelled[mask == 0].any()  # never on padding
    assert labelled.sum().item() == batch["n_answer"] == 4  # "Blue" + eos, "No" + eos
    assert batch["n_tokens"] == int(mask.sum())


def test_truncation_keeps_the_answer():
    tok = tiny_loaded().tokenizer
    enc = T.encode_example(tok, tiny_examples()[0], max_length=16)
    assert len(enc.ids) == 16 and tok.convert_ids_to_tokens(list(enc.ids[enc.n_prompt :])) == ["Blue", "<|im_end|>"]


def test_shared_prefix_gives_the_same_loss_as_full_sequences():
    loaded = tiny_loaded()
    tok, model = loaded.tokenizer, loaded.model
    rows = [T.encode_example(tok, ex, 256) for ex in tiny_examples()[:6]]
    shared = T.collate(rows, tok.pad_token_id)
    full = T.collate(rows, tok.pad_token_id, share_prefix=False)
    assert shared["prefix_ids"].numel() >= T.MIN_SHARED_PREFIX and full["prefix_ids"].numel() == 0
    with torch.no_grad():
        a, b = T.batch_loss(model, shared), T.batch_loss(model, full)
        reference = model(input_ids=full["input_ids"], attention_mask=full["attention_mask"], labels=full["labels"]).loss
    assert a.item() == pytest.approx(b.item(), abs=1e-5)
    assert b.item() == pytest.approx(reference.item(), abs=1e-5)


def test_shared_prefix_stops_before_the_first_answer_prediction():
    rows = [T.Encoded((1, 2, 3, 4, 5, 6, 7), 6), T.Encoded((1, 2, 3, 4, 5, 6, 8), 6)]
    assert T.shared_prefix_len(rows) == 5  # position 5 predicts the first answer token
    assert T.shared_prefix_len(rows[:1]) == 0  # one row: nothing to share


def test_length_grouped_batches_are_seeded_complete_and_tight():
    lengths = [10 + (i * 7) % 23 for i in range(200)]
    sampler = T.LengthGroupedBatches(lengths, 8, seed=1)
    epoch0 = list(sampler)
    assert sorted(i for b in epoch0 for i in b) == list(range(200)) and len(epoch0) == len(sampler) == 25
    assert list(T.LengthGroupedBatches(lengths, 8, seed=1)) == epoch0
    sampler.set_epoch(1)
    assert list(sampler) != epoch0
    padded = sum(len(b) * max(lengths[i] for i in b) for b in epoch0)
    assert padded <= 1.02 * sum(lengths)  # a random order pads ~40% here
