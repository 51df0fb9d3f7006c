"""compiler.evaluation.commands: the `lm_eval run …` line each arm records reproduces syllabus's
per-item results with plain lm-eval.

A tiny random model and adapter are saved as folders (what `--model PATH` and runs/<id>/adapter
are), syllabus scores base, prompted and tuned through `evaluate_arms` (the fast engine), and
each arm's recorded command line is then run through lm-eval's own CLI (its argument parser and
its `run` command, in this process: the same code as the `lm_eval` program, without a second
start of torch). Every item of every split must come out the same under both readings: mc
correct or not, and the gen reading's reply, word for word."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import _evalkit as evalkit
from compiler.build.read import read_build
from compiler.evaluation import commands
from compiler.evaluation.arms import evaluate_arms
from compiler.build.commands import LmEvalCall, command_templates, lm_eval_argv, lm_eval_command, model_args
from compiler.evaluation.commands import arm_call
from compiler.evaluation.results import read_arm
from compiler.integrity import adapter_sha256
from compiler.model.load import load_model
from compiler.names import ARMS, READINGS

BATCH = 4


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A build, a saved tiny model + adapter, and syllabus's three arms scored into a run folder."""
    root = tmp_path_factory.mktemp("repro")
    build = read_build(evalkit.write_build(root / "builds"))
    tok = evalkit.tiny_tokenizer()
    model_dir, run_dir = root / "tiny model", root / "runs" / "r1"  # a space: the line must quote it
    evalkit.tiny_model(tok).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    evalkit.tiny_peft(evalkit.tiny_model(tok)).save_pretrained(run_dir / "adapter")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYLLABUS_PRECISION", "fp32")
        loaded = load_model(str(model_dir), "cpu")
    target = loaded.with_adapter(run_dir / "adapter")
    arms = evaluate_arms(target, loaded.tokenizer, build, ARMS, run_dir, readings=READINGS, batch_size=BATCH,
                         progress=False, model_name=str(model_dir), adapter_sha256=adapter_sha256(run_dir / "adapter"))
    return build, model_dir, run_dir, arms


def _cli(argv: list[str], monkeypatch) -> None:
    """argv as a shell gives it to `lm_eval` → lm-eval's own CLI, run here.

    One change: lm-eval indexes its ~14,700 bundled tasks at every start (17 s on 2 busy cores)
    beside --include_path; the build's `syllabus_…` names are none of them, so the index is skipped."""
    import lm_eval.tasks
    from lm_eval._cli import HarnessCLI

    class BuildTasksOnly(lm_eval.tasks.TaskManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**kwargs, "include_defaults": False})

    assert argv[0] == "lm_eval"
    monkeypatch.setattr(lm_eval.tasks, "TaskManager", BuildTasksOnly)
    monkeypatch.setattr(sys, "argv", list(argv))
    cli = HarnessCLI()
    cli.execute(cli.parse_args())


def _logged(output: os.PathLike, task: str) -> dict[str, dict]:
    """lm-eval's --log_samples file of one task under --output_path → {doc id: record}."""
    files = [p for p in Path(output).rglob("samples_*.jsonl") if re.fullmatch(rf"samples_{task}_\d{{4}}-.+", p.name)]
    assert len(files) == 1, files
    records = [json.loads(line) for line in files[0].read_text(encoding="utf-8").splitlines() if line.strip()]
    return {r["doc"]["id"]: r for r in records}


def _expected_call(build, model_dir, run_dir, arm: str) -> LmEvalCall:
    return LmEvalCall(
        pretrained=str(model_dir.resolve()),
        tasks=tuple(getattr(build.manifest.tasks[s], r) for s in build.manifest.tasks for r in READINGS),
        include_path=str((build.path / "tasks").resolve()),
        peft=str((run_dir / "adapter").resolve()) if arm == "tuned" else "",
        dtype="float32",
        system_instruction=build.manifest.system_prompt if arm == "prompted" else "",
        batch_size=BATCH,
        device="cpu",
        output_path=str((run_dir / "eval" / "lm_eval" / arm).resolve()),
    )


@pytest.mark.parametrize("arm", ARMS)
def test_the_recorded_line_is_the_arms_settings_quoted(arm, scored):
    build, model_dir, run_dir, arms = scored
    line = read_arm(run_dir / "eval" / f"{arm}.json").lm_eval_command
    assert line == arms[arm].lm_eval_command
    want = _expected_call(build, model_dir, run_dir, arm)
    assert shlex.split(line) == lm_eval_argv(want)
    assert line == lm_eval_command(want)


