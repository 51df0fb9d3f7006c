"""Batched greedy replies: (model, tokenizer, prompts, length bound) → one `Written` per prompt.

What a chat model answers, as it answers: each prompt is formatted with the tokenizer's
chat template (a generation prompt added), rows are left-padded so their last tokens line
up, the prompts run once (prefill) and every step feeds one token per row on the key/value
cache. A row leaves the batch at its end-of-turn token, so a batch of short replies does
not pay for its longest. Greedy is plain argmax: the same prompts and weights give the same
replies, which is what lets replies be cached (replies.py).

Rows are batched longest first (least padding). The cost is the tokens written: the
founding spec's 73 general replies of up to 32 tokens took 12 s with SmolLM2-135M on 2 idle
CPU cores with bf16 products (model/load.py), 29 s in fp32 beside another job (the batch size
hardly matters: 76 rows in one batch or in batches of 32 differed by 8 %).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from .batching import token_ids


@dataclass(frozen=True)
class Written:
    """One greedy reply: its text, its tokens (eos not counted), and whether it ended at eos
    (False: cut at the length bound)."""

    text: str
    tokens: int
    finished: bool


def chat_ids(tokenizer, prompt: str) -> list[int]:
    """A user prompt → token ids of [system?, user, assistant generation prompt]."""
    return token_ids(tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                                    tokenize=True, return_dict=False))


def eos_ids(model, tokenizer) -> set[int]:
    """The tokens that end a reply: the tokenizer's eos and the model's generation eos ids."""
    gen = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    extra = gen if isinstance(gen, list) else [gen] if gen is not None else []
    return {tokenizer.eos_token_id, *extra} - {None}


def _device(model) -> torch.device:
    return next(model.parameters()).device


def _batch(model, rows: list[list[int]], pad: int, stop: set[int], max_new: int) -> list[tuple[list[int], bool]]:
    """Token rows → (generated tokens, ended at eos) per row, greedy, one forward per step."""
    device = _device(model)
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    attn = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):  # left padding: every row's last prompt token at the same column
        ids[i, width - len(r):] = torch.tensor(r)
        attn[i, width - len(r):] = 1
    pos = (attn.cumsum(1) - 1).clamp(min=0)  # positions count real tokens only
    ids, attn, pos = ids.to(device), attn.to(device), pos.to(device)
    out = model(input_ids=ids, attention_mask=attn, position_ids=pos, use_cache=True, logits_to_keep=1)
    logits, cache = out.logits[:, -1], out.past_key_values
    tokens: list[list[int]] = [[] for _ in rows]
    ended = [False] * len(rows)
    active = list(range(len(rows)))
    last = pos[:, -1]
    for step in range(max_new):
        nxt = logits.argmax(-1)
        keep: list[int] = []
        for slot, row in enumerate(active):
            tok = int(nxt[slot])
            if tok in stop:
                ended[row] = True
            else:
                tokens[row].append(tok)
                keep.append(slot)
        if not keep or step == max_new - 1:
            break
        if len(keep) < len(active):  # finished rows leave the batch and its cache
            sel = torch.tensor(keep, device=device)
            cache.batch_select_indices(sel)
            attn, last, nxt = attn[sel], last[sel], nxt[sel]
            active = [active[s] for s in keep]
        attn = torch.cat([attn, attn.new_ones((len(active), 1))], dim=1)
        last = last + 1
        out = model(input_ids=nxt[:, None], attention_mask=attn, position_ids=last[:, None], past_key_values=cache,
                    use_cache=True, logits_to_keep=1)
        logits, cache = out.logits[:, -1], out.past_key_values
    return list(zip(tokens, ended))


def greedy_replies(model, tokenizer, prompts: Sequence[str], max_new_tokens: int, *, batch_size: int = 32,
                   progress: bool = False, label: str = "replies") -> list[Written]:
    """(model, tokenizer, user prompts, length bound in tokens) → greedy replies in prompt order.
    `progress` shows a bar where progress.show_bars() allows; the model is left in the mode it was in."""
    from tqdm.auto import tqdm

    from ..progress import show_bars

    if not prompts:
        return []
    rows = [chat_ids(tokenizer, p) for p in prompts]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    stop = eos_ids(model, tokenizer)
    order = sorted(range(len(rows)), key=lambda i: (-len(rows[i]), i))
    done: dict[int, Written] = {}
    bar = tqdm(total=len(rows), desc=label, unit="reply", leave=False, dynamic_ncols=True,
               disable=not (progress and show_bars()))
    with torch.no_grad():  # not inference_mode: there autocast recasts every weight at every call
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            for i, (toks, ended) in zip(chunk, _batch(model, [rows[i] for i in chunk], pad, stop, max_new_tokens)):
                done[i] = Written(tokenizer.decode(toks, skip_special_tokens=True).strip(), len(toks), ended)
            bar.update(len(chunk))
    bar.close()
    return [done[i] for i in range(len(rows))]
