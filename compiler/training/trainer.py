"""The Hugging Face Trainer as syllabus drives it: a Trainer subclass over syllabus's own batches
and loss, the callback that writes train_log.jsonl and makes a checkpoint count (its COMPLETE
marker), and the TrainingArguments a CUDA run adds. lora.py sets them up and runs them.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..integrity import write_atomic
from ..model.batching import batch_loss
from .ranks import barrier

if TYPE_CHECKING:  # pragma: no cover
    from ..model.batching import LengthGroupedBatches, TokenBudgetBatches

COMPLETE = "COMPLETE"  # written last into a checkpoint folder: the checkpoint now counts
LOSS_EVERY = 10  # steps between reads of the loss on CUDA (each read waits for the device)


def trainer_classes():
    """Trainer subclass + callback, built lazily: importing transformers.Trainer costs seconds."""
    from tqdm.auto import tqdm

    from ..progress import show_bars
    from transformers import Trainer, TrainerCallback

    class LoraTrainer(Trainer):
        def __init__(self, *args, batches: "LengthGroupedBatches | TokenBudgetBatches", meter: dict, compute, **kwargs):
            super().__init__(*args, **kwargs)
            self.batches, self.meter, self.compute, self.loss_is_scaled_for_ga = batches, meter, compute, False

        def get_train_dataloader(self):
            return EpochLoader(self.train_dataset, batch_sampler=self.batches, collate_fn=self.data_collator)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            self.meter["tokens"] += inputs.pop("n_tokens")
            self.meter["answer"] += inputs.pop("n_answer")
            with self.compute():  # bf16 products on a CPU with native bf16 (model/load.py); per step, so
                loss = batch_loss(model, inputs)  # autocast's copies of the LoRA weights never go stale
            return (loss, None) if return_outputs else loss

    class Watch(TrainerCallback):
        """Progress bar, train_log.jsonl, and the COMPLETE marker that makes a checkpoint count."""

        def __init__(self, meter: dict, log_path: Path, progress: bool):
            self.meter, self.log_path, self.progress, self.bar = meter, log_path, progress, None

        def on_train_begin(self, args, state, control, **kw):
            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc="train", unit="step",
                            disable=not (self.progress and show_bars()), dynamic_ncols=True)
            self.mark = (time.perf_counter(), self.meter["tokens"])

        def on_step_end(self, args, state, control, **kw):
            self.bar.update(1)

        def on_log(self, args, state, control, logs=None, **kw):
            if not logs or "loss" not in logs or not state.is_world_process_zero:  # rank 0 writes the log
                return
            now, tokens = time.perf_counter(), self.meter["tokens"]
            rate = (tokens - self.mark[1]) / max(now - self.mark[0], 1e-9)
            self.mark = (now, tokens)
            line = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4), "loss": logs["loss"],
                    "lr": logs.get("learning_rate"), "grad_norm": logs.get("grad_norm"), "tokens_per_s": round(rate, 1)}
            with self.log_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(line) + "\n")
            self.bar.set_postfix(loss=f"{logs['loss']:.4f}", tok_s=f"{rate:.0f}", epoch=f"{line['epoch']:.2f}")

        def on_save(self, args, state, control, **kw):
            barrier()  # every rank has written its part (its RNG state) before the checkpoint counts
            if not state.is_world_process_zero:
                return
            done = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            write_atomic(done / COMPLETE, f"{state.global_step}\n")  # written last: the checkpoint now counts
            for old in Path(args.output_dir).glob("checkpoint-*"):
                if old != done:
                    shutil.rmtree(old, ignore_errors=True)

        def on_train_end(self, args, state, control, **kw):
            self.bar.close()

    return LoraTrainer, Watch


class EpochLoader(torch.utils.data.DataLoader):
    """A DataLoader whose set_epoch reaches the batch sampler (Trainer calls it per epoch)."""

    def set_epoch(self, epoch: int) -> None:
        self.batch_sampler.set_epoch(epoch)


def accelerator_args() -> dict:
    """TrainingArguments for CUDA (a CPU run keeps the founding recipe's exactly): fused AdamW;
    the loss read back every LOSS_EVERY steps, not each (reading it, and the non-finite-loss
    filter's check, make the host wait for the device every step); pinned batches;
    torch.compile when SYLLABUS_COMPILE=1 (it compiles per batch shape: worth it on long runs)."""
    return {"optim": "adamw_torch_fused", "logging_steps": LOSS_EVERY, "logging_nan_inf_filter": False,
            "dataloader_pin_memory": True, "torch_compile": os.environ.get("SYLLABUS_COMPILE", "") == "1"}
