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


def _founding_batches(lengths, batch_size, seed, epoch):
    """LengthGroupedBatches as it was before token batches and ranks (commit 3c0b2c7), verbatim:
    the founding spec's results were trained on exactly these batches."""
    import numpy as np

    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths)).tolist()
    mega = batch_size * 50
    batches = []
    for start in range(0, len(order), mega):
        group = sorted(order[start : start + mega], key=lambda i: lengths[i])
        batches += [group[j : j + batch_size] for j in range(0, len(group), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches)).tolist()]


@pytest.mark.parametrize("n, batch_size, seed", [(604, 8, 7), (1000, 8, 0), (37, 16, 3), (5000, 32, 11)])
def test_cpu_batches_are_the_founding_recipes_batch_for_batch(n, batch_size, seed):
    lengths = [20 + (i * 37) % 41 for i in range(n)]
    sampler = T.LengthGroupedBatches(lengths, batch_size, seed)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        assert list(sampler) == _founding_batches(lengths, batch_size, seed, epoch)
        assert len(sampler) == len(_founding_batches(lengths, batch_size, seed, epoch))


def test_cpu_training_without_token_budget_uses_row_batches():
    lengths = [10 + i % 7 for i in range(100)]
    assert isinstance(T.batch_sampler(lengths, 8, None, 1, on_cpu=True), T.LengthGroupedBatches)
    cuda = T.batch_sampler(lengths, 8, None, 1, on_cpu=False)
    assert isinstance(cuda, T.TokenBudgetBatches) and cuda.tokens == 8 * 13  # 8 × the mean length 12.94, rounded up
    asked = T.batch_sampler(lengths, 8, 500, 1, on_cpu=True)
    assert isinstance(asked, T.TokenBudgetBatches) and asked.tokens == 500  # asked for: on every device


def _lengths(n: int, seed: int = 0) -> list[int]:
    import numpy as np

    return np.random.default_rng(seed).integers(5, 120, size=n).tolist()


@pytest.mark.parametrize("budget", [64, 500, 4096])
def test_token_budget_batches_cover_every_row_once_within_the_budget(budget):
    lengths = _lengths(3000) + [300]  # one row longer than the smaller budgets: a batch of its own
    sampler = T.TokenBudgetBatches(lengths, budget, seed=5)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert sorted(i for b in batches for i in b) == list(range(len(lengths)))  # every row, exactly once
        assert len(batches) == len(sampler)  # the same count every epoch: Trainer fixes it up front
        for b in batches:
            assert len(b) * max(lengths[i] for i in b) <= budget or len(b) == 1
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded <= 1.03 * sum(lengths)  # rows of near-equal length share a batch


def test_token_budget_batches_are_deterministic_per_seed_and_epoch():
    lengths = _lengths(2000)
    a, b = T.TokenBudgetBatches(lengths, 1000, seed=1), T.TokenBudgetBatches(lengths, 1000, seed=1)
    assert list(a) == list(b)
    a.set_epoch(1)
    assert list(a) != list(b)  # another epoch: other batches (composition and order)
    b.set_epoch(1)
    assert list(a) == list(b)
    assert list(T.TokenBudgetBatches(lengths, 1000, seed=2)) != list(T.TokenBudgetBatches(lengths, 1000, seed=1))


@pytest.mark.parametrize("make", [lambda ls, r, w: T.LengthGroupedBatches(ls, 8, 3, r, w),
                                  lambda ls, r, w: T.TokenBudgetBatches(ls, 600, 3, r, w)])
def test_ranks_get_disjoint_equal_shares(make):
    lengths = _lengths(1001)
    whole = list(make(lengths, 0, 1))
    shares = [list(make(lengths, rank, 3)) for rank in range(3)]
    assert len({len(s) for s in shares}) == 1 and len(shares[0]) == len(make(lengths, 0, 3)) == len(whole) // 3
    seen = [i for s in shares for b in s for i in b]
    assert len(seen) == len(set(seen))  # no row on two ranks
    assert sorted(map(tuple, (b for s in shares for b in s))) == sorted(map(tuple, whole[: len(whole) // 3 * 3]))


def test_positions_give_the_same_loss_as_the_boolean_mask():
    loaded = tiny_loaded()
    tok, model = loaded.tokenizer, loaded.model
    rows = [T.encode_example(tok, ex, 256) for ex in tiny_examples()[:7]]
    for share in (True, False):
        plain = T.collate(rows, tok.pad_token_id, share_prefix=share)
        gathered = T.collate(rows, tok.pad_token_id, share_prefix=share, positions=True)
        assert gathered["targets"].ne(T.IGNORE).sum().item() == gathered["n_answer"]
        with torch.no_grad():
            assert T.batch_loss(model, gathered).item() == pytest.approx(T.batch_loss(model, plain).item(), abs=1e-6)


def test_accelerator_training_arguments_are_valid(tmp_path):
    from transformers import TrainingArguments

    from compiler.training import trainer

    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none", **trainer.accelerator_args())
    assert args.optim == "adamw_torch_fused" and args.logging_steps == trainer.LOSS_EVERY and not args.logging_nan_inf_filter


def test_token_batches_with_positions_train_on_a_cpu(tmp_path, monkeypatch):
    """The CUDA recipe's data path (token budgets, the loss at gathered positions, loss read every
    LOSS_EVERY steps) run on the CPU: it trains, with the steps its sampler promises."""
    import functools

    from compiler.training import lora as L

    monkeypatch.setattr(L, "collate", functools.partial(T.collate, positions=True))
    settings = L.TrainSettings(epochs=8, lr=1e-2, tokens_per_batch=120, checkpoint_every=1000, seed=3)
    loaded = tiny_loaded()
    examples = tiny_examples()
    lengths = [len(T.encode_example(loaded.tokenizer, ex, 256).ids) for ex in examples]
    per_epoch = len(T.TokenBudgetBatches(lengths, 120, 3))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 2-layer model is all overhead: extra threads only wait on each other
    try:
        result = L.train_lora(loaded, examples, settings, tmp_path / "run", build_sha256="b", progress=False)
    finally:
        torch.set_num_threads(threads)
    assert result.steps == 8 * per_epoch and per_epoch < len(examples) / 2  # several rows per batch
    assert result.final_loss < 0.5 * result.first_loss


def test_the_spec_asks_for_token_batches_in_its_train_block():
    from pydantic import ValidationError

    from compiler.spec.model import Train
    from compiler.training.lora import TrainSettings

    assert TrainSettings.from_spec(Train(), 1).tokens_per_batch is None  # the founding recipe: rows
    settings = TrainSettings.from_spec(Train(tokens_per_batch=16384), 1)
    assert settings.tokens_per_batch == 16384 and settings.to_json()["tokens_per_batch"] == 16384  # run.json, --resume
    with pytest.raises(ValidationError):
        Train(tokens_per_batch=8)  # fewer tokens than one short lesson
