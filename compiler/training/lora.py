"""LoRA fine-tuning: (loaded model, train examples, settings) → runs/<id>/ with adapter/,
train_log.jsonl and run.json, plus the tuned model in memory. General retain lessons
(replies.py: replies a model wrote to the build's train-side general prompts) join the
examples as (prompt, reply) pairs.

Speed (tests/benchmarks/bench_train.py) comes from batching.py: shared-prefix batches,
length grouping, logits only at answer positions. On CUDA also token-budget batches, bf16, fused
AdamW and the loss read every LOSS_EVERY steps (trainer.accelerator_args); a CPU trains the founding
recipe batch for batch. Many GPUs: torchrun / accelerate launch (ranks.py: DDP, rank 0 writes).

Faults: a checkpoint (adapter + optimizer + scheduler + RNG + trainer state) every
`checkpoint_every` steps counts only once its COMPLETE marker is written last;
`resume=True` continues from the newest complete one and deletes incomplete ones.
run.json's status is "running" until the run ends "complete", "interrupted" (SIGTERM,
Ctrl-C: resumable) or "failed" (any other exception, recorded in "error").
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import signal
import threading
import time
import warnings
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import torch

from ..errors import TrainingInterrupted, UsageError
from ..integrity import adapter_sha256
from ..model.batching import batch_sampler, collate, encode_example, encode_pair
from ..model.load import LoadedModel
from ..records import Example
from .portable import base_ref, make_portable
from .ranks import barrier, from_main, join, ranks, total
from .record import FILE as RUN_FILE, ModelRef, Outcome, RetainRef, RunRecord, now as now_utc, read_record, write_record
from .trainer import COMPLETE, LOSS_EVERY, accelerator_args, trainer_classes

if TYPE_CHECKING:  # pragma: no cover
    from peft import PeftModel

    from ..spec.model import Train
    from .replies import Reply


def _check_overrides(train: "Train", **overrides: float | int | None) -> None:
    """Overrides of the spec's train block → None, or UsageError naming each flag that breaks the
    bound the spec itself has for that field (epochs 0 < x <= 1000, lr finite, rank 1..512, …):
    the spec's model is the one home of those bounds, so the overrides are validated through it."""
    from pydantic import ValidationError

    from ..spec.model import Train

    flags = {("epochs",): "--epochs", ("lr",): "--lr", ("batch_size",): "--batch-size", ("lora", "r"): "--rank"}
    given = {k: v for k, v in overrides.items() if v is not None}
    doc = train.model_dump()
    doc.update({k: v for k, v in given.items() if k != "rank"})
    if "rank" in given:
        doc["lora"] = {**doc["lora"], "r": given["rank"]}
    try:
        Train.model_validate(doc)
    except ValidationError as exc:
        raise UsageError("; ".join(f"{flags.get(tuple(e['loc']), '.'.join(map(str, e['loc'])))} {e['input']!r}: "
                                   f"{e['msg']}" for e in exc.errors(include_url=False))) from None


@dataclass(frozen=True)
class TrainSettings:
    """Everything that decides a training run: the spec's train block, its seed, CLI overrides."""

    model: str = "default"
    epochs: float = 3.0
    lr: float = 2e-4
    batch_size: int = 8
    tokens_per_batch: int | None = None  # None: rows on a CPU, on CUDA batch_size × mean length (batch_sampler)
    max_length: int = 256
    warmup_ratio: float = 0.0
    checkpoint_every: int = 50
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    lora_layers: tuple[float, float] = (0.0, 1.0)  # span of depth: layer i of N when start <= i/N < end
    seed: int = 0
    device: str | None = None  # None: cuda when available, else cpu

    @classmethod
    def from_spec(cls, train: "Train", seed: int, *, model: str | None = None, epochs: float | None = None,
                  lr: float | None = None, rank: int | None = None, batch_size: int | None = None,
                  device: str | None = None) -> "TrainSettings":
        """spec.train + spec.seed + overrides (None = keep) → settings. `rank` changes r only:
        alpha stays as written, so the LoRA scale alpha/r changes with it."""
        pick = lambda flag, value: value if flag is None else flag  # noqa: E731
        _check_overrides(train, epochs=epochs, lr=lr, rank=rank, batch_size=batch_size)
        return cls(
            model=pick(model, train.model), epochs=float(pick(epochs, train.epochs)), lr=float(pick(lr, train.lr)),
            batch_size=int(pick(batch_size, train.batch_size)), tokens_per_batch=train.tokens_per_batch,
            max_length=train.max_length,
            warmup_ratio=train.warmup_ratio, checkpoint_every=train.checkpoint_every,
            lora_r=int(pick(rank, train.lora.r)), lora_alpha=train.lora.alpha, lora_dropout=train.lora.dropout,
            lora_targets=tuple(train.lora.target_modules), lora_layers=(train.lora.layers.start, train.lora.layers.end),
            seed=seed, device=device,
        )

    def to_json(self) -> dict:
        return {**asdict(self), "lora_targets": list(self.lora_targets), "lora_layers": list(self.lora_layers)}


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    adapter_dir: Path
    model: "PeftModel"  # the in-memory tuned model, adapter enabled, eval mode
    first_loss: float  # loss of the first optimizer step (the untuned model on train data)
    final_loss: float  # mean loss over the last 10% of steps (at least one)
    tokens_per_s: float  # non-pad tokens of the examples per second of training (this process)
    wall_s: float
    steps: int


