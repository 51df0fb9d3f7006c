"""Drift on held-out general prompts: (base model + adapter, test_general) → `DriftResult`.

Per prompt: the base model's greedy reply (replies.py: cached, so `syllabus run` has it
from before training), the tuned model's greedy reply, and the mean log-probability per
token of the base's reply under each model, teacher-forced the same way (the tokens a
lesson would train on: the reply, and its eos when it ended there). Then

  drop      = base log p/token − tuned log p/token   (nats/token; 0 = unchanged; the base's
              greedy reply is its most likely one, so a drop is the tuned model moving away)
  collapsed = the tuned reply has ≤ 3 words where the base's has ≥ 8 (results.collapsed)

and per split the mean drop with its standard error and the collapsed share with its Wilson
interval (results.DriftScore). A failure of the model (out of memory, …) is recorded as an
incomplete result, never raised: the gate then fails closed (exit 3).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import torch
import torch.nn.functional as F

from ..model.batching import Encoded, answer_logits, collate, encode_pair
from ..model.greedy import greedy_replies
from ..model.load import LoadedModel
from ..records import GeneralPrompt
from ..training.replies import Reply, write_replies, writer_of
from .results import DriftItem, DriftResult, DriftScore, write_drift

if TYPE_CHECKING:  # pragma: no cover
    from ..build.read import Build

log = logging.getLogger(__name__)
SCORE_MAX_LENGTH = 1024  # tokens of prompt + reply: a general prompt and a 256-token reply fit


def _row_logprobs(model, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """A collated batch (batching.collate) → (sum of log p over each row's answer tokens, their count)."""
    logits, targets, keep = answer_logits(model, batch)
    logp = -F.cross_entropy(logits, targets, reduction="none")
    row_of = keep.nonzero()[:, 0]  # boolean indexing is row-major: the kept positions' rows, in order
    sums = torch.zeros(keep.shape[0], dtype=logp.dtype, device=logp.device).index_add_(0, row_of, logp)
    return sums, keep.sum(1)


def reply_logprobs(model, tokenizer, replies: Sequence[Reply], batch_size: int = 16) -> list[tuple[float, int]]:
    """Replies (prompt + text) → (mean log p per token of the text after its prompt, tokens) under
    `model`: the reply's tokens and, when it ended there, its eos; rows batched by length."""
    rows: list[Encoded] = [encode_pair(tokenizer, r.prompt, r.text, SCORE_MAX_LENGTH, ends=r.finished) for r in replies]
    device = next(model.parameters()).device
    out: list[tuple[float, int]] = [(math.nan, 0)] * len(rows)
    order = sorted(range(len(rows)), key=lambda i: (len(rows[i].ids), i))
    with torch.no_grad():  # not inference_mode: there autocast recasts every weight at every call
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            batch = collate([rows[i] for i in chunk], tokenizer.pad_token_id or 0)
            batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            sums, counts = _row_logprobs(model, batch)
            for i, s, n in zip(chunk, sums.tolist(), counts.tolist()):
                out[i] = (s / n if n else math.nan, int(n))
    return out


def measure_drift(loaded: LoadedModel, tuned, prompts: Sequence[GeneralPrompt], *, max_new_tokens: int,
                  build_sha256: str, split: str = "test_general", batch_size: int = 32,
                  progress: bool = False) -> DriftResult:
    """(the base model as loaded, the tuned PeftModel wrapping it, held-out general prompts,
    reply length bound) → DriftResult with one DriftScore; incomplete (with the problem) when
    the model fails. The base reads are made with the adapter disabled."""
    start = time.perf_counter()
    texts = [p.prompt for p in prompts]
    try:
        with tuned.disable_adapter():
            base = write_replies(writer_of(loaded, tuned), texts, max_new_tokens, batch_size=batch_size,
                                 progress=progress, label="base replies").replies
            base_lp = reply_logprobs(tuned, loaded.tokenizer, base)
        tuned_lp = reply_logprobs(tuned, loaded.tokenizer, base)
        tuned_out = greedy_replies(tuned, loaded.tokenizer, texts, max_new_tokens, batch_size=batch_size,
                                   progress=progress, label="tuned replies")
    except Exception as exc:  # noqa: BLE001 - the model failed: nothing measured is trustworthy
        log.debug("drift failure", exc_info=True)
        return DriftResult(loaded.name, build_sha256, False, (), max_new_tokens, time.perf_counter() - start,
                           (f"{split}: the model failed: {type(exc).__name__}: {exc}",))
    items = tuple(
        DriftItem(p.id, p.prompt, p.kind, b.text, t.text, n, b_lp, t_lp)
        for p, b, t, (b_lp, n), (t_lp, _) in zip(prompts, base, tuned_out, base_lp, tuned_lp)
    )
    score = DriftScore.from_items(split, items)
    problems = () if items and math.isfinite(score.drift) else (f"{split}: no drift measured (n = {len(items)})",)
    return DriftResult(loaded.name, build_sha256, not problems, (score,), max_new_tokens,
                       time.perf_counter() - start, problems)


def _tell(line: str) -> None:
    from ..progress import say

    say(line)


def write_run_drift(build: "Build", loaded: LoadedModel, tuned, run_dir: Path, adapter_sha: str) -> None:
    """The tuned model (wearing the adapter of sha256 `adapter_sha`)'s drift on test_general →
    run_dir/eval/general.json (when the build has it)."""
    from ..build.read import read_general

    settings = build.spec.retain.general
    if settings is None:
        return
    result = measure_drift(loaded, tuned, read_general(build, "test_general"), max_new_tokens=settings.max_new_tokens,
                           build_sha256=build.manifest.sha256, batch_size=build.spec.eval.batch_size, progress=True)
    result = replace(result, adapter_sha256=adapter_sha)
    write_drift(result, Path(run_dir) / "eval" / "general.json")
    score = result.score("test_general")
    if score is not None and result.complete:
        _tell(f"general: test_general drift {score.drift:.3f} ± {score.drift_stderr:.3f} nats/token, collapsed "
              f"{score.collapsed} of {score.n} ({result.wall_s:.1f} s)")
    else:
        _tell(f"warning: general drift incomplete: {'; '.join(result.problems)}")
