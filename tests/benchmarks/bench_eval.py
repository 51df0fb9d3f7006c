"""Evaluation speed: our in-process scoring of one arm vs the plain `lm_eval` command line.

    .venv/bin/python tests/benchmarks/bench_eval.py [--limit N] [--build DIR] [--model default]
                                                    [--stock] [--skip-cli] [--arms base,prompted,tuned]

Both sides score the same build's tasks (mc + gen readings, chat template) with the same
model, back to back: ours is `evaluate_arm` with the model already loaded; the baseline
is `lm_eval --model hf --model_args pretrained=<model folder> --include_path <build>/tasks
--tasks <group> --apply_chat_template` run as a subprocess (for "default": the syllabus
model cache folder of the dequantized SmolLM2). `--stock` also times lm-eval's own HFLM
in this process on the same tasks, which separates the engine's gain from the start-up
the command line pays. Prints wall and CPU seconds, the ratio ours / lm_eval (target
≤ 0.5×), and whether the accuracies agree. `--arms` times a whole evaluation (e.g.
base,prompted on the untuned model; tuned needs an adapter and is skipped here).

Measured on the shared 2-core dev box (load average ≈ 3.5, so this process got about one
core), SmolLM2-135M, blue-products (490 scored items, batch 32), both readings:
  full, base arm:  ours 99.4 s wall / 96.9 s CPU, lm_eval 359.3 s / 340.2 s → 0.28×;
                   15 404 tokens through the model, 85 forwards, all 1 496 mc answers
                   scored during generation; accuracies identical on all 8 tasks
  --limit 32:      ours 33.6 s, lm-eval's HFLM in process 77.5 s (0.43×), lm_eval 114.7 s (0.29×)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from compiler.build.read import read_build  # noqa: E402
from compiler.evaluation.arms import _quiet, evaluate_arm, load_tasks  # noqa: E402


def _clock() -> tuple[float, float]:
    """(wall, CPU of this process and its finished children) in seconds."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter(), me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _since(t0: tuple[float, float]) -> tuple[float, float]:
    t1 = _clock()
    return t1[0] - t0[0], t1[1] - t0[1]


def model_folder(name: str) -> Path:
    """A model name → the local folder `lm_eval --model_args pretrained=` can read."""
    if name != "default":
        path = Path(name)  # a folder made absolute (lm_eval runs in another working directory), or a hub id
        return path.resolve() if path.exists() else path
    from compiler.model.embedded import dequantized_cache, embedded_gguf, file_sha256

    gguf = embedded_gguf()
    return dequantized_cache(gguf, file_sha256(gguf))


def ensure_build(path: Path | None, tmp: Path) -> Path:
    """--build (made absolute: lm_eval runs in another working directory, where a relative
    --include_path finds no tasks) or, without one, blue_products compiled into tmp."""
    if path is not None:
        return path.resolve()
    from compiler.pipeline import compile_spec

    return compile_spec(ROOT / "specs" / "blue_products.yaml", tmp / "blue-products").path