def last_complete_checkpoint(checkpoints: Path, prune: bool = False) -> Path | None:
    """checkpoints/ → newest checkpoint-N with its COMPLETE marker; `prune` deletes the
    incomplete ones (a kill mid-write) so they can never be picked or overwritten."""
    found: list[tuple[int, Path]] = []
    for path in checkpoints.glob("checkpoint-*") if checkpoints.is_dir() else ():
        step = path.name.rsplit("-", 1)[-1]
        if path.is_dir() and step.isdigit() and (path / COMPLETE).is_file():
            found.append((int(step), path))
        elif prune:
            shutil.rmtree(path, ignore_errors=True)
    return max(found)[1] if found else None


def new_run_dir(runs_root: Path, build_name: str) -> Path:
    """runs/<build name>-<UTC yyyymmdd-HHMMSS>[-k], created (exclusively) now. Under a launcher
    (torchrun: ranks.py) rank 0 creates it and every rank gets its path: one run folder."""
    if ranks().world > 1:
        made = _create_run_dir(runs_root, build_name) if join(on_cpu=not torch.cuda.is_available()).main else None
        return Path(from_main(str(made) if made else ""))
    return _create_run_dir(runs_root, build_name)


def _create_run_dir(runs_root: Path, build_name: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    Path(runs_root).mkdir(parents=True, exist_ok=True)
    for k in range(1, 1000):
        path = Path(runs_root) / (f"{build_name}-{stamp}" + (f"-{k}" if k > 1 else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise UsageError(f"{runs_root}: could not create a new run folder for {build_name}")


def _read_log(path: Path) -> list[dict]:
    """train_log.jsonl → its rows; a line cut short by a kill mid-write is dropped."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else ():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


def _versions() -> dict[str, str]:
    import peft
    import transformers

    from .. import __version__

    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "peft": peft.__version__, "syllabus": __version__}


def adapted_layers(total: int, start: float, end: float) -> list[int]:
    """Model depth N + span of depth → the layer indices i with start <= i/N < end, e.g.
    30 layers, 0.13-0.53 → 4..15 (3.9 <= i < 15.9). A span that falls between the layers of a
    shallow model (a tiny `--model`) still adapts one: the layer nearest its middle."""
    layers = [i for i in range(total) if start <= i / total < end]
    return layers or [min(total - 1, int((start + end) / 2 * total))]


def _lora_model(loaded: LoadedModel, settings: TrainSettings):
    from peft import LoraConfig, PeftModel, get_peft_model

    if isinstance(loaded.model, PeftModel) or hasattr(loaded.model, "peft_config"):
        raise UsageError("train_lora needs the base model, but this one already carries an adapter; load it again")
    total = loaded.model.config.num_hidden_layers
    layers = adapted_layers(total, *settings.lora_layers)
    config = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                        target_modules=list(settings.lora_targets),
                        layers_to_transform=None if len(layers) == total else layers, bias="none",
                        task_type="CAUSAL_LM")
    try:
        with warnings.catch_warnings():  # peft 0.21 reads a property transformers 5 deprecates
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
            return get_peft_model(loaded.model, config)
    except ValueError as exc:
        raise UsageError(f"train.lora.target_modules {list(settings.lora_targets)}: {exc}") from None


def check_resume(run_dir: Path, build_sha256: str, settings: TrainSettings) -> None:
    """UsageError unless run_dir is an unfinished run of this build with these settings (the
    device may change). Cheap: callers run it before loading a model."""
    if not (Path(run_dir) / RUN_FILE).exists():
        raise UsageError(f"{run_dir}: not a run folder (no {RUN_FILE}); pass a runs/<id> folder to --resume")
    # a folder, unreadable, not JSON, a list, a field missing: not what train writes (whole, atomically)
    record = read_record(run_dir, "this run cannot be resumed, start a new one")
    if record.status == "complete":
        raise UsageError(f"{run_dir}: this run is already complete; start a new run instead of --resume")
    if record.build_sha256 != build_sha256:
        raise UsageError(f"{run_dir}: was trained on another build (manifest sha256 {record.build_sha256}); "
                         "resume it with the build it started from")
    now, then = settings.to_json(), record.settings
    changed = [f"{k}: {then.get(k)!r} → {now[k]!r}" for k in now if k != "device" and then.get(k) != now[k]]
    if changed:
        raise UsageError(f"{run_dir}: settings differ from the interrupted run ({'; '.join(changed)}); "
                         "resume without changing them, or start a new run")


def train_lora(loaded: LoadedModel, examples: Sequence[Example], settings: TrainSettings, run_dir: Path,
               *, build_sha256: str, build_path: Path | None = None, resume: bool = False,
               progress: bool = True, retain: Sequence["Reply"] = (), retain_by: str | None = None) -> TrainResult:
    """Base model + train examples (+ general retain lessons: replies `retain_by` wrote) + settings
    → run_dir/{adapter/, train_log.jsonl, run.json} and the tuned PeftModel (the same in-memory
    model, wrapped; `disable_adapter()` gives the base back). resume=True continues run_dir from
    its newest complete checkpoint. Under a launcher (ranks.py) every rank trains its share and
    rank 0 alone writes the run's files."""
    run_dir = Path(run_dir)
    log_path, checkpoints = run_dir / "train_log.jsonl", run_dir / "checkpoints"
    if not examples:
        raise UsageError("the build's train split is empty: nothing to train on")
    main = join(on_cpu=loaded.device.type == "cpu").main
    resume_from = None
    if resume:
        check_resume(run_dir, build_sha256, settings)
        resume_from = last_complete_checkpoint(checkpoints, prune=main)
    run_dir.mkdir(parents=True, exist_ok=True)
    done_step = int(resume_from.name.rsplit("-", 1)[-1]) if resume_from else 0
    if main:
        kept = [row for row in _read_log(log_path) if row["step"] <= done_step]  # steps after it are redone
        log_path.write_text("".join(json.dumps(row) + "\n" for row in kept), encoding="utf-8")

    record = RunRecord(
        status="running", run_id=run_dir.name, build_sha256=build_sha256,
        # where `syllabus gate` finds the build (its gate block); absolute, so the run folder can move
        build_path=str(Path(build_path).resolve()) if build_path is not None else None,
        model=ModelRef(loaded.name, loaded.sha256, str(loaded.dtype).removeprefix("torch."), loaded.precision),
        device=str(loaded.device), settings=settings.to_json(), versions=_versions(), started_at=now_utc(),
        resumed_from_step=done_step if resume_from else None,
        retain_general=RetainRef(len(retain), retain_by) if retain else None,
        base=base_ref(loaded.name, loaded.sha256),  # what the adapter names as its base (portable.py)
    )
    if main:
        write_record(record, run_dir)
    try:
        return _fit(loaded, examples, settings, run_dir, record, resume_from, progress and main, retain)
    except TrainingInterrupted:
        raise  # run.json says "interrupted" already
    except Exception as exc:
        # Out of memory, a NaN, a full disk, a bug: the run is over, and run.json says why rather
        # than "running" forever. The error itself still reaches the caller.
        with suppress(OSError):  # a full disk must not hide the error that ended the run
            if main:
                write_record(record.ended("failed", f"{type(exc).__name__}: {exc}"), run_dir)
        raise


def _fit(loaded: LoadedModel, examples: Sequence[Example], settings: TrainSettings, run_dir: Path, record: RunRecord,
         resume_from: Path | None, progress: bool, retain: Sequence["Reply"]) -> TrainResult:
    """train_lora's work once run.json says "running": train, save the adapter, record the run complete."""
    from transformers import PrinterCallback, TrainingArguments, set_seed

    log_path, checkpoints = run_dir / "train_log.jsonl", run_dir / "checkpoints"
    encoded = [encode_example(loaded.tokenizer, ex, settings.max_length) for ex in examples]
    # A reply cut at its length bound is trained on without an eos: it must not teach stopping there.
    encoded += [encode_pair(loaded.tokenizer, r.prompt, r.text, settings.max_length, ends=r.finished) for r in retain]
    set_seed(settings.seed)  # LoRA init and dropout are seeded; the data order has its own generator
    model = _lora_model(loaded, settings)
    LoraTrainer, Watch = trainer_classes()
    meter = {"tokens": 0, "answer": 0}
    on_cpu = loaded.device.type == "cpu"
    args = TrainingArguments(**dict(
        output_dir=str(checkpoints), per_device_train_batch_size=settings.batch_size,
        num_train_epochs=settings.epochs, learning_rate=settings.lr, warmup_steps=settings.warmup_ratio,
        lr_scheduler_type="linear", optim="adamw_torch", weight_decay=0.0, max_grad_norm=1.0,
        logging_strategy="steps", logging_steps=1, save_strategy="steps", save_steps=settings.checkpoint_every,
        eval_strategy="no", report_to="none", disable_tqdm=True, log_level="error", seed=settings.seed,
        use_cpu=on_cpu, bf16=loaded.dtype == torch.bfloat16, dataloader_num_workers=0,
        dataloader_pin_memory=False, remove_unused_columns=False, average_tokens_across_devices=False,
        ddp_find_unused_parameters=False,
    ) | ({} if on_cpu else accelerator_args()))
    where = ranks()  # each rank its share of every epoch
    batches = batch_sampler([len(e.ids) for e in encoded], settings.batch_size, settings.tokens_per_batch,
                            settings.seed, on_cpu, where.rank, where.world)
    trainer = LoraTrainer(model=model, args=args, train_dataset=encoded, batches=batches, meter=meter, compute=loaded.compute,
                          data_collator=lambda rows: collate(rows, loaded.tokenizer.pad_token_id, positions=not on_cpu),
                          callbacks=[Watch(meter, log_path, progress)])
    trainer.remove_callback(PrinterCallback)

    start = time.perf_counter()
    with _sigterm_raises():
        try:
            trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
        except (TrainingInterrupted, KeyboardInterrupt):
            if ranks().main:
                write_record(record.ended("interrupted"), run_dir)
            raise TrainingInterrupted(
                f"training interrupted; continue it with `syllabus train BUILD --resume {run_dir}`") from None
    wall = time.perf_counter() - start
    model.eval()
    meter = {"tokens": total(meter["tokens"]), "answer": total(meter["answer"])}  # every rank's share
    adapter_dir = run_dir / "adapter"
    if not ranks().main:  # rank 0 writes the adapter and run.json; the others wait for it, then return
        barrier()
        return TrainResult(run_dir=run_dir, adapter_dir=adapter_dir, model=model, first_loss=math.nan,
                           final_loss=math.nan, tokens_per_s=meter["tokens"] / max(wall, 1e-9), wall_s=wall,
                           steps=trainer.state.global_step)

    tmp = run_dir / ".adapter.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    make_portable(tmp, loaded.tokenizer, record)  # base named for elsewhere, tokenizer beside it: before the hash
    shutil.rmtree(adapter_dir, ignore_errors=True)
    os.replace(tmp, adapter_dir)

    logged = _read_log(log_path)
    losses = [row["loss"] for row in logged]
    curve = tuple((int(row["step"]), round(float(row["loss"]), 6)) for row in logged)  # run.json's loss_curve
    tail = max(1, len(losses) // 10)
    first, final = (losses[0], sum(losses[-tail:]) / tail) if losses else (math.nan, math.nan)
    result = TrainResult(run_dir=run_dir, adapter_dir=adapter_dir, model=model, first_loss=first, final_loss=final,
                         tokens_per_s=meter["tokens"] / max(wall, 1e-9), wall_s=wall, steps=trainer.state.global_step)
    write_record(record.completed(Outcome(
        examples=len(examples), retain_lessons=len(retain), steps=result.steps, epochs=settings.epochs,
        wall_s=round(wall, 3), tokens=meter["tokens"], answer_tokens=meter["answer"],
        tokens_per_s=round(result.tokens_per_s, 2), answer_tokens_per_s=round(meter["answer"] / max(wall, 1e-9), 2),
        first_loss=first, final_loss=final, adapter="adapter",
        # what the gate recomputes before it trusts a score of this adapter (integrity.py)
        adapter_sha256=adapter_sha256(adapter_dir),
    ), loss_curve=curve), run_dir)
    shutil.rmtree(checkpoints, ignore_errors=True)  # the run is complete: the adapter is the artifact
    barrier()
    return result


@contextmanager
def _sigterm_raises():
    """SIGTERM raises TrainingInterrupted (main thread only), so run.json can say 'interrupted'."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise TrainingInterrupted("terminated")

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
