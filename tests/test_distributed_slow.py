"""Many processes, one run (training/ranks.py): `torchrun --nproc_per_node 2 -m compiler.cli train`
on CPU (gloo) with a tiny random model on a compiled build. The first launch is stopped (SIGTERM
to torchrun) once a checkpoint counts; `--resume` under torchrun finishes it: exactly one run
folder, a loadable adapter, and the two ranks trained on disjoint halves of the data (the step
count is half a single process's; the tokens both ranks counted after the resume are each row of
their shards' remaining batches once)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._tiny import save_tiny
from tests.conftest import ROOT, SPECS

pytestmark = pytest.mark.slow

# The first launch runs the CLI with a slowed loss, so SIGTERM finds it mid-epoch.
SLOW_CLI = """
import sys, time
import compiler.training.trainer as T
fast = T.batch_loss
def slow(model, batch):
    time.sleep(0.25)
    return fast(model, batch)
T.batch_loss = slow
from compiler.cli import main
main()
"""


def _torchrun(target: list[str], args: list[str], env: dict) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *target, *args]


def test_torchrun_two_ranks_train_disjoint_halves_into_one_resumable_run(tmp_path):
    from compiler.build.read import read_build, read_split
    from compiler.model.batching import LengthGroupedBatches, encode_example
    from compiler.pipeline import compile_spec

    spec = tmp_path / "spec.yaml"  # checkpoints every 3 steps, so one counts early
    spec.write_text((SPECS / "product_names.yaml").read_text(encoding="utf-8") + "\ntrain: {checkpoint_every: 3}\n",
                    encoding="utf-8")
    build = compile_spec(spec, tmp_path / "build").path
    model_dir = save_tiny(tmp_path / "tiny-model")
    runs = tmp_path / "runs"
    env = {**os.environ, "SYLLABUS_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1",
           "OMP_WAIT_POLICY": "PASSIVE", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT)}
    args = ["train", str(build), "--model", str(model_dir), "--epochs", "1", "--batch-size", "8", "--device", "cpu",
            "--runs", str(runs)]
    script = tmp_path / "slow_cli.py"
    script.write_text(SLOW_CLI, encoding="utf-8")

    first = subprocess.Popen(_torchrun([str(script)], args, env), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(runs.glob("*/checkpoints/checkpoint-*/COMPLETE")) and first.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.2)
    first.send_signal(signal.SIGTERM)  # torchrun passes it on to both ranks
    _, err = first.communicate(timeout=60)
    assert first.returncode != 0, "the first launch was meant to be stopped mid-epoch"
    folders = list(runs.iterdir())
    assert len(folders) == 1, folders  # rank 1 made no folder of its own
    run_dir = folders[0]
    assert json.loads((run_dir / "run.json").read_text())["status"] in ("interrupted", "failed"), err[-3000:]

    done = subprocess.run(_torchrun(["-m", "compiler.cli"], [*args, "--resume", str(run_dir)], env), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-4000:]
    assert list(runs.iterdir()) == [run_dir]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "complete" and record["resumed_from_step"] > 0
    assert not (run_dir / "checkpoints").exists()

    # What each rank was given: the sampler's shards of the one seeded epoch.
    loaded = read_build(build)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    max_length, seed = loaded.spec.train.max_length, loaded.spec.seed
    lengths = [len(encode_example(tokenizer, ex, max_length).ids) for ex in read_split(loaded, "train")]
    shards = [list(LengthGroupedBatches(lengths, 8, seed, rank, 2)) for rank in (0, 1)]
    rows = [{i for batch in shard for i in batch} for shard in shards]
    assert not rows[0] & rows[1] and len(shards[0]) == len(shards[1])
    assert record["steps"] == len(shards[0]) == math.ceil(len(lengths) / 8) // 2  # half a single process's steps
    # tokens counted after the resume, summed over the ranks: each rank skipped the batches it had
    # trained on and ran the rest of its own shard (a rank that trained on all rows counts ~2×)
    skip = record["resumed_from_step"]
    assert record["tokens"] == sum(lengths[i] for shard in shards for batch in shard[skip:] for i in batch)

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir), str(run_dir / "adapter"))
    assert any("lora_" in name for name, _ in tuned.named_parameters())