def run_cli(build, folder: Path, limit: int | None, batch_size: int, out: Path, system: str | None) -> dict[str, float]:
    """The plain command line on the build's group → {task: acc}."""
    cmd = [
        str(Path(sys.executable).parent / "lm_eval"), "--model", "hf",
        "--model_args", f"pretrained={folder},dtype=float32",
        "--include_path", str(build.path / "tasks"), "--tasks", build.manifest.group,
        "--apply_chat_template", "--batch_size", str(batch_size), "--device", "cpu",
        "--output_path", str(out),
    ] + (["--limit", str(limit)] if limit is not None else []) + (["--system_instruction", system] if system else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=out.parent)
    if proc.returncode != 0:
        raise SystemExit(f"lm_eval failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    found = sorted(out.rglob("results_*.json"))
    doc = json.loads(found[-1].read_text())
    return {task: float(v["acc,none"]) for task, v in doc["results"].items() if "acc,none" in v}


def run_stock(loaded, build, limit: int | None, batch_size: int, system: str | None) -> dict[str, float]:
    """lm-eval's own HFLM, in this process, same tasks → {task: acc}."""
    from lm_eval import evaluator
    from lm_eval.models.huggingface import HFLM

    tasks = load_tasks(build, ("mc", "gen"))
    with _quiet():
        lm = HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=batch_size)
        out = evaluator.evaluate(
            lm=lm, task_dict=tasks.task_dict(), limit=limit, bootstrap_iters=0, log_samples=False,
            apply_chat_template=True, fewshot_as_multiturn=False, system_instruction=system,
        )
    return {task: float(v["acc,none"]) for task, v in out["results"].items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="items per split (default: all)")
    ap.add_argument("--build", type=Path, default=None, help="a build folder (default: compile blue_products)")
    ap.add_argument("--model", default="default")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--arms", default="base", help="comma-separated arms timed as one evaluation")
    ap.add_argument("--stock", action="store_true", help="also time lm-eval's HFLM in this process")
    ap.add_argument("--skip-cli", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    from compiler.model.load import load_model

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        build = read_build(ensure_build(args.build, tmp))
        batch_size = args.batch_size or build.spec.eval.batch_size
        t0 = _clock()
        loaded = load_model(args.model, "cpu")
        folder = model_folder(args.model)
        print(f"model {args.model} ({folder}) loaded in {_since(t0)[0]:.1f} s; build {build.path.name}: "
              + ", ".join(f"{s} {n}" for s, n in build.manifest.counts.items()) + f"; limit {args.limit}; batch {batch_size}")

        ours: dict[str, float] = {}
        arms = [a for a in args.arms.split(",") if a != "tuned"]
        t0 = _clock()
        from compiler.evaluation.arms import _lm

        tasks = load_tasks(build, ("mc", "gen"))
        lm = _lm(loaded.model, loaded.tokenizer, batch_size, False)
        for arm in arms:
            result = evaluate_arm(
                loaded.model, loaded.tokenizer, build, arm, readings=("mc", "gen"), limit=args.limit,
                batch_size=batch_size, progress=False, tasks=tasks, lm=lm,
            )
            if arm == "base":
                for s in result.scores:
                    names = build.manifest.tasks[s.split]
                    ours[names.mc if s.reading == "mc" else names.gen] = s.acc
        wall, cpu = _since(t0)
        print(f"ours    ({'+'.join(arms)}): {wall:7.1f} s wall  {cpu:7.1f} s CPU   model tokens {lm.stats['tokens']}, "
              f"forwards {lm.stats['forwards']}, mc answers reused from gen {lm.stats['reused']}")

        if args.stock:
            t0 = _clock()
            stock = {}
            for arm in arms:
                got = run_stock(loaded, build, args.limit, batch_size, _system(build, arm))
                stock = stock or got
            s_wall, s_cpu = _since(t0)
            print(f"HFLM    (in process)  : {s_wall:7.1f} s wall  {s_cpu:7.1f} s CPU   ratio ours/HFLM "
                  f"{wall / s_wall:.2f}× wall, {cpu / s_cpu:.2f}× CPU")
            _agree("HFLM", ours, stock)

        if not args.skip_cli:
            t0 = _clock()
            cli = {}
            for arm in arms:
                got = run_cli(build, folder, args.limit, batch_size, tmp / f"cli-{arm}", _system(build, arm))
                cli = cli or got
            c_wall, c_cpu = _since(t0)
            print(f"lm_eval (command line): {c_wall:7.1f} s wall  {c_cpu:7.1f} s CPU   ratio ours/lm_eval "
                  f"{wall / c_wall:.2f}× wall, {cpu / c_cpu:.2f}× CPU (target ≤ 0.5×)")
            _agree("lm_eval", ours, cli)


def _system(build, arm: str) -> str | None:
    return build.manifest.system_prompt if arm == "prompted" else None


def _agree(label: str, ours: dict[str, float], theirs: dict[str, float]) -> None:
    diffs = {t: (ours[t], theirs.get(t)) for t in ours if theirs.get(t) is None or abs(ours[t] - theirs[t]) > 1e-9}
    print(f"accuracy vs {label}: " + ("identical on all tasks" if not diffs else f"differs on {diffs}"))


if __name__ == "__main__":
    main()
