"""Batching for LoRA training: chat-formatted token ids, shared-prefix batches, the loss.

Every chat example starts with the same system turn (SmolLM2: 24 of ~45 tokens), so a
batch runs its common prefix once and repeats the key/value cache per row; rows are
grouped by length and padded per batch; logits are computed only where a label is
(~2 positions of ~45, over a 49k vocabulary). Loss is on the assistant's answer only.
Batches hold batch_size rows (LengthGroupedBatches: the CPU recipe) or as many rows as fit a
token budget (TokenBudgetBatches: CUDA, or a spec's train.tokens_per_batch); under torchrun
each rank gets its own share of every epoch (shard).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..records import Example

IGNORE = -100
MIN_SHARED_PREFIX = 4  # tokens; below this a separate prefix pass costs more than it saves


@dataclass(frozen=True)
class Encoded:
    """One example as token ids; ids[n_prompt:] are the answer tokens the loss sees."""

    ids: tuple[int, ...]
    n_prompt: int


def token_ids(value) -> list[int]:
    """What apply_chat_template(tokenize=True) returns (a list, a nested list or a BatchEncoding) → ids."""
    ids = value["input_ids"] if hasattr(value, "keys") else value
    return list(ids[0] if ids and isinstance(ids[0], list) else ids)


def encode_example(tokenizer, example: Example, max_length: int) -> Encoded:
    """Example → chat-formatted ids: [system? user, assistant reply + eos] (encode_pair)."""
    return encode_pair(tokenizer, example.prompt, example.reply, max_length)


def encode_pair(tokenizer, prompt_text: str, reply: str, max_length: int, *, ends: bool = True) -> Encoded:
    """A user prompt and the assistant's reply → chat-formatted ids: [system? user, assistant
    reply + eos]. The answer is cut right after the first eos, so a template's trailing
    newline is not trained on. `ends=False` leaves the eos out: a reply cut at a length bound
    (greedy.Written.finished False) must not teach the model to stop there."""
    user = [{"role": "user", "content": prompt_text}]
    prompt = token_ids(
        tokenizer.apply_chat_template(user, add_generation_prompt=True, tokenize=True, return_dict=False))
    full = token_ids(tokenizer.apply_chat_template(
        user + [{"role": "assistant", "content": reply}], tokenize=True, return_dict=False))
    n = 0  # the prompt is a prefix of the conversation for sane templates; be safe anyway
    while n < min(len(prompt), len(full)) and prompt[n] == full[n]:
        n += 1
    answer = full[n:]
    eos = tokenizer.eos_token_id
    answer = answer[: answer.index(eos) + 1] if eos in answer else answer + [eos]
    if not ends and len(answer) > 1:
        answer = answer[:-1]
    ids = full[:n] + answer
    if len(ids) > max_length:  # keep the answer; drop the start of the prompt (2 × 20 + 3 ≪ 256)
        cut = len(ids) - max_length
        ids, n = ids[cut:], max(0, n - cut)
    return Encoded(tuple(ids), n)


def shared_prefix_len(rows: Sequence[Encoded]) -> int:
    """Longest common prefix of the rows, ending before the last prompt token of the shortest
    prompt (that position predicts the first answer token, so it needs its own logits)."""
    limit = min(r.n_prompt for r in rows) - 1
    first = rows[0].ids
    n = 0
    while n < limit and all(r.ids[n] == first[n] for r in rows):
        n += 1
    return n if n >= MIN_SHARED_PREFIX and len(rows) > 1 else 0


def collate(rows: Sequence[Encoded], pad_id: int, share_prefix: bool = True, positions: bool = False) -> dict:
    """Rows → a batch padded to its own longest row: prefix_ids (P,) run once for all rows,
    then input_ids/attention_mask/labels (B, S) of what follows; counts for tokens/s.
    `positions` (accelerators) adds positions/targets (B, K), K the most answer tokens of a row:
    where each row's answer is predicted and what, padded with position 0 and IGNORE, so the
    loss needs no boolean mask (whose size the host must read back: a sync per step)."""
    p = shared_prefix_len(rows) if share_prefix else 0
    width = max(len(r.ids) for r in rows) - p
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for i, r in enumerate(rows):
        tail = torch.tensor(r.ids[p:], dtype=torch.long)
        ids[i, : len(tail)], mask[i, : len(tail)] = tail, 1
        labels[i, r.n_prompt - p : len(tail)] = tail[r.n_prompt - p :]
    batch = {
        "prefix_ids": torch.tensor(rows[0].ids[:p], dtype=torch.long), "input_ids": ids,
        "attention_mask": mask, "labels": labels,
        "n_tokens": sum(len(r.ids) for r in rows), "n_answer": sum(len(r.ids) - r.n_prompt for r in rows),
    }
    if positions:
        k = max(len(r.ids) - r.n_prompt for r in rows)
        where = torch.zeros((len(rows), k), dtype=torch.long)
        targets = torch.full((len(rows), k), IGNORE, dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r.ids) - r.n_prompt  # position t predicts token t + 1: the answer's from n_prompt − 1 on
            where[i, :n] = torch.arange(r.n_prompt - 1 - p, len(r.ids) - 1 - p)
            targets[i, :n] = torch.tensor(r.ids[r.n_prompt:], dtype=torch.long)
        batch |= {"positions": where, "targets": targets}
    return batch


def _forward(model, batch: dict, logits_to_keep):
    """The batch's prefix pass (a KV cache repeated per row; gradients flow back through it to
    the LoRA weights), then its rows → logits where `logits_to_keep` says."""
    ids, mask, prefix = batch["input_ids"], batch["attention_mask"], batch["prefix_ids"]
    rows, width = ids.shape
    extra: dict = {"use_cache": False}
    if prefix.numel():
        p = prefix.numel()
        cache = model(input_ids=prefix.view(1, p), use_cache=True, logits_to_keep=1).past_key_values
        cache.batch_repeat_interleave(rows)
        mask = torch.cat([mask.new_ones(rows, p), mask], dim=1)
        positions = torch.arange(p, p + width, device=ids.device).expand(rows, width)
        extra = {"use_cache": True, "past_key_values": cache, "position_ids": positions}
    return model(input_ids=ids, attention_mask=mask, logits_to_keep=logits_to_keep, **extra).logits


def answer_logits(model, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batch (from collate) → (logits at the positions that predict an answer token [K, V], those
    tokens [K], the mask of the positions [B, S])."""
    labels = batch["labels"]
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = labels[:, 1:] != IGNORE  # position t predicts token t + 1
    logits = _forward(model, batch, keep)
    if logits.dim() == 3:  # a model that ignores a boolean logits_to_keep
        logits = logits[keep]
    return logits.float(), labels[:, 1:][keep[:, :-1]], keep