@pytest.mark.parametrize("arm", ARMS)
def test_lm_eval_parses_the_line_into_the_settings(arm, scored, monkeypatch):
    from lm_eval._cli import HarnessCLI

    build, model_dir, run_dir, arms = scored
    monkeypatch.setattr(sys, "argv", shlex.split(arms[arm].lm_eval_command))
    args = HarnessCLI().parse_args()
    want = _expected_call(build, model_dir, run_dir, arm)
    assert args.command == "run" and args.model == "hf"
    assert args.model_args == model_args(want)
    assert args.tasks == list(want.tasks)
    assert args.include_path == want.include_path
    assert args.apply_chat_template is True
    assert args.system_instruction == (build.manifest.system_prompt if arm == "prompted" else None)
    assert (args.batch_size, args.device, args.log_samples, args.output_path) == ("4", "cpu", True, want.output_path)


@pytest.mark.parametrize("arm", ARMS)
def test_plain_lm_eval_agrees_item_by_item(arm, scored, monkeypatch):
    build, _, run_dir, arms = scored
    result = arms[arm]
    assert result.complete
    _cli(shlex.split(result.lm_eval_command), monkeypatch)
    output = run_dir / "eval" / "lm_eval" / arm
    outcomes = set()
    for score in result.scores:
        names = build.manifest.tasks[score.split]
        theirs = _logged(output, names.mc if score.reading == "mc" else names.gen)
        assert set(theirs) == {s.id for s in score.samples}
        for sample in score.samples:
            record = theirs[sample.id]
            assert (record["acc"] == 1.0) == sample.correct, (score.split, score.reading, sample.id)
            if score.reading == "gen":
                assert record["filtered_resps"][0] == sample.reply, (score.split, sample.id)
            outcomes.add(sample.correct)
    assert outcomes == {True, False}  # some right, some wrong: agreement has teeth


def test_the_arms_differ_so_each_line_matters(scored):
    """The prompted and tuned lines reproduce different numbers from base's: the system turn and
    the adapter change replies (else the agreement above could not tell the lines apart)."""
    _, _, _, arms = scored
    replies = {arm: [s.reply for score in arms[arm].scores if score.reading == "gen" for s in score.samples]
               for arm in ARMS}
    assert replies["base"] != replies["prompted"] and replies["base"] != replies["tuned"]


def test_without_the_chat_template_lm_eval_reads_other_prompts(scored, monkeypatch, tmp_path):
    """A bare `lm_eval run --include_path …` (no --apply_chat_template) scores other contexts: the
    flag is what makes the numbers match (issue 15)."""
    build, _, _, arms = scored
    names = build.manifest.tasks["test_form"]
    argv = shlex.split(arms["base"].lm_eval_command)
    argv.remove("--apply_chat_template")
    argv[argv.index("--output_path") + 1] = str(tmp_path)
    argv[argv.index("--tasks") + 1] = names.gen  # one task is enough to see it
    _cli(argv, monkeypatch)
    theirs = _logged(tmp_path, names.gen)
    ours = arms["base"].score("test_form", "gen").samples
    assert [theirs[s.id]["filtered_resps"][0] for s in ours] != [s.reply for s in ours]
    assert all("<|im_start|>" not in theirs[s.id]["arguments"]["gen_args_0"]["arg_0"] for s in ours)


def test_reproduce_script_holds_every_arms_line(scored):
    _, _, run_dir, arms = scored
    script = run_dir / "eval" / "reproduce.sh"
    assert os.access(script, os.X_OK)
    text = script.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.startswith("lm_eval ")]
    assert lines == [arms[arm].lm_eval_command for arm in ARMS]
    assert "# prompted: train_sample mc " in text  # what syllabus scored, beside its line
    subprocess.run(["sh", "-n", str(script)], check=True)
    # a shell hands the prompted line's argv to lm_eval exactly: the system prompt is one argument
    echoed = subprocess.run(["sh", "-c", 'for a in "$@"; do printf "%s\\0" "$a"; done', "sh",
                             *shlex.split(lines[1])], capture_output=True, text=True, check=True).stdout
    assert echoed.split("\0")[:-1] == shlex.split(lines[1])


