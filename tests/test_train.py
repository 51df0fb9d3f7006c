"""LoRA training on a tiny random Llama built in-process (seconds, no download)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests._tiny import save_tiny, tiny_examples, tiny_loaded
from compiler.training import lora as T
from compiler.training import record as R
from compiler.errors import UsageError
from compiler.spec.model import Train

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FAST = dict(epochs=10, lr=1e-2, batch_size=4, checkpoint_every=1000, seed=3)


@pytest.fixture(autouse=True)
def one_thread():
    # A 2-layer model is all overhead: extra threads only wait on each other on a busy machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _train(run_dir: Path, **kw) -> T.TrainResult:
    settings = T.TrainSettings(**{**FAST, **kw})
    return T.train_lora(tiny_loaded(), tiny_examples(), settings, run_dir, build_sha256="b" * 64, progress=False)


def test_loss_falls_and_run_files_are_written(tmp_path):
    result = _train(tmp_path / "run")
    assert result.steps == 80 and result.final_loss < 0.3 * result.first_loss
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log] == list(range(1, 81))
    assert {"step", "epoch", "loss", "lr", "tokens_per_s"} <= set(log[0])
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["status"] == "complete" and record["build_sha256"] == "b" * 64
    assert record["model"] == {"name": "tiny", "sha256": "0" * 64, "dtype": "float32", "precision": "fp32"}
    assert record["settings"]["lr"] == 1e-2 and record["steps"] == 80 and record["tokens_per_s"] > 0
    assert set(record["versions"]) >= {"torch", "transformers", "peft", "syllabus"}
    assert record["first_loss"] == log[0]["loss"] and record["device"] == "cpu"
    # the loss history the report draws: every logged step, as train_log.jsonl has it
    assert record["loss_curve"] == [[row["step"], round(row["loss"], 6)] for row in log]
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_adapter_reloads_with_identical_outputs_and_disables_to_the_base(tmp_path):
    from peft import PeftModel

    result = _train(tmp_path / "run", epochs=2)
    ids = torch.tensor([[2, 10, 11, 12, 13, 3]])
    reloaded = PeftModel.from_pretrained(tiny_loaded().model, result.adapter_dir).eval()
    with torch.no_grad():
        tuned = result.model(input_ids=ids).logits
        assert torch.equal(reloaded(input_ids=ids).logits, tuned)
        with result.model.disable_adapter():
            base = result.model(input_ids=ids).logits
        assert torch.allclose(base, tiny_loaded().model(input_ids=ids).logits, atol=1e-6)
        assert not torch.allclose(base, tuned, atol=1e-3)


def test_settings_from_spec_and_overrides():
    spec_train = Train(epochs=3, lr=3e-4, lora={"r": 8, "alpha": 16})
    s = T.TrainSettings.from_spec(spec_train, seed=7)
    assert (s.epochs, s.lr, s.lora_r, s.lora_alpha, s.seed, s.model) == (3.0, 3e-4, 8, 16, 7, "default")
    s = T.TrainSettings.from_spec(spec_train, seed=7, epochs=1, lr=1e-3, rank=4, batch_size=2, model="m", device="cpu")
    assert (s.epochs, s.lr, s.lora_r, s.lora_alpha, s.batch_size, s.model, s.device) == (1.0, 1e-3, 4, 16, 2, "m", "cpu")
    with pytest.raises(UsageError, match="--epochs"):
        T.TrainSettings.from_spec(spec_train, seed=7, epochs=0)
    # overrides meet the bounds the spec has for the same fields (spec/model.Train), not a looser copy
    with pytest.raises(UsageError, match=r"--epochs 1000000000\.0: Input should be less than or equal to 1000"):
        T.TrainSettings.from_spec(spec_train, seed=7, epochs=1e9)
    with pytest.raises(UsageError, match=r"--rank 1000: Input should be less than or equal to 512"):
        T.TrainSettings.from_spec(spec_train, seed=7, rank=1000)


def test_incomplete_checkpoints_are_never_picked(tmp_path):
    ck = tmp_path / "checkpoints"
    for step, complete in ((5, True), (10, True), (15, False)):
        (ck / f"checkpoint-{step}").mkdir(parents=True)
        if complete:
            (ck / f"checkpoint-{step}" / T.COMPLETE).write_text("x")
    assert T.last_complete_checkpoint(ck) == ck / "checkpoint-10"
    assert (ck / "checkpoint-15").exists()
    assert T.last_complete_checkpoint(ck, prune=True) == ck / "checkpoint-10"
    assert not (ck / "checkpoint-15").exists()
    assert T.last_complete_checkpoint(tmp_path / "none") is None


def _slow_driver(run_dir: Path) -> str:
    return f"""
