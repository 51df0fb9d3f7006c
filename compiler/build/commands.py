"""The plain `lm_eval` command line that scores a build's tasks: an LmEvalCall → one shell line.

The one place the line is built (evaluation/commands.py reads an arm's settings off the model it
scored and fills an LmEvalCall; why each flag is there is written there). `command_templates`
gives a build's manifest the same lines with MODEL, ADAPTER and BUILD standing for paths.
Pure: no torch, no model.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
from dataclasses import dataclass
from typing import Mapping, Sequence

from ..names import READINGS, SCORED_SPLITS
from .read import TaskNames
from .tasks import report_order, task_names

PROGRAM = ("lm_eval", "run")
MODEL_TYPE = "hf"  # lm-eval's HFLM: the class syllabus's engines derive from (fastlm.py)
# Placeholders of a build's command templates (the manifest holds no absolute path).
MODEL, ADAPTER, BUILD = "MODEL", "ADAPTER", "BUILD"
# A model_args value lm-eval's CLI reads back as the same string in key=value form: no comma
# (its separator), no quote or bracket (it parses those), no edge space, and nothing its value
# parser turns into another type (handle_cli_value_string: "true", "12", "1e5", "None").
_PLAIN = re.compile(r"[\w@%+:./~-]+( +[\w@%+:./~-]+)*")


@dataclass(frozen=True)
class LmEvalCall:
    """One arm's `lm_eval run`: every field as the command line carries it; '' / None = left out."""

    pretrained: str  # model folder (absolute) or hub id
    tasks: tuple[str, ...]
    include_path: str  # the build's tasks/ folder
    peft: str = ""  # the adapter folder (tuned arm)
    dtype: str = "float32"
    mixed_precision_dtype: str = ""  # "bfloat16" when products ran under bf16 autocast
    attn_implementation: str = ""  # "eager" for syllabus's grouped-query attention; '' = lm-eval's default
    system_instruction: str = ""  # the prompted arm's system turn
    batch_size: int = 32
    device: str = ""
    limit: int | None = None
    output_path: str = ""  # with it, --log_samples too


def task_list(tasks: Mapping[str, TaskNames], readings: Sequence[str]) -> tuple[str, ...]:
    """{scored split: task names} + readings → task names, splits in report order, mc before gen."""
    return tuple(getattr(tasks[split], r) for split in report_order(tasks) for r in READINGS if r in readings)


def _plain(value: str) -> bool:
    """Whether key=value form carries `value` through lm-eval's CLI unchanged."""
    if not _PLAIN.fullmatch(value) or value.lower() in ("true", "false"):
        return False
    for parse in (float, ast.literal_eval):
        try:
            parse(value)
            return False
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
    return True


def model_args(call: LmEvalCall) -> dict[str, str]:
    """→ HFLM's arguments, in command-line order: pretrained, peft, dtype, mixed_precision_dtype,
    attn_implementation (HFLM hands it to from_pretrained)."""
    pairs = {"pretrained": call.pretrained, "peft": call.peft, "dtype": call.dtype,
             "mixed_precision_dtype": call.mixed_precision_dtype, "attn_implementation": call.attn_implementation}
    return {k: v for k, v in pairs.items() if v}


def lm_eval_argv(call: LmEvalCall) -> list[str]:
    """LmEvalCall → argv of `lm_eval run …`. model_args as key=value,… when every value reads back
    as itself, else as a JSON object (a path with a comma, a folder named 'None')."""
    args = model_args(call)
    packed = (",".join(f"{k}={v}" for k, v in args.items()) if all(_plain(v) for v in args.values())
              else json.dumps(args, ensure_ascii=False))
    argv = [*PROGRAM, "--model", MODEL_TYPE, "--model_args", packed, "--tasks", ",".join(call.tasks),
            "--include_path", call.include_path, "--apply_chat_template"]
    if call.system_instruction:
        argv += ["--system_instruction", call.system_instruction]
    argv += ["--batch_size", str(int(call.batch_size))]
    if call.device:
        argv += ["--device", call.device]
    if call.limit is not None:
        argv += ["--limit", str(int(call.limit))]
    if call.output_path:
        argv += ["--log_samples", "--output_path", call.output_path]
    return argv


def lm_eval_command(call: LmEvalCall) -> str:
    """LmEvalCall → the `lm_eval run …` line, quoted for a POSIX shell (shlex.join)."""
    return shlex.join(lm_eval_argv(call))


def command_templates(build_name: str, readings: Sequence[str], system_prompt: str, batch_size: int,
                      splits: Sequence[str] = SCORED_SPLITS) -> dict[str, str]:
    """A build's settings → {arm: `lm_eval run …`} with MODEL (model folder or hub id), ADAPTER
    (runs/<id>/adapter) and BUILD (the build folder) for paths: deterministic, for manifest.json."""
    tasks = task_list({s: task_names(build_name, s) for s in splits}, readings)
    common = dict(pretrained=MODEL, tasks=tasks, include_path=f"{BUILD}/tasks", batch_size=batch_size)
    return {
        "base": lm_eval_command(LmEvalCall(**common)),
        "prompted": lm_eval_command(LmEvalCall(**common, system_instruction=system_prompt)),
        "tuned": lm_eval_command(LmEvalCall(**common, peft=ADAPTER)),
    }