def test_reproduce_keeps_the_arms_of_an_earlier_call(scored, tmp_path):
    """`run` scores base and prompted, trains, then scores tuned: the script holds all three."""
    _, _, run_dir, _ = scored
    (tmp_path / "eval").mkdir()
    for arm in ("base", "prompted"):
        (tmp_path / "eval" / f"{arm}.json").write_bytes((run_dir / "eval" / f"{arm}.json").read_bytes())
    (tmp_path / "eval" / "tuned.json").write_text("[not an arm]", encoding="utf-8")  # left out, no error
    commands.write_reproduce(tmp_path)
    assert (tmp_path / "eval" / "reproduce.sh").read_text().count("\nlm_eval run ") == 2
    (tmp_path / "eval" / "tuned.json").write_bytes((run_dir / "eval" / "tuned.json").read_bytes())
    commands.write_reproduce(tmp_path)
    assert (tmp_path / "eval" / "reproduce.sh").read_text().count("\nlm_eval run ") == 3


@pytest.mark.parametrize("pretrained, form", [
    ("/models/my model", "key=value"), ("HuggingFaceTB/SmolLM2-135M-Instruct", "key=value"),
    ("/models/a,b", "json"), ("/models/None", "key=value"), ("None", "json"), ("12", "json"), ("1e5", "json"),
    ("True", "json"), ("/m/it's", "json"), ("/m/[x]", "json"), (" /m/x", "json"),
])
def test_model_args_reach_lm_eval_as_given(pretrained, form, monkeypatch):
    """key=value,… where lm-eval reads each value back as itself; else a JSON object."""
    from lm_eval._cli import HarnessCLI

    call = LmEvalCall(pretrained=pretrained, tasks=("t",), include_path="/x/tasks", peft="/runs/1/adapter")
    packed = lm_eval_argv(call)[lm_eval_argv(call).index("--model_args") + 1]
    assert packed.startswith("{") == (form == "json")
    monkeypatch.setattr(sys, "argv", shlex.split(lm_eval_command(call)))
    assert HarnessCLI().parse_args().model_args == model_args(call)


def test_bf16_autocast_and_syllabus_attention_are_recorded(scored, monkeypatch):
    """What syllabus runs on a CPU with native bf16: fp32 weights, bf16 autocast, its grouped-query
    attention (model/load.py) → mixed_precision_dtype=bfloat16 and attn_implementation=eager."""
    from compiler.model.load import ATTENTION

    build, model_dir, _, _ = scored
    monkeypatch.setenv("SYLLABUS_PRECISION", "fp32")
    model = load_model(str(model_dir), "cpu").model
    plain = arm_call(model, build, "base", readings=("mc",), batch_size=8)
    assert (plain.dtype, plain.mixed_precision_dtype, plain.attn_implementation) == ("float32", "", "")
    monkeypatch.setattr(model.config, "_attn_implementation", ATTENTION)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        call = arm_call(model, build, "base", readings=READINGS, batch_size=8)
    assert (call.dtype, call.mixed_precision_dtype, call.attn_implementation) == ("float32", "bfloat16", "eager")
    assert "dtype=float32,mixed_precision_dtype=bfloat16,attn_implementation=eager" in lm_eval_command(call)


def test_command_templates_hold_no_path_and_parse(monkeypatch):
    from lm_eval._cli import HarnessCLI

    system = "Our company prefers blue paint; 'always'."
    first = command_templates("blue-products", READINGS, system, 32)
    assert first == command_templates("blue-products", READINGS, system, 32)  # deterministic
    assert set(first) == set(ARMS)
    for arm, line in first.items():
        monkeypatch.setattr(sys, "argv", shlex.split(line))
        args = HarnessCLI().parse_args()
        assert args.include_path == "BUILD/tasks" and args.model_args["pretrained"] == "MODEL"
        assert args.model_args.get("peft") == ("ADAPTER" if arm == "tuned" else None)
        assert args.system_instruction == (system if arm == "prompted" else None)
        assert args.tasks[:2] == ["syllabus_blue_products_train_sample", "syllabus_blue_products_train_sample_gen"]
        assert len(args.tasks) == 8 and "/" not in line.replace("BUILD/tasks", "")
    assert command_templates("x", ("mc",), system, 32)["base"].count("syllabus_x_") == 4