def batch_loss(model, batch: dict) -> torch.Tensor:
    """Batch (from collate) → mean cross-entropy over the answer tokens. A batch with positions
    (collate(positions=True)) is scored at those: the same mean, with no host sync."""
    if "positions" not in batch:
        logits, targets, _ = answer_logits(model, batch)
        return F.cross_entropy(logits, targets)
    where, targets = batch["positions"], batch["targets"]
    logits = _forward(model, batch, where)  # [B, K, V]: integer positions per row
    if logits.shape[1] != where.shape[1]:  # K < S always: a row's prompt has at least one token
        logits = torch.take_along_dim(logits, where[..., None], dim=1)  # a model that ignored them
    return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), ignore_index=IGNORE)


def batch_sampler(lengths: Sequence[int], batch_size: int, tokens_per_batch: int | None, seed: int, on_cpu: bool,
                  rank: int = 0, world: int = 1):
    """Row lengths + the train block's batch fields → the batch sampler of rank `rank` of `world`.
    tokens_per_batch set: token budgets on every device. Unset: batch_size rows on a CPU (the
    founding recipe, batch for batch), and on CUDA a budget of batch_size × the mean row length
    (rounded up), so an epoch has about as many steps as with rows, and lr, epochs and warmup mean
    what they mean on a CPU."""
    if tokens_per_batch is None and on_cpu:
        return LengthGroupedBatches(lengths, batch_size, seed, rank, world)
    budget = tokens_per_batch or batch_size * math.ceil(sum(lengths) / len(lengths))
    return TokenBudgetBatches(lengths, budget, seed, rank, world)


