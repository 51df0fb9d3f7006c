"""An lm-eval model that does the same arithmetic as `HFLM` with less of it: `SharedPrefixLM`.

lm-eval's `HFLM` runs every request from its first token. Our requests are chat prompts
that all open with the same system turn, and the multiple-choice and generation readings
ask about the same prompts, so three things are computed once instead of many times:

1. The common token prefix of a request set (the system turn and chat scaffolding, about
   half of every prompt) runs once; its key/value cache is shared by every batch.
2. Only the positions that are scored reach the output layer (`logits_to_keep`), instead
   of a vocabulary-wide log-softmax at every position.
3. With `score_choices`, a greedy reply's prompt pass also scores its document's
   `choices` as lm-eval's multiple-choice task will ask for them: the same
   `_encode_pair(context, choice)` tokens, from the prompt's last logits plus, for a
   choice longer than that, a few tokens fed on top of the prompt's key/value cache.
   `loglikelihood` then answers those exact (context, continuation) token pairs from
   memory; anything else it computes. lm-eval issues request types in task order, so the
   evaluator puts generation tasks first.

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

from ..progress import show_bars

# Prompt positions whose logits a generation prefill keeps for choice scoring: lm-eval's
# chat context ends before the template's "\n", so "Blue" is scored as ["\n", "Blue"],
# predicted at the prompt's last two positions.
REUSE_ROWS = 2
# A greedy step feeds one token per row, so the rows of several prefill batches decode
# together: 4 × 32 rows is 128 tokens a step, far fewer than a prefill's 32 × ~25.
DECODE_GROUP = 4
_GREEDY_KEYS = {"do_sample", "temperature", "until", "max_gen_toks"}
Pair = tuple[tuple[int, ...], tuple[int, ...]]  # (context tokens, continuation tokens)


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


def _pick(logp: torch.Tensor, targets: Sequence[int]) -> tuple[float, bool]:
    """log-prob rows [n, V] aligned with n target tokens → (sum of log p, every row's argmax)."""
    toks = torch.tensor(list(targets), device=logp.device)
    picked = logp.gather(1, toks[:, None]).squeeze(1)
    return float(picked.sum()), bool((logp.argmax(-1) == toks).all())


class StockLM(HFLM):
    """lm-eval's own HFLM (the `eval.engine: hflm` engine), with the attributes evaluate_arm
    sets on any engine; it scores choices in their own pass and keeps nothing between calls."""

    def __init__(self, model, tokenizer, batch_size: int = 32, progress: bool = False, label: str = ""):
        super().__init__(pretrained=model, tokenizer=tokenizer, batch_size=int(batch_size))
        self.progress, self.label, self.score_choices = progress, label, False

    def reset(self) -> None:
        """Nothing is kept between calls."""

    # lm-eval's own bars, where progress.show_bars() allows (not in a CI log)
    def loglikelihood(self, requests, disable_tqdm: bool = False):
        return super().loglikelihood(requests, disable_tqdm=disable_tqdm or not (self.progress and show_bars()))

    def generate_until(self, requests, disable_tqdm: bool = False):
        return super().generate_until(requests, disable_tqdm=disable_tqdm or not (self.progress and show_bars()))


class SharedPrefixLM(HFLM):
    """HFLM over an in-memory model; see the module docstring for what it shares."""

    def __init__(self, model, tokenizer, batch_size: int = 32, progress: bool = False, label: str = ""):
        super().__init__(pretrained=model, tokenizer=tokenizer, batch_size=int(batch_size))
        self.progress = progress
        self.label = label
        self.score_choices = False
        self._answers: dict[Pair, tuple[float, bool]] = {}
        # forwards, tokens fed, reused answers, choice tokens fed once for several choices: for tests and benchmarks
        self.stats: Counter[str] = Counter()
        self._keep_arg = True

    def reset(self) -> None:
        """Forget choice answers kept from a generation pass (call before other weights or prompts)."""
        self._answers = {}

    # ------------------------------------------------------------------ plumbing
    def _shareable(self) -> bool:
        return self.backend == "causal" and not self.think_end_token

    @property
    def _rows(self) -> int:
        """Rows per prefill forward: the batch size ('auto' is not probed here: 32)."""
        return int(self.batch_size) if str(self.batch_size).isdigit() else 32

    def _bar(self, total: int, what: str):
        desc = f"{self.label} {what}".strip()
        return tqdm(total=total, desc=desc, disable=not (self.progress and total and show_bars()), leave=False,
                    dynamic_ncols=True)

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

    def _cache(self, kv: Sequence[tuple[torch.Tensor, torch.Tensor]]):
        from transformers import DynamicCache

        return DynamicCache(ddp_cache_data=list(kv), config=self.model.config)

    def _prefix_cache(self, prefix: Sequence[int]):
        """Prefix tokens → its key/value tensors per layer (None when empty)."""
        if not prefix:
            return None
        ids = torch.tensor([list(prefix)], device=self.device)
        pos = torch.arange(len(prefix), device=self.device)[None]
        _, cache = self._call(ids, torch.ones_like(ids), pos, None, 1)
        return [(layer.keys, layer.values) for layer in cache.layers]

    def _prefill(self, rows: Sequence[Sequence[int]], prefix_kv, plen: int, keep: int, width: int = 0):
        """Token rows sharing their first `plen` tokens → (logits [B, keep, V], cache, mask, last positions).

        Tails are left-padded (to `width` at least) so the rows' last tokens line up: the
        mask reads [1]*plen + [0]*pad + [1]*n, and positions continue at plen."""
        tails = [list(r[plen:]) for r in rows]
        width = max(width, max(len(t) for t in tails))
        b = len(rows)
        ids = torch.full((b, width), self.tokenizer.pad_token_id or 0, dtype=torch.long)
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
            cache = self._cache((k.expand(b, -1, -1, -1), v.expand(b, -1, -1, -1)) for k, v in prefix_kv)
        ids, attn, pos = ids.to(self.device), attn.to(self.device), pos.to(self.device)
        logits, cache = self._call(ids, attn, pos, cache, keep)
        return logits, cache, attn, pos[:, -1]

    def _batches(self, rows: Sequence[Sequence[int]], factor: int = 1) -> Iterator[list[int]]:
        """Row indices, longest first (least padding), in chunks of `factor` × the batch size."""
        order = sorted(range(len(rows)), key=lambda i: (-len(rows[i]), rows[i]))
        size = self._rows * factor
        for start in range(0, len(order), size):
            yield order[start : start + size]

    # ------------------------------------------------------------ loglikelihood
    def loglikelihood(self, requests, disable_tqdm: bool = False):
        # lm-eval's "Tokenizing inputs" bar flashes by in a fraction of a second: keep ours only
        return super().loglikelihood(requests, disable_tqdm=True)

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs=None):
        """[((context, continuation), context tokens, continuation tokens)] → [(log p, is greedy)]."""
        answers, self._answers = self._answers, {}
        inputs = [list(ctx) + list(cont[:-1]) for _, ctx, cont in requests]
        if not self._shareable() or any(len(x) > self.max_length for x in inputs):
            return super()._loglikelihood_tokens(requests, disable_tqdm=disable_tqdm, override_bs=override_bs)
        results: list[tuple[float, bool] | None] = [None] * len(requests)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, (_, ctx, cont) in enumerate(requests):
            known = answers.get((tuple(ctx), tuple(cont)))
            if known is not None:
                results[i] = known
                self.cache_hook.add_partial("loglikelihood", requests[i][0], known)
                self.stats["reused"] += 1
            else:
                groups.setdefault(tuple(inputs[i]), []).append(i)
        todo = list(groups)
        need = [max(len(requests[i][2]) for i in groups[key]) for key in todo]
        # the prefix must stop before the first scored position of every row
        plen = min(common_prefix_len(todo), min((len(k) - n for k, n in zip(todo, need)), default=0))
        bar = self._bar(sum(len(v) for v in groups.values()), "log-likelihood")
        with torch.no_grad():  # not inference_mode: there autocast recasts every weight at every call
            prefix_kv = self._prefix_cache(todo[0][:plen]) if todo else None
            for chunk in self._batches(todo):
                keep = max(need[j] for j in chunk)
                logits, _, _, _ = self._prefill([todo[j] for j in chunk], prefix_kv, plen, keep)
                logp = F.log_softmax(logits.float(), dim=-1)
                for row, j in enumerate(chunk):
                    for i in groups[todo[j]]:
                        cont = requests[i][2]
                        results[i] = _pick(logp[row, keep - len(cont) :], cont)
                        self.cache_hook.add_partial("loglikelihood", requests[i][0], results[i])
                    bar.update(len(groups[todo[j]]))
        bar.close()
        return results

    # ----------------------------------------------------------- generate_until
    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        """Greedy replies, grouped by generation settings; sampling goes to HFLM."""
        self._answers = {}
        out: list[str | None] = [None] * len(requests)
        groups: dict[str, list[int]] = {}
        for i, req in enumerate(requests):
            groups.setdefault(json.dumps(req.args[1], sort_keys=True, default=str), []).append(i)
        for members in groups.values():
            kwargs = normalize_gen_kwargs(requests[members[0]].args[1], self.max_gen_toks)
            greedy = not kwargs.get("do_sample") and set(kwargs) <= _GREEDY_KEYS
            replies = self._greedy([requests[i] for i in members], kwargs) if self._shareable() and greedy else None
            if replies is None:
                replies = super().generate_until([requests[i] for i in members],
                                                 disable_tqdm=disable_tqdm or not (self.progress and show_bars()))
            for i, reply in zip(members, replies):
                out[i] = reply
        return out  # type: ignore[return-value]

    def _greedy(self, requests, kwargs: dict) -> list[str] | None:
        """Requests + normalized generation kwargs → replies; None when HFLM must do it."""
        contexts = [r.args[0] for r in requests]
        until = handle_stop_sequences(kwargs.get("until"), eos=self.tok_decode(self.eot_token_id, skip_special_tokens=False))
        max_new = int(kwargs["max_gen_toks"])
        ids, mask = self.tok_batch_encode(contexts)
        rows = [ids[i][mask[i].bool()].tolist() for i in range(len(contexts))]
        if any(len(r) + max_new > self.max_length for r in rows):
            return None
        gen_eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        eos_ids = {self.eot_token_id} | set(gen_eos if isinstance(gen_eos, list) else [gen_eos] if gen_eos is not None else [])
        keep = REUSE_ROWS if self.score_choices else 1
        plen = max(0, min(common_prefix_len(rows), min(len(r) for r in rows) - keep))
        choices = [self._choice_pairs(r, rows[j]) if self.score_choices else [] for j, r in enumerate(requests)]
        replies: list[str] = [""] * len(rows)
        bar = self._bar(len(rows), "generate")
        with torch.no_grad():  # not inference_mode: there autocast recasts every weight at every call
            prefix_kv = self._prefix_cache(rows[0][:plen])
            for group in self._batches(rows, DECODE_GROUP):
                logits, cache, attn, pos = self._prefill_group([rows[j] for j in group], prefix_kv, plen, keep)
                if any(choices[j] for j in group):
                    self._score_group([rows[j] for j in group], [choices[j] for j in group], logits, cache, attn, pos)
                texts = self._decode_greedy(logits[:, -1], cache, attn, pos, len(group), eos_ids, until, max_new)
                for j, text in zip(group, texts):
                    replies[j] = postprocess_generated_text(text, stop=until, think_end_token=None)
                    self.cache_hook.add_partial("generate_until", (contexts[j], kwargs), replies[j])
                bar.update(len(group))
        bar.close()
        return replies

    def _prefill_group(self, rows: Sequence[Sequence[int]], prefix_kv, plen: int, keep: int):
        """Rows of one decode group → prefilled in batch-size chunks at one width, then joined
        (logits, cache, mask, positions) so that every greedy step feeds the whole group."""
        width, size = max(len(r) for r in rows) - plen, self._rows
        parts = [self._prefill(rows[i : i + size], prefix_kv, plen, keep, width) for i in range(0, len(rows), size)]
        if len(parts) == 1:
            return parts[0]
        layers = zip(*([(layer.keys, layer.values) for layer in p[1].layers] for p in parts))
        cache = self._cache((torch.cat([k for k, _ in kv]), torch.cat([v for _, v in kv])) for kv in layers)
        return torch.cat([p[0] for p in parts]), cache, torch.cat([p[2] for p in parts]), torch.cat([p[3] for p in parts])

    def _decode_greedy(self, logits, cache, attn, pos, n_rows: int, eos_ids, until, max_new) -> list[str]:
        """Greedy steps from the prefill's last logits; a row leaves the batch at eos or a stop string."""
        tokens: list[list[int]] = [[] for _ in range(n_rows)]
        active = list(range(n_rows))
        for step in range(max_new):
            nxt = logits.argmax(-1)
            still: list[int] = []
            for slot, row in enumerate(active):
                tok = int(nxt[slot])
                if tok in eos_ids:
                    continue
                tokens[row].append(tok)
                if not any(s and s in self.tok_decode(tokens[row]) for s in until):
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

    # ------------------------------------------------- choices scored in passing
    def _choice_pairs(self, request, prompt: Sequence[int]) -> list[tuple[Pair, int]]:
        """A generation request whose doc has `choices` → [((ctx, cont) as loglikelihood will
        receive them, first scored position)] for each choice its prompt pass can score."""
        doc = getattr(request, "doc", None)
        options = (doc.get("mc_choices") or doc.get("choices")) if isinstance(doc, dict) else None
        if not isinstance(options, list) or not all(isinstance(c, str) and c for c in options):
            return []
        out = []
        for choice in options:
            ctx, cont = self._encode_pair(request.args[0], choice)  # the MC task's continuation: "" + choice
            full = list(ctx) + list(cont)
            first = len(ctx) - 1  # the position whose logits predict the first continuation token
            if cont and len(full) >= len(prompt) and full[: len(prompt)] == list(prompt) and first >= len(prompt) - REUSE_ROWS:
                out.append(((tuple(ctx), tuple(cont)), first))
        return out

    def _score_group(self, rows, pairs, logits, cache, attn, pos) -> None:
        """Score each row's choices: positions inside the prompt from the prefill's kept logits
        [B, REUSE_ROWS, V]; later ones by feeding the choice's tokens on the prompt's cache, the
        tokens a row's choices share once ("The carrot is orange, so orange is" of "… right. You
        ask if it is right: yes." and "… wrong. … no."), then each choice's own rest."""
        kept = F.log_softmax(logits.float(), dim=-1)
        todo = [(slot, pair, first) for slot, row_pairs in enumerate(pairs) for pair, first in row_pairs]
        # choices that run past the prompt: their tokens after it (but the last) are fed on its cache
        tails = {k: list(ctx + cont)[len(rows[s]) : -1] for k, (s, (ctx, cont), _) in enumerate(todo)
                 if len(ctx) + len(cont) - 1 > len(rows[s])}
        by_slot: dict[int, list[int]] = {}
        for k in tails:
            by_slot.setdefault(todo[k][0], []).append(k)
        fed: dict[int, torch.Tensor] = {}  # todo index → log-prob rows of the fed positions
        slots = list(by_slot)
        for start in range(0, len(slots), self._rows):
            part = slots[start : start + self._rows]
            shared = [tails[by_slot[s][0]][: common_prefix_len([tails[k] for k in by_slot[s]])] for s in part]
            sel = torch.tensor(part, device=self.device)
            sub = self._cache((layer.keys[sel], layer.values[sel]) for layer in cache.layers)
            sub_attn, sub_pos = attn[sel], pos[sel]
            head: list[torch.Tensor] = [kept.new_zeros((0, kept.shape[-1]))] * len(part)
            if any(shared):  # stage 1: each row's shared tokens, right-padded
                sub, sub_attn, head = self._feed(shared, sub, sub_attn, sub_pos)
                self.stats["shared"] += sum(len(sh) * (len(by_slot[s]) - 1) for sh, s in zip(shared, part))
            rest = [(i, k) for i, s in enumerate(part) for k in by_slot[s] if len(tails[k]) > len(shared[i])]
            for i, s in enumerate(part):
                for k in by_slot[s]:
                    if len(tails[k]) <= len(shared[i]):  # wholly inside the shared tokens: done
                        fed[k] = head[i][: len(tails[k])]
            for lo in range(0, len(rest), self._rows):  # stage 2: each choice's own tokens
                chunk = rest[lo : lo + self._rows]
                idx = torch.tensor([i for i, _ in chunk], device=self.device)
                base = self._cache((layer.keys[idx], layer.values[idx]) for layer in sub.layers)
                offsets = torch.tensor([len(shared[i]) for i, _ in chunk], device=self.device)
                _, _, own = self._feed([tails[k][len(shared[i]) :] for i, k in chunk], base, sub_attn[idx],
                                       sub_pos[idx] + offsets)
                for (i, k), logp in zip(chunk, own):
                    fed[k] = torch.cat([head[i][: len(shared[i])], logp])
        for k, (slot, (ctx, cont), first) in enumerate(todo):
            n = len(rows[slot])
            # position p predicts token p + 1: from `first` (→ cont[0]) to the one before the last token
            positions = range(first, len(ctx) + len(cont) - 1)
            parts = [kept[slot, p - (n - REUSE_ROWS)] if p < n else fed[k][p - n] for p in positions]
            self._answers[(ctx, cont)] = _pick(torch.stack(parts), cont)

    def _feed(self, tails: Sequence[Sequence[int]], cache, attn, last):
        """Token rows fed on a cache whose rows end at positions `last` (right-padded: causal
        attention never sees the pads) → (extended cache, its mask, [log-prob rows per row])."""
        width = max(len(t) for t in tails)
        ids = torch.full((len(tails), width), self.tokenizer.pad_token_id or 0, dtype=torch.long)
        real = torch.zeros((len(tails), width), dtype=attn.dtype)
        for i, tail in enumerate(tails):
            ids[i, : len(tail)] = torch.tensor(list(tail), dtype=torch.long)
            real[i, : len(tail)] = 1
        ext_attn = torch.cat([attn, real.to(self.device)], dim=1)
        ext_pos = last[:, None] + 1 + torch.arange(width, device=self.device)[None]
        out, cache = self._call(ids.to(self.device), ext_attn, ext_pos, cache, width)
        logp = F.log_softmax(out.float(), dim=-1)
        return cache, ext_attn, [logp[i, : len(t)] for i, t in enumerate(tails)]
