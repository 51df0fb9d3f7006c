"""Batching for LoRA training: chat-formatted token ids, shared-prefix batches, the loss.

Every chat example starts with the same system turn (SmolLM2: 24 of ~45 tokens), so a
batch runs its common prefix once and repeats the key/value cache per row; rows are
grouped by length and padded per batch; logits are computed only where a label is
(~2 positions of ~45, over a 49k vocabulary). Loss is on the assistant's answer only.
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


def collate(rows: Sequence[Encoded], pad_id: int, share_prefix: bool = True) -> dict:
    """Rows → a batch padded to its own longest row: prefix_ids (P,) run once for all rows,
    then input_ids/attention_mask/labels (B, S) of what follows; counts for tokens/s."""
    p = shared_prefix_len(rows) if share_prefix else 0
    width = max(len(r.ids) for r in rows) - p
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for i, r in enumerate(rows):
        tail = torch.tensor(r.ids[p:], dtype=torch.long)
        ids[i, : len(tail)], mask[i, : len(tail)] = tail, 1
        labels[i, r.n_prompt - p : len(tail)] = tail[r.n_prompt - p :]
    return {
        "prefix_ids": torch.tensor(rows[0].ids[:p], dtype=torch.long), "input_ids": ids,
        "attention_mask": mask, "labels": labels,
        "n_tokens": sum(len(r.ids) for r in rows), "n_answer": sum(len(r.ids) - r.n_prompt for r in rows),
    }


def answer_logits(model, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batch (from collate) → (logits at the positions that predict an answer token [K, V], those
    tokens [K], the mask of the positions [B, S]). The prefix pass fills a KV cache that is
    repeated per row; gradients flow back through it to the LoRA weights."""
    ids, mask, labels, prefix = batch["input_ids"], batch["attention_mask"], batch["labels"], batch["prefix_ids"]
    rows, width = ids.shape
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = labels[:, 1:] != IGNORE  # position t predicts token t + 1
    extra: dict = {"use_cache": False}
    if prefix.numel():
        p = prefix.numel()
        cache = model(input_ids=prefix.view(1, p), use_cache=True, logits_to_keep=1).past_key_values
        cache.batch_repeat_interleave(rows)
        mask = torch.cat([mask.new_ones(rows, p), mask], dim=1)
        positions = torch.arange(p, p + width, device=ids.device).expand(rows, width)
        extra = {"use_cache": True, "past_key_values": cache, "position_ids": positions}
    logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep, **extra).logits
    if logits.dim() == 3:  # a model that ignores a boolean logits_to_keep
        logits = logits[keep]
    return logits.float(), labels[:, 1:][keep[:, :-1]], keep


def batch_loss(model, batch: dict) -> torch.Tensor:
    """Batch (from collate) → mean cross-entropy over the answer tokens."""
    logits, targets, _ = answer_logits(model, batch)
    return F.cross_entropy(logits, targets)


class LengthGroupedBatches:
    """Batch sampler: a seeded shuffle per epoch, rows sorted by length within mega-batches of
    50 batches, batch order shuffled. Same (seed, epoch) → same batches, in any process."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int):
        self.lengths, self.batch_size, self.seed, self.epoch = list(lengths), batch_size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.lengths)).tolist()
        mega = self.batch_size * 50
        batches = []
        for start in range(0, len(order), mega):  # only the last mega-batch may be short
            group = sorted(order[start : start + mega], key=lambda i: self.lengths[i])
            batches += [group[j : j + self.batch_size] for j in range(0, len(group), self.batch_size)]
        yield from (batches[i] for i in rng.permutation(len(batches)).tolist())
