"""Replies a model writes to general prompts, cached on disk: `write_replies`.

Self-distillation (Yang et al. 2024): the retain lessons' replies are the base model's own
greedy replies, so training on them keeps it answering as it did; a `teacher` model may
write them instead, through the same call. The held-out test_general replies of the base
model are written the same way (drift.py scores them).

Greedy replies are a function of (weights, chat-formatted prompt, length bound, dtype,
device type), so each is cached under $SYLLABUS_CACHE/replies/ keyed by the sha256 of
exactly those: a second run with the same model writes nothing. A model whose weights
hash is unknown (models.LoadedModel.sha256 == "") is never cached.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ..integrity import write_atomic
from ..model.greedy import greedy_replies
from ..model.embedded import cache_root
from ..model.load import LoadedModel, load_model
from ..records import stable_hash

if TYPE_CHECKING:  # pragma: no cover
    from ..build.read import Build

CACHE_VERSION = 1  # bump when what a cached reply means changes (decoding, formatting)


@dataclass(frozen=True)
class Reply:
    """A prompt and the reply a model wrote to it; `finished` False: cut at the length bound."""

    prompt: str
    text: str
    tokens: int
    finished: bool


@dataclass(frozen=True)
class Writer:
    """The model that writes replies, and what decides them besides the prompt."""

    model: object  # a transformers causal LM (or a PeftModel inside disable_adapter())
    tokenizer: object
    name: str  # as the user gave it: "default", a hub id, a path
    sha256: str  # of its weights; "" = unknown: nothing is cached
    dtype: str  # "float32", "bfloat16": greedy replies differ between them
    device_type: str  # "cpu", "cuda"


@dataclass(frozen=True)
class Replies:
    """One reply per prompt, in prompt order, and how they were obtained."""

    replies: tuple[Reply, ...]
    model: str
    generated: int  # written now
    cached: int  # read from the cache
    wall_s: float


def _key(writer: Writer, chat_text: str, max_new_tokens: int) -> str:
    return stable_hash("reply", CACHE_VERSION, writer.sha256, writer.dtype, writer.device_type, chat_text,
                       "greedy", max_new_tokens)


def _cache_file(folder: Path, key: str) -> Path:
    return folder / key[:2] / f"{key}.json"


def _read(path: Path, prompt: str) -> Reply | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc["prompt"] != prompt:
            return None
        return Reply(prompt, str(doc["text"]), int(doc["tokens"]), bool(doc["finished"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent, or damaged by a kill mid-write: written again


def _write(path: Path, reply: Reply, writer: Writer, max_new_tokens: int) -> None:
    doc = {"prompt": reply.prompt, "text": reply.text, "tokens": reply.tokens, "finished": reply.finished,
           "model": writer.name, "model_sha256": writer.sha256, "max_new_tokens": max_new_tokens}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(doc, ensure_ascii=False) + "\n")  # a reader sees a whole reply or none
    except OSError:
        pass  # a read-only cache only costs writing the reply again next time


def write_replies(writer: Writer, prompts: Sequence[str], max_new_tokens: int, *, batch_size: int = 32,
                  progress: bool = False, label: str = "replies", cache: Path | None = None) -> Replies:
    """(writer, user prompts, length bound) → its greedy reply to each, from the cache where it
    has them (cache: $SYLLABUS_CACHE/replies unless given), the rest written in batches."""
    start = time.perf_counter()
    folder = cache if cache is not None else cache_root() / "replies"
    tok = writer.tokenizer
    keys = [
        _key(writer, tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                             tokenize=False), max_new_tokens)
        for p in prompts
    ] if writer.sha256 else [""] * len(prompts)
    found: dict[int, Reply] = {}
    for i, (prompt, key) in enumerate(zip(prompts, keys)):
        hit = _read(_cache_file(folder, key), prompt) if key else None
        if hit is not None:
            found[i] = hit
    todo = [i for i in range(len(prompts)) if i not in found]
    written = greedy_replies(writer.model, tok, [prompts[i] for i in todo], max_new_tokens, batch_size=batch_size,
                             progress=progress, label=label)
    for i, w in zip(todo, written):
        found[i] = Reply(prompts[i], w.text, w.tokens, w.finished)
        if keys[i]:
            _write(_cache_file(folder, keys[i]), found[i], writer, max_new_tokens)
    return Replies(tuple(found[i] for i in range(len(prompts))), writer.name, len(todo), len(prompts) - len(todo),
                   time.perf_counter() - start)


def writer_of(loaded: LoadedModel, model=None) -> Writer:
    """models.LoadedModel (and optionally the model object to run, e.g. a PeftModel whose
    adapter the caller disabled) → Writer."""
    return Writer(model if model is not None else loaded.model, loaded.tokenizer, loaded.name, loaded.sha256,
                  loaded.precision, loaded.device.type)


def _tell(line: str) -> None:
    from ..progress import say

    say(line)


def general_replies(build: "Build", loaded: LoadedModel, device: str | None, *,
                     with_test: bool) -> "tuple[Reply, ...]":
    """The general replies a run needs before training: the retain lessons' (the spec's teacher
    or the base model writes them) and, with `with_test`, the base model's test_general replies
    (for drift after training: measured from the cache then). Cached (write_replies); one batched
    call when the base model writes both. → the retain lessons, or () without retain.general."""
    from ..build.read import read_general

    settings = build.spec.retain.general
    if settings is None:
        return ()
    train_prompts = [g.prompt for g in read_general(build, "train_general")]
    test_prompts = [g.prompt for g in read_general(build, "test_general")] if with_test else []
    batch = build.spec.eval.batch_size
    teacher = settings.teacher
    if teacher is None or teacher == loaded.name:
        done = write_replies(writer_of(loaded), train_prompts + test_prompts, settings.max_new_tokens,
                             batch_size=batch, progress=True, label="general replies")
        _tell(f"general replies by {loaded.name}: {len(train_prompts)} retain + {len(test_prompts)} test_general, "
              f"{done.generated} written, {done.cached} from the cache ({done.wall_s:.1f} s)")
        return done.replies[: len(train_prompts)]
    teacher_model = load_model(teacher, device)
    taught = write_replies(writer_of(teacher_model), train_prompts, settings.max_new_tokens, batch_size=batch,
                           progress=True, label="teacher replies")
    del teacher_model  # the teacher's weights are not needed again
    _tell(f"retain replies by teacher {teacher}: {taught.generated} written, {taught.cached} from the cache "
          f"({taught.wall_s:.1f} s)")
    if test_prompts:
        own = write_replies(writer_of(loaded), test_prompts, settings.max_new_tokens, batch_size=batch,
                            progress=True, label="base replies")
        _tell(f"test_general replies by {loaded.name}: {own.generated} written, {own.cached} from the cache "
              f"({own.wall_s:.1f} s)")
    return taught.replies
