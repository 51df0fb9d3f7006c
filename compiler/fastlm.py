"""An lm-eval model that does the same arithmetic as `HFLM` with less of it: `SharedPrefixLM`.

lm-eval's `HFLM` runs every request from its first token. Our requests are chat prompts
that all open with the same system turn, and the multiple-choice and generation readings
ask about the same prompts, so three things are computed once instead of many times:

1. The common token prefix of a request set (the system turn and chat scaffolding, about
   half of every prompt) runs once; its key/value cache is shared by every batch.
2. Only the positions that are scored reach the output layer (`logits_to_keep`), instead
   of a 49 152-wide log-softmax at every position.
3. A greedy reply's first forward pass already holds the next-token distribution after
   the prompt. With `keep_first_step`, `generate_until` keeps the last `REUSE_ROWS`
   log-prob rows of each prompt, and `loglikelihood` answers continuations of up to that
   many tokens from them (lm-eval's chat context ends before "\\n", so "Blue" is scored as
   ["\\n", "Blue"]: two rows). lm-eval issues requests in task order, so the evaluator
   puts generation tasks first.

Anything this class does not handle exactly like `HFLM` (sampling, seq2seq, over-long
inputs, thinking tokens) goes to `HFLM` unchanged. Greedy decoding is plain argmax, as
lm-eval asks with do_sample false and temperature 0.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from lm_eval.models.huggingface import HFLM
from lm_eval.models.utils import handle_stop_sequences, normalize_gen_kwargs, postprocess_generated_text
from tqdm import tqdm

REUSE_ROWS = 2  # log-prob rows kept per prompt for loglikelihood reuse (2 × vocab floats)
_GREEDY_KEYS = {"do_sample", "temperature", "until", "max_gen_toks"}


def common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    """Token sequences → length of their longest common prefix (0 for none)."""
    if not seqs:
        return 0
    lo, hi = min(seqs), max(seqs)  # lexicographic extremes bound every common prefix
    n = 0
    for a, b in zip(lo, hi):
        if a != b:
            break
        n += 1
    return n


class SharedPrefixLM(HFLM):
    """HFLM over an in-memory model; see the module docstring for what it shares."""

    def __init__(self, model, tokenizer, batch_size: int = 32, progress: bool = False, label: str = ""):
        super().__init__(pretrained=model, tokenizer=tokenizer, batch_size=int(batch_size))
        self.progress = progress
        self.label = label
        self.keep_first_step = False
        self._first_step: dict[tuple[int, ...], torch.Tensor] = {}
        self.stats: Counter[str] = Counter()  # forwards, tokens fed, reused answers: for tests and benchmarks
        self._keep_arg = True

    # ------------------------------------------------------------------ plumbing
    def _shareable(self) -> bool:
        return self.backend == "causal" and not self.think_end_token

    def _bar(self, total: int, what: str):
        desc = f"{self.label} {what}".strip()
        return tqdm(total=total, desc=desc, disable=not self.progress, leave=False, dynamic_ncols=True)

    def _call(self, ids, attn, pos, cache, keep: int):
        """One forward pass → (logits of the last `keep` positions [B, keep, V], cache)."""
        kwargs = dict(input_ids=ids, attention_mask=attn, position_ids=pos, past_key_values=cache, use_cache=True)
        if self._keep_arg:
            try:
                out = self.model(**kwargs, logits_to_keep=keep)
            except TypeError:  # a model without `logits_to_keep`: slice after the fact
                self._keep_arg = False
                out = self.model(**kwargs)
        else:
            out = self.model(**kwargs)
        self.stats["forwards"] += 1
        self.stats["tokens"] += int(attn[:, -ids.shape[1] :].sum())
        return out.logits[:, -keep:], out.past_key_values

    def _prefix_cache(self, prefix: Sequence[int]):
        """Prefix tokens → (its key/value tensors per layer, or None when empty)."""
        if not prefix:
            return None
        ids = torch.tensor([list(prefix)], device=self.device)
        attn = torch.ones_like(ids)
        pos = torch.arange(len(prefix), device=self.device)[None]
        _, cache = self._call(ids, attn, pos, None, 1)
        return [(layer.keys, layer.values) for layer in cache.layers]

    def _prefill(self, rows: Sequence[Sequence[int]], prefix_kv, plen: int, keep: int):
        """Token rows sharing their first `plen` tokens → (logits [B, keep, V], cache, mask, positions).

        The rows' tails are left-padded so that their last tokens line up: with the prefix in
        front, the mask reads [1]*plen + [0]*pad + [1]*n, and positions continue at plen."""
        from transformers import DynamicCache

        tails = [list(r[plen:]) for r in rows]
        width = max(len(t) for t in tails)
        b = len(rows)
        pad = self.tokenizer.pad_token_id or 0
        ids = torch.full((b, width), pad, dtype=torch.long)
        attn = torch.zeros((b, plen + width), dtype=torch.long)
        attn[:, :plen] = 1
        pos = torch.full((b, width), plen, dtype=torch.long)
        for i, tail in enumerate(tails):
            n = len(tail)
            ids[i, width - n :] = torch.tensor(tail)
            attn[i, plen + width - n :] = 1
            pos[i, width - n :] = torch.arange(plen, plen + n)
        cache = None
        if prefix_kv is not None:
            cache = DynamicCache(
                ddp_cache_data=[(k.expand(b, -1, -1, -1), v.expand(b, -1, -1, -1)) for k, v in prefix_kv],
                config=self.model.config,
            )
        ids, attn, pos = ids.to(self.device), attn.to(self.device), pos.to(self.device)
        logits, cache = self._call(ids, attn, pos, cache, keep)
        return logits, cache, attn, pos[:, -1]

    def _batches(self, rows: Sequence[Sequence[int]]) -> Iterator[list[int]]:
        """Row indices, longest first (least padding), in chunks of the batch size."""
        order = sorted(range(len(rows)), key=lambda i: (-len(rows[i]), rows[i]))
        size = int(self.batch_size) if str(self.batch_size).isdigit() else 32
        for start in range(0, len(order), size):
            yield order[start : start + size]

    # ------------------------------------------------------------ loglikelihood
    def loglikelihood(self, requests, disable_tqdm: bool = False):
        # lm-eval's "Tokenizing inputs" bar flashes by in a fraction of a second: keep ours only
        return super().loglikelihood(requests, disable_tqdm=True)

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs=None):
        """[((context, continuation), context tokens, continuation tokens)] → [(log p, is greedy)]."""
        inputs = [list(ctx) + list(cont[:-1]) for _, ctx, cont in requests]
        if not self._shareable() or any(len(x) > self.max_length for x in inputs):
            self._first_step.clear()
            return super()._loglikelihood_tokens(requests, disable_tqdm=disable_tqdm, override_bs=override_bs)
        results: list[tuple[float, bool] | None] = [None] * len(requests)
        groups: dict[tuple[int, ...], list[int]] = {}
        with torch.inference_mode():
            for i, (_, _, cont) in enumerate(requests):
                rows = self._first_step.get(tuple(inputs[i]))
                if rows is not None and len(cont) <= rows.shape[0]:
                    results[i] = self._score(rows[-len(cont) :], cont)
                    self.cache_hook.add_partial("loglikelihood", requests[i][0], results[i])
                    self.stats["reused"] += 1
                else:
                    groups.setdefault(tuple(inputs[i]), []).append(i)
            self._first_step.clear()
            todo = list(groups)
            need = [max(len(requests[i][2]) for i in groups[key]) for key in todo]
            # the prefix may not reach a scored position: row length − rows it needs
            plen = min(common_prefix_len(todo), min((len(k) - n for k, n in zip(todo, need)), default=0))
            prefix_kv = self._prefix_cache(todo[0][:plen]) if todo else None
            bar = self._bar(len(requests), "log-likelihood")
            bar.update(len(requests) - sum(len(v) for v in groups.values()))
            for chunk in self._batches(todo):
                keep = max(need[j] for j in chunk)
                logits, _, _, _ = self._prefill([todo[j] for j in chunk], prefix_kv, plen, keep)
                logp = F.log_softmax(logits.float(), dim=-1)
                for row, j in enumerate(chunk):
                    for i in groups[todo[j]]:
                        cont = requests[i][2]
                        results[i] = self._score(logp[row, keep - len(cont) :], cont)
                        self.cache_hook.add_partial("loglikelihood", requests[i][0], results[i])
                    bar.update(len(groups[todo[j]]))
            bar.close()
        return results

    @staticmethod
    def _score(logp: torch.Tensor, cont: Sequence[int]) -> tuple[float, bool]:
        """log-prob rows [n, V] aligned with n continuation tokens → (sum log p, all greedy)."""
        toks = torch.tensor(list(cont), device=logp.device)
        picked = logp.gather(1, toks[:, None]).squeeze(1)
        return float(picked.sum()), bool((logp.argmax(-1) == toks).all())

    # ----------------------------------------------------------- generate_until
    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        """Greedy replies, grouped by generation settings; sampling goes to HFLM."""
        self._first_step.clear()
        out: list[str | None] = [None] * len(requests)
        groups: dict[str, list[int]] = {}
        for i, req in enumerate(requests):
            groups.setdefault(json.dumps(req.args[1], sort_keys=True, default=str), []).append(i)
        for members in groups.values():
            kwargs = normalize_gen_kwargs(requests[members[0]].args[1], self.max_gen_toks)
            greedy = not kwargs.get("do_sample") and set(kwargs) <= _GREEDY_KEYS
            if self._shareable() and greedy:
                replies = self._greedy([requests[i].args[0] for i in members], kwargs)
            else:
                replies = None
            if replies is None:
                replies = super().generate_until([requests[i] for i in members], disable_tqdm=disable_tqdm)
            for i, reply in zip(members, replies):
                out[i] = reply
        return out  # type: ignore[return-value]

    def _greedy(self, contexts: Sequence[str], kwargs: dict) -> list[str] | None:
        """Contexts + normalized generation kwargs → replies; None when HFLM must do it."""
        eos_text = self.tok_decode(self.eot_token_id, skip_special_tokens=False)
        until = handle_stop_sequences(kwargs.get("until"), eos=eos_text)
        max_new = int(kwargs["max_gen_toks"])
        ids, mask = self.tok_batch_encode(list(contexts))
        rows = [ids[i][mask[i].bool()].tolist() for i in range(len(contexts))]
        if any(len(r) + max_new > self.max_length for r in rows):
            return None
        eos_ids = {self.eot_token_id}
        gen_eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        eos_ids |= set(gen_eos if isinstance(gen_eos, list) else [gen_eos] if gen_eos is not None else [])
        keep = REUSE_ROWS if self.keep_first_step else 1
        plen = max(0, min(common_prefix_len(rows), min(len(r) for r in rows) - keep))
        replies: list[str] = [""] * len(rows)
        bar = self._bar(len(rows), "generate")
        with torch.inference_mode():
            prefix_kv = self._prefix_cache(rows[0][:plen])
            for chunk in self._batches(rows):
                logits, cache, attn, pos = self._prefill([rows[j] for j in chunk], prefix_kv, plen, keep)
                if self.keep_first_step:
                    logp = F.log_softmax(logits.float(), dim=-1).cpu()
                    for row, j in enumerate(chunk):
                        self._first_step[tuple(rows[j])] = logp[row]
                texts = self._decode_greedy(logits[:, -1], cache, attn, pos, chunk, eos_ids, until, max_new)
                for j, text in zip(chunk, texts):
                    replies[j] = postprocess_generated_text(text, stop=until, think_end_token=None)
                    self.cache_hook.add_partial("generate_until", (contexts[j], kwargs), replies[j])
                bar.update(len(chunk))
        bar.close()
        return replies

    def _decode_greedy(self, logits, cache, attn, pos, chunk, eos_ids, until, max_new) -> list[str]:
        """Greedy steps from the prefill's last logits; a row leaves the batch at eos or a stop string."""
        tokens: list[list[int]] = [[] for _ in chunk]
        active = list(range(len(chunk)))
        for step in range(max_new):
            nxt = logits.argmax(-1)
            still: list[int] = []
            for slot, row in enumerate(active):
                tok = int(nxt[slot])
                if tok in eos_ids:
                    continue
                tokens[row].append(tok)
                text = self.tok_decode(tokens[row])
                if not any(s and s in text for s in until):
                    still.append(slot)
            if step == max_new - 1 or not still:
                break
            if len(still) < len(active):  # drop finished rows from the batch and its cache
                sel = torch.tensor(still, device=self.device)
                cache.batch_select_indices(sel)
                attn, pos, nxt = attn[sel], pos[sel], nxt[sel]
                active = [active[s] for s in still]
            attn = torch.cat([attn, attn.new_ones((len(active), 1))], dim=1)
            pos = pos + 1
            logits, cache = self._call(nxt[:, None], attn, pos[:, None], cache, 1)
            logits = logits[:, -1]
        return [self.tok_decode(t) for t in tokens]
