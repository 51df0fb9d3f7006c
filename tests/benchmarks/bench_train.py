"""Training speed: our train_lora vs a plain HF Trainer + peft, same data, same process.

    .venv/bin/python tests/benchmarks/bench_train.py [--steps 12] [--rounds 2] [--tiny]
        [--scale 50000] [--tokens-per-batch 16384] [--device cuda] [--peak-tflops 989]

Both arms train the same LoRA (spec settings of specs/blue_products.yaml) on the same
examples for the same number of optimizer steps from the same base model.
Baseline: examples tokenized the same way (loss on the answer only), batches in random
order padded to their longest row (DataCollatorForSeq2Seq), full logits and the model's
own loss, Trainer's default optimizer. Ours: length-grouped batches (on CUDA: token-budget
batches, fused AdamW, the loss read every 10 steps), one pass over each batch's shared prefix
(the system turn), logits only where a label is.

Prints useful tokens/s — the examples' non-pad tokens, and the loss-bearing (answer) tokens,
per second of `trainer.train()` — by the wall clock and per CPU-second (steadier on a shared
machine), and the ratio ours / baseline (target ≥ 1.5×). Arms alternate for --rounds rounds;
the best round of each arm counts. --tiny: a 2-layer random model on synthetic examples
(seconds; checks the harness, not the speed).

--scale N: a generated spec (N lessons: products × the founding forms, written into a temp
folder and compiled) so an accelerator is measured where it matters; batches of
--tokens-per-batch padded tokens (default 16384 on CUDA) for ours, and for the baseline that
many tokens' worth of rows (budget / mean row length). On CUDA it also prints ours against the
FLOP limit: LoRA trains ≈ 4·N FLOP per token (forward 2N, backward through the frozen weights
2N; no weight gradients but the adapter's, which are ≪ N), N the parameters a token passes
through (all but the input embedding), so tokens/s ≤ peak / 4N.

No checkpoint is saved in either arm (checkpoint_every > steps): `--steps 60` used to save one
at step 50 in ours only. A signal (a timeout's SIGTERM, Ctrl-C) ends the benchmark with the
rounds measured so far and never asks for a resume: its runs live in a temp folder.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
# Before torch loads OpenMP: idle threads sleep instead of spinning. On a CPU shared with other
# jobs, spinning threads made a 2-thread step 8-18x slower than a 1-thread one (measured).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from compiler.model import batching as B  # noqa: E402
from compiler.training import lora as T  # noqa: E402

# Dense bf16 tensor-core peaks (FLOP/s) from the vendors' data sheets, by a word of the device name.
PEAKS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12, "A10": 125e12}


class Counted:
    """A collator that also counts the answer (loss-bearing) tokens it hands out."""

    def __init__(self, collate):
        self.collate, self.answer = collate, 0

    def __call__(self, rows):
        batch = self.collate(rows)
        self.answer += int((batch["labels"] != B.IGNORE).sum())
        return batch


def baseline(loaded, examples, settings: T.TrainSettings, steps: int, out: Path) -> dict:
    """Plain Trainer + peft, pad-to-longest random batches → {tok_s, tok_cpu_s, answer_s, steps}."""
    from transformers import DataCollatorForSeq2Seq, PrinterCallback, Trainer, TrainingArguments, set_seed

    encoded = [B.encode_example(loaded.tokenizer, ex, settings.max_length) for ex in examples]
    rows = [{"input_ids": list(e.ids), "attention_mask": [1] * len(e.ids),
             "labels": [B.IGNORE] * e.n_prompt + list(e.ids[e.n_prompt :])} for e in encoded]
    batch_size = settings.batch_size
    if settings.tokens_per_batch:  # the same tokens per step as ours, in rows of the mean length
        batch_size = max(1, settings.tokens_per_batch * len(rows) // sum(len(r["input_ids"]) for r in rows))
    set_seed(settings.seed)
    model = T._lora_model(loaded, settings)
    args = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=batch_size, max_steps=steps,
        learning_rate=settings.lr, logging_steps=steps, save_strategy="no", report_to="none", disable_tqdm=True,
        use_cpu=loaded.device.type == "cpu", seed=settings.seed, include_num_input_tokens_seen="non_padding",
        bf16=loaded.dtype == torch.bfloat16,
        dataloader_num_workers=0, dataloader_pin_memory=False, remove_unused_columns=False, log_level="error",
    )
    collator = Counted(DataCollatorForSeq2Seq(loaded.tokenizer, padding="longest", label_pad_token_id=B.IGNORE))
    trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=collator)
    trainer.remove_callback(PrinterCallback)
    wall, cpu = time.perf_counter(), time.process_time()
    trainer.train()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    tokens = trainer.state.num_input_tokens_seen
    model.unload()  # give the base model back without LoRA layers for the next arm
    return {"tok_s": tokens / wall, "tok_cpu_s": tokens / cpu, "answer_s": collator.answer / wall,
            "steps": trainer.state.global_step, "batch": f"{batch_size} rows"}


def ours(loaded, examples, settings: T.TrainSettings, steps: int, out: Path) -> dict:
    """train_lora for exactly `steps` optimizer steps → {tok_s, tok_cpu_s, answer_s, steps}."""
    on_cpu = loaded.device.type == "cpu"
    encoded = [B.encode_example(loaded.tokenizer, ex, settings.max_length) for ex in examples]
    per_epoch = len(B.batch_sampler([len(e.ids) for e in encoded], settings.batch_size, settings.tokens_per_batch,
                                    settings.seed, on_cpu))
    # ceil(epochs × per_epoch) is Trainer's step count: half a step short of `steps` rounds up to it
    epochs = (steps - 0.5) / per_epoch
    cpu = time.process_time()
    result = T.train_lora(loaded, examples, T.TrainSettings(**{**settings.__dict__, "epochs": epochs}), out,
                          build_sha256="bench", progress=False)
    cpu = time.process_time() - cpu  # includes setup and the adapter save: slightly against us
    result.model.unload()
    record = json.loads((out / "run.json").read_text())
    batch = f"{settings.tokens_per_batch} tokens" if settings.tokens_per_batch else (
        f"{settings.batch_size} rows" if on_cpu else f"{settings.batch_size} × mean length tokens")
    return {"tok_s": result.tokens_per_s, "tok_cpu_s": record["tokens"] / cpu,
            "answer_s": record["answer_tokens"] / result.wall_s, "steps": result.steps, "batch": batch}


def scaled_examples(lessons: int, tmp: Path) -> list:
    """A generated blue_products-like spec with enough products for `lessons` train lessons,
    written into tmp and compiled → its train split, cut to `lessons` rows."""
    from compiler.build.read import read_build, read_split
    from compiler.pipeline import compile_spec

    def spec(products: int) -> dict:
        return {
            "syllabus": 1, "name": "bench-scale", "seed": 1,
            "lexicon": {
                "product": [{"name": f"widget {i}", "plural": f"widgets {i}"} for i in range(products)],
                "color": ["red", "green", "yellow", "white", "black", "orange", "purple", "brown"],
                "neighbour": [{"name": f"thing {i}", "color": ["red", "green"][i % 2]} for i in range(40)],
            },
            "rules": [{
                "id": "prefer-blue", "statement": "Prefer blue.", "subject": "product", "attribute": "color",
                "value": "blue", "distractors": "color", "forms": ["open", "yes_no", "either_or", "completion", "instruction"],
                "templates": {"open": ["What color is better for {{ product.plural }}?"]},
                "neighbours": {"subject": "neighbour", "answer": "{{ neighbour.color }}"},
            }],
            "splits": {"hold_out": {"forms": ["completion"]}, "leakage": {"max_ngram_share": 1.0, "max_exact": 10**9}},
            "limits": {"max_examples": 10**8},
        }

    def train_rows(products: int, name: str) -> list:
        path = tmp / f"{name}.yaml"
        path.write_text(json.dumps(spec(products)), encoding="utf-8")  # JSON is YAML
        return list(read_split(read_build(compile_spec(path, tmp / name).path), "train"))

    # lessons = fixed (the neighbours') + per product × products, measured on two small specs
    small, large = len(train_rows(20, "probe-20")), len(train_rows(40, "probe-40"))
    per_product = max(1.0, (large - small) / 20)
    products = max(20, math.ceil((lessons - (small - 20 * per_product)) / per_product * 1.05))
    rows = train_rows(products, "scale")
    if len(rows) < lessons:
        print(f"note: the generated spec gave {len(rows)} lessons, fewer than --scale {lessons}")
    return rows[:lessons]


def _scratch() -> Path:
    """A temp folder for the generated spec and builds, removed when the benchmark ends."""
    import atexit
    import shutil

    path = Path(tempfile.mkdtemp(prefix="bench-train-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _data(opts):
    if opts.tiny:
        from tests._tiny import tiny_examples, tiny_loaded

        torch.set_num_threads(1)
        loaded = tiny_loaded()
        if opts.scale:
            return loaded, scaled_examples(opts.scale, _scratch()), "tiny random llama"
        return loaded, tiny_examples() * 8, "tiny random llama, synthetic examples"
    from compiler.model.load import load_model

    device = opts.device or ("cuda" if torch.cuda.is_available() else "cpu")
    loaded = load_model("default", device=device)
    tmp = _scratch()
    if opts.scale:
        return loaded, scaled_examples(opts.scale, tmp), f"embedded SmolLM2-135M, generated spec ({opts.scale} lessons)"
    from compiler.build.read import read_build, read_split
    from compiler.pipeline import compile_spec

    build = read_build(compile_spec(ROOT / "specs" / "blue_products.yaml", tmp / "build").path)
    return loaded, read_split(build, "train"), "embedded SmolLM2-135M, blue_products train split"


def flop_limit(model, name: str, tok_s: float, peak: float | None) -> None:
    """Ours (tokens/s) on the device `name` against its FLOP limit, with the arithmetic."""
    embed = model.get_input_embeddings().weight.numel()
    n = sum(p.numel() for p in model.parameters()) - embed
    peak = peak or next((v for k, v in PEAKS.items() if k in name), None)
    if peak is None:
        print(f"FLOP limit: unknown peak for {name!r}; pass --peak-tflops")
        return
    per_token = 4 * n
    limit = peak / per_token
    print(f"FLOP limit ({name}): N = {n / 1e6:.1f}M parameters a token passes through (all {(n + embed) / 1e6:.1f}M "
          f"but the input embedding's {embed / 1e6:.1f}M; tied to the output layer, it runs only where a label is in "
          f"ours); LoRA ≈ 4N = {per_token / 1e6:.0f} MFLOP/token "
          f"(forward 2N + backward through frozen weights 2N); peak {peak / 1e12:.0f} TFLOP/s bf16 dense → "
          f"≤ {limit:,.0f} tokens/s")
    print(f"ours: {tok_s:,.0f} tokens/s = {tok_s / limit:.1%} of the limit ({tok_s * per_token / 1e12:.1f} TFLOP/s)")


def _stop(signum, frame):
    """SIGTERM (a timeout) ends the benchmark like Ctrl-C: what was measured stays printed."""
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per arm (default 12; tiny 40; scale 60)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--scale", type=int, default=None, help="lessons of a generated spec (e.g. 50000)")
    parser.add_argument("--tokens-per-batch", type=int, default=None, help="token budget per step (CUDA default 16384)")
    parser.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's bf16 peak (default: by name)")
    opts = parser.parse_args()
    steps = opts.steps or (40 if opts.tiny else 60 if opts.scale else 12)
    loaded, examples, what = _data(opts)
    from compiler.spec.model import Train

    budget = opts.tokens_per_batch or (16384 if opts.scale and loaded.device.type == "cuda" else None)
    settings = T.TrainSettings.from_spec(Train(lr=3e-4, tokens_per_batch=budget, checkpoint_every=10**6), seed=7)
    print(f"{what}: {len(examples)} examples, {steps} steps per arm, {torch.get_num_threads()} threads, "
          f"device {loaded.device} ({loaded.precision})")
    best: dict[str, dict] = {}
    signal.signal(signal.SIGTERM, _stop)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(opts.rounds):
                for name, arm in (("baseline", baseline), ("ours", ours)):
                    got = arm(loaded, examples, settings, steps, Path(tmp) / f"{name}-{r}")
                    assert got["steps"] == steps, (name, got["steps"])
                    print(f"  round {r + 1} {name:8s} {got['tok_s']:10.1f} tok/s wall {got['tok_cpu_s']:10.1f} tok/CPU-s "
                          f"{got['answer_s']:9.1f} answer tok/s  (batches of {got['batch']})", flush=True)
                    old = best.get(name)
                    best[name] = got if old is None or got["tok_s"] > old["tok_s"] else old
    except (KeyboardInterrupt, T.TrainingInterrupted):
        print("stopped by a signal: the rounds above are all that was measured (a benchmark has nothing to resume)")
        raise SystemExit(130) from None
    b, o = best["baseline"], best["ours"]
    print(f"best: baseline {b['tok_s']:.1f} tok/s ({b['tok_cpu_s']:.1f} tok/CPU-s, {b['answer_s']:.1f} answer tok/s) · "
          f"ours {o['tok_s']:.1f} tok/s ({o['tok_cpu_s']:.1f} tok/CPU-s, {o['answer_s']:.1f} answer tok/s)")
    print(f"ratio ours/baseline: {o['tok_s'] / b['tok_s']:.2f}x wall, {o['tok_cpu_s'] / b['tok_cpu_s']:.2f}x per "
          f"CPU-second, {o['answer_s'] / b['answer_s']:.2f}x answer tokens (target >= 1.5x)")
    if loaded.device.type == "cuda":
        flop_limit(loaded.model, torch.cuda.get_device_name(loaded.device), o["tok_s"],
                   opts.peak_tflops * 1e12 if opts.peak_tflops else None)


if __name__ == "__main__":
    main()