def shard(batches: list[list[int]], rank: int, world: int) -> list[list[int]]:
    """One epoch's batches → this rank's share: rank r of `world` takes batches r, r + world, …
    of the first len // world · world, so every rank runs the same number of steps (DDP's steps
    are in lockstep) and no two ranks see a row twice. world=1 → the batches, unchanged. With
    world > 1 up to world − 1 batches of an epoch are left out (each epoch others: the order is
    reshuffled)."""
    usable = len(batches) - len(batches) % world
    return batches[rank:usable:world]


class LengthGroupedBatches:
    """Batch sampler: a seeded shuffle per epoch, rows sorted by length within mega-batches of
    50 batches, batch order shuffled. Same (seed, epoch) → same batches, in any process. With
    `world` > 1 (torchrun), rank `rank` gets its share of every epoch (shard)."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.lengths, self.batch_size, self.seed, self.epoch = list(lengths), batch_size, seed, 0
        self.rank, self.world = rank, world

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size) // self.world

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.lengths)).tolist()
        mega = self.batch_size * 50
        batches = []
        for start in range(0, len(order), mega):  # only the last mega-batch may be short
            group = sorted(order[start : start + mega], key=lambda i: self.lengths[i])
            batches += [group[j : j + self.batch_size] for j in range(0, len(group), self.batch_size)]
        yield from shard([batches[i] for i in rng.permutation(len(batches)).tolist()], self.rank, self.world)


class TokenBudgetBatches:
    """Batch sampler for accelerators: batches of as many rows as fit `tokens` padded tokens
    (rows × the batch's longest row ≤ tokens; a row longer than the budget is a batch alone).

    Rows are sorted by length, ties in a seeded order per epoch, and cut greedily: the batch
    boundaries depend on the sorted lengths only, so every epoch has the same number of batches
    (HF Trainer fixes the steps of an epoch from len() before it starts), while which rows of a
    length share a batch, and the batch order, change per (seed, epoch). Padding is what the
    lengths within one batch differ by (rows of one length: none). Each row is its own sequence
    (no packing), so no row attends to, or is scored with, another's tokens."""

    def __init__(self, lengths: Sequence[int], tokens: int, seed: int, rank: int = 0, world: int = 1):
        if tokens < 1:
            raise ValueError(f"tokens per batch must be at least 1, not {tokens}")
        self.lengths, self.tokens, self.seed, self.epoch = list(lengths), tokens, seed, 0
        self.rank, self.world = rank, world
        self.sizes = self._sizes(sorted(self.lengths))

    def _sizes(self, ascending: list[int]) -> list[int]:
        """Lengths in ascending order → the row count of each batch, cut greedily."""
        sizes, rows = [], 0
        for length in ascending:
            if rows and (rows + 1) * length > self.tokens:
                sizes.append(rows)
                rows = 0
            rows += 1
        return sizes + ([rows] if rows else [])

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.sizes) // self.world

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        tie = rng.permutation(len(self.lengths))  # a seeded order among rows of equal length
        order = sorted(range(len(self.lengths)), key=lambda i: (self.lengths[i], tie[i]))
        batches, start = [], 0
        for size in self.sizes:
            batches.append(order[start : start + size])
            start += size
        yield from shard([batches[i] for i in rng.permutation(len(batches)).tolist()], self.rank, self.world)