import sys, time, torch
from pathlib import Path
sys.path.insert(0, {str(ROOT)!r})
torch.set_num_threads(1)
from tests._tiny import tiny_examples, tiny_loaded
import compiler.training.lora as T
import compiler.training.trainer as TR
fast_loss = TR.batch_loss
def slow_loss(model, batch):
    time.sleep(0.05)  # slow enough that the test kills it between checkpoints
    return fast_loss(model, batch)
TR.batch_loss = slow_loss
settings = T.TrainSettings(**{dict(FAST, checkpoint_every=4)!r})
T.train_lora(tiny_loaded(), tiny_examples(), settings, Path({str(run_dir)!r}), build_sha256="b" * 64, progress=False)
"""


def test_sigkilled_run_resumes_from_its_last_complete_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", _slow_driver(run_dir)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not list(run_dir.glob("checkpoints/checkpoint-*/COMPLETE")):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"
    # A kill mid-write leaves a checkpoint folder without its marker: it must not be picked.
    (run_dir / "checkpoints" / "checkpoint-999").mkdir()
    (run_dir / "checkpoints" / "checkpoint-999" / "adapter_model.safetensors").write_bytes(b"half")
    complete = T.last_complete_checkpoint(run_dir / "checkpoints")
    with (run_dir / "train_log.jsonl").open("a") as fh:
        fh.write('{"step": 99, "lo')  # a log line cut short by the kill

    settings = T.TrainSettings(**dict(FAST, checkpoint_every=4))
    result = T.train_lora(tiny_loaded(), tiny_examples(), settings, run_dir, build_sha256="b" * 64, resume=True,
                          progress=False)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "complete" and record["resumed_from_step"] == int(complete.name.split("-")[1]) > 0
    steps = [json.loads(line)["step"] for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 81)) and result.steps == 80
    assert result.final_loss < 0.3 * result.first_loss


def test_sigterm_marks_the_run_interrupted_and_resume_finishes_it(tmp_path, monkeypatch):
    calls = []
    from compiler.training import trainer as TR

    fast_loss = TR.batch_loss

    def terminate_at_step_10(model, batch):
        calls.append(1)
        if len(calls) == 10:
            os.kill(os.getpid(), signal.SIGTERM)
        return fast_loss(model, batch)

    monkeypatch.setattr(TR, "batch_loss", terminate_at_step_10)
    with pytest.raises(T.TrainingInterrupted, match="--resume"):
        _train(tmp_path / "run", checkpoint_every=4)
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "interrupted"
    assert signal.getsignal(signal.SIGTERM) is not None  # our handler was removed again
    monkeypatch.setattr(TR, "batch_loss", fast_loss)
    settings = T.TrainSettings(**dict(FAST, checkpoint_every=4))
    T.train_lora(tiny_loaded(), tiny_examples(), settings, tmp_path / "run", build_sha256="b" * 64, resume=True,
                 progress=False)
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["status"] == "complete" and record["resumed_from_step"] == 8


def test_resume_refuses_another_build_other_settings_or_a_finished_run(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    settings = T.TrainSettings(**FAST)
    record = R.RunRecord(status="interrupted", run_id="run", build_sha256="b" * 64, build_path=None,
                         model=R.ModelRef("tiny", "a" * 64, "float32", "fp32"), device="cpu",
                         settings=settings.to_json(), versions={}, started_at=R.now())
    R.write_record(record, run_dir)
    T.check_resume(run_dir, "b" * 64, settings)
    T.check_resume(run_dir, "b" * 64, T.TrainSettings(**FAST, device="cpu"))  # the device may change
    with pytest.raises(UsageError, match="another build"):
        T.check_resume(run_dir, "c" * 64, settings)
    with pytest.raises(UsageError, match="lr"):
        T.check_resume(run_dir, "b" * 64, T.TrainSettings(**{**FAST, "lr": 1.0}))
    done = R.Outcome(examples=1, retain_lessons=0, steps=1, epochs=1, wall_s=1.0, tokens=1, answer_tokens=1,
                     tokens_per_s=1.0, answer_tokens_per_s=1.0, first_loss=1.0, final_loss=1.0, adapter="adapter",
                     adapter_sha256="d" * 64)
    completed = record.completed(done)
    R.write_record(completed, run_dir)
    assert R.read_record(run_dir) == completed  # run.json is RunRecord's one codec: it reads back equal
    with pytest.raises(UsageError, match="already complete"):
        T.check_resume(run_dir, "b" * 64, settings)
    with pytest.raises(UsageError, match="not a run folder"):
        T.check_resume(tmp_path, "b" * 64, settings)


def test_train_refuses_a_model_that_already_has_an_adapter(tmp_path):
    result = _train(tmp_path / "run", epochs=1)
    loaded = tiny_loaded()
    wrapped = T.LoadedModel(model=result.model, tokenizer=loaded.tokenizer, name="tiny", sha256="0",
                            device=loaded.device, dtype=loaded.dtype)
    with pytest.raises(UsageError, match="already carries an adapter"):
        T.train_lora(wrapped, tiny_examples(), T.TrainSettings(**FAST), tmp_path / "again", build_sha256="b")


def test_cli_train_on_a_compiled_build(blue_build, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from compiler.build.read import read_build
    from compiler.cli import main

    monkeypatch.setenv("SYLLABUS_CACHE", str(tmp_path / "cache"))
    model_dir = save_tiny(tmp_path / "tiny-model")
    runs = tmp_path / "runs"
    args = ["train", str(blue_build), "--model", str(model_dir), "--epochs", "0.25", "--batch-size", "16",
            "--device", "cpu", "--runs", str(runs)]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    run_dir = Path(out.stdout.strip().splitlines()[-1])
    assert run_dir.parent == runs and re.fullmatch(r"blue-products-\d{8}-\d{6}", run_dir.name)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["build_sha256"] == read_build(blue_build).manifest.sha256 and record["status"] == "complete"
    assert record["model"]["name"] == str(model_dir) and len(record["model"]["sha256"]) == 64
    assert (run_dir / "adapter" / "adapter_config.json").is_file()

    again = CliRunner().invoke(main, args + ["--resume", str(run_dir)])
    assert again.exit_code == 2 and "already complete" in again.output


def test_same_seed_same_adapter(tmp_path):
    from safetensors.torch import load_file

    a, b = _train(tmp_path / "a", epochs=2), _train(tmp_path / "b", epochs=2)
    wa = load_file(a.adapter_dir / "adapter_model.safetensors")
    wb = load_file(b.adapter_dir / "adapter_model.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    c = _train(tmp_path / "c", epochs=2, seed=4)
    wc = load_file(c.adapter_dir / "adapter_model.safetensors")
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_trains_in_bf16_on_cuda(tmp_path):
    loaded = tiny_loaded()
    cuda = T.LoadedModel(model=loaded.model.to("cuda", torch.bfloat16), tokenizer=loaded.tokenizer, name="tiny",
                         sha256="0" * 64, device=torch.device("cuda"), dtype=torch.bfloat16)
    result = T.train_lora(cuda, tiny_examples(), T.TrainSettings(**FAST), tmp_path / "run", build_sha256="b",
                          progress=False)
    assert result.final_loss < 0.3 * result.first_loss
    assert json.loads((tmp_path / "run" / "run.json").read_text())["model"]["dtype"] == "bfloat16"


def test_layer_span_adapts_only_its_layers(tmp_path):
    def trained(run: str, span: tuple[float, float]) -> list[str]:
        result = _train(tmp_path / run, epochs=1, lora_layers=span)
        return [n for n, p in result.model.named_parameters() if p.requires_grad]

    upper = trained("upper", (0.5, 1.0))
    assert upper and all(".layers.1." in n for n in upper), upper  # the tiny model has layers 0 and 1
    every = trained("every", (0.0, 1.0))
    assert any(".layers.0." in n for n in every) and len(every) == 2 * len(upper)


def test_adapted_layers_as_fractions_of_depth():
    assert T.adapted_layers(30, 0.13, 0.53) == list(range(4, 16))  # 3.9 <= i < 15.9
    assert T.adapted_layers(30, 0.5, 1.0) == list(range(15, 30))
    assert T.adapted_layers(30, 0.0, 1.0) == list(range(30))
    # a span between the layers of a shallow model still adapts the one nearest its middle
    assert T.adapted_layers(2, 0.13, 0.4) == [0] and T.adapted_layers(2, 0.6, 0.9) == [1]
    assert T.adapted_layers(1, 0.5, 0.9) == [0]


def test_retain_lessons_join_the_examples_and_a_cut_reply_teaches_no_stop(tmp_path):
    from compiler.model.batching import encode_pair
    from compiler.training.replies import Reply

    tok = tiny_loaded().tokenizer
    retain = [Reply("What color is the banana ?", "yellow", 1, True), Reply("Is the lawn green ?", "yes , the lawn", 3, False)]
    settings = T.TrainSettings(**{**FAST, "epochs": 1})
    T.train_lora(tiny_loaded(), tiny_examples(), settings, tmp_path / "run", build_sha256="b" * 64, progress=False,
                 retain=retain, retain_by="tiny")
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["examples"] == len(tiny_examples()) and record["retain_lessons"] == 2
    assert record["retain_general"] == {"lessons": 2, "written_by": "tiny"}
    # steps: (examples + retain lessons) / batch size of 4, rounded up
    assert record["steps"] == -(-(len(tiny_examples()) + 2) // 4)
    ended, cut = (encode_pair(tok, r.prompt, r.text, 256, ends=r.finished) for r in retain)
    assert ended.ids[-1] == tok.eos_token_id and cut.ids[-1] != tok.eos_token_id


def test_cli_train_has_a_teacher_write_the_retain_replies(tmp_path, monkeypatch):
    """retain.general.teacher: another model writes the retain lessons' replies (the same cached
    path as self-distillation); `syllabus train` then trains the base on them."""
    from click.testing import CliRunner

    from compiler.cli import main
    from compiler.pipeline import compile_spec

    monkeypatch.setenv("SYLLABUS_CACHE", str(tmp_path / "cache"))
    base_dir, teacher_dir = save_tiny(tmp_path / "base"), save_tiny(tmp_path / "teacher", seed=5)
    import yaml

    doc = yaml.safe_load((ROOT / "specs" / "blue_products.yaml").read_text())
    doc["retain"] = {"general": {"share": 0.05, "test_size": 4, "max_new_tokens": 8, "teacher": str(teacher_dir)}}
    spec = tmp_path / "blue.yaml"
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    build = compile_spec(spec, tmp_path / "build").path
    args = ["train", str(build), "--model", str(base_dir), "--epochs", "0.05", "--batch-size", "16", "--device", "cpu",
            "--runs", str(tmp_path / "runs")]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    assert "retain replies by teacher" in out.output and "written, 0 from the cache" in out.output
    record = json.loads((Path(out.stdout.strip().splitlines()[-1]) / "run.json").read_text())
    assert record["retain_general"]["written_by"] == str(teacher_dir) and record["retain_lessons"] > 0
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and ": 0 written" in again.output  # the teacher's replies come from the cache
