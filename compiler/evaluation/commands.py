"""The plain `lm_eval` command line that gives an arm's scores: arm settings → one shell line.

syllabus scores base, prompted and tuned in process (arms.py: lm-eval's evaluator over the
build's task files). lm-eval's own CLI gives the same per-item results only with the settings
arms.py passes, which a bare `lm_eval run --include_path build/<name>/tasks` lacks:

  --apply_chat_template            items are chat turns. Without it the prompt is plain text and an
                                   mc choice follows a " " (lm-eval's delimiter outside a chat):
                                   issue 15 saw mc 1.00 / gen 0.55 instead of 0.90 / 0.80.
  --system_instruction '<rules>'   the prompted arm: the rules' statements as the system turn
  peft=<adapter>                   the tuned arm: the LoRA adapter on the base model
  dtype=…, mixed_precision_dtype=… the weights' dtype; bfloat16 where syllabus ran products under
                                   bf16 autocast (a CPU with native bf16)
  attn_implementation=eager        where syllabus ran its grouped-query attention (bf16 autocast on
                                   a CPU: model/load.py), which is eager attention's arithmetic
                                   without copying the key/value heads; lm-eval's default (sdpa)
                                   rounds otherwise. On the founding build (base, 10 items per split,
                                   bf16 autocast) it cut the items scored otherwise from 4 of 80 to 1.
                                   Under bf16 an item whose choices lie within rounding can still
                                   flip (syllabus shares the prompt prefix: other matrix shapes, other
                                   summation order); SYLLABUS_PRECISION=fp32 leaves no such gap.
                                   Measured there in fp32: 80 of 80 items scored alike, every
                                   greedy reply the same word for word.
  --batch_size, --device           as scored
  --log_samples --output_path      per-item records, to compare with eval/<arm>.json

fewshot_as_multiturn is left to lm-eval (it turns it on with a chat template; syllabus passes
False): the tasks are zero-shot, so it changes nothing. No --gen_kwargs: the task files carry them.

`arm_call` reads an arm's settings off the model syllabus scored into an LmEvalCall, whose line
build/commands.py builds (the one place; a build's manifest holds the same lines with MODEL,
ADAPTER and BUILD for paths); `write_reproduce` writes eval/reproduce.sh from the arms' result files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from ..build.commands import LmEvalCall, lm_eval_command, task_list
from ..build.read import Build
from ..errors import UsageError
from ..integrity import write_atomic
from ..names import ARMS
from .results import ArmResult, read_arm

SCRIPT = "reproduce.sh"  # in runs/<id>/eval/
OUTPUT_DIR = "lm_eval"  # runs/<id>/eval/lm_eval/<arm>/: where a reproduced arm writes


def _base(model):
    return model.get_base_model() if hasattr(model, "peft_config") and hasattr(model, "get_base_model") else model


def pretrained_source(model, model_name: str = "") -> str:
    """The folder (absolute) or hub id the scored weights were loaded from: what from_pretrained
    recorded in the config (for `model: default`, the dequantized cache folder); else the name."""
    source = str(getattr(getattr(_base(model), "config", None), "_name_or_path", "") or "")
    if source and Path(source).expanduser().is_dir():
        return str(Path(source).expanduser().resolve())
    return source or model_name or MODEL


def _precision(model) -> tuple[str, str, str]:
    """The model as it is scored now → (weights dtype, autocast dtype or '', device)."""
    import torch

    param = next(_base(model).parameters(), None)
    if param is None:
        return "float32", "", ""
    kind = param.device.type
    mixed = ""
    if kind in ("cpu", "cuda") and torch.is_autocast_enabled(kind):
        mixed = str(torch.get_autocast_dtype(kind)).removeprefix("torch.")
    return str(param.dtype).removeprefix("torch."), mixed, str(param.device)


def _attention(model) -> str:
    """The attention the model runs → what from_pretrained must be asked for: 'eager' for
    syllabus's grouped-query attention (the same arithmetic), '' for sdpa (lm-eval's default)."""
    from ..model.load import ATTENTION

    name = getattr(getattr(_base(model), "config", None), "_attn_implementation", None) or ""
    if name == ATTENTION:
        return "eager"
    return "" if name == "sdpa" or not isinstance(name, str) else name


def arm_call(model, build: Build, arm: str, *, readings: Sequence[str], batch_size: int, limit: int | None = None,
             adapter: Path | None = None, output_path: Path | None = None, model_name: str = "") -> LmEvalCall:
    """The model as an arm is scored (inside its precision context), the build, the arm and its
    settings → the LmEvalCall that scores the same items the same way with plain lm-eval."""
    dtype, mixed, device = _precision(model)
    return LmEvalCall(
        pretrained=pretrained_source(model, model_name),
        tasks=task_list(build.manifest.tasks, readings),
        include_path=str((Path(build.path) / "tasks").resolve()),
        peft=str(Path(adapter).resolve()) if arm == "tuned" and adapter is not None else "",
        dtype=dtype,
        mixed_precision_dtype=mixed,
        attn_implementation=_attention(model),
        system_instruction=build.manifest.system_prompt if arm == "prompted" else "",
        batch_size=batch_size,
        device=device,
        limit=limit,
        output_path=str(Path(output_path).resolve()) if output_path is not None else "",
    )


def reproduce_script(arms: Sequence[ArmResult]) -> str:
    """ArmResults (with lm_eval_command) → eval/reproduce.sh: per arm, what syllabus scored, then
    the lm-eval line that scores it again."""
    lines = [
        "#!/bin/sh",
        "# Score this run's arms again with plain lm-eval (generated by syllabus `eval`).",
        "# Each line writes lm-eval's per-item records (--log_samples) under --output_path; syllabus's",
        "# own are in eval/<arm>.json. The constant arm has no model: the gate computes it from the build.",
        "set -e",
    ]
    for result in arms:
        if not result.lm_eval_command:
            continue
        scored = " · ".join(f"{s.split} {s.reading} {s.acc:.2f}" for s in result.scores)
        lines += ["", f"# {result.arm}: {scored or 'nothing scored'}", result.lm_eval_command]
    return "\n".join(lines) + "\n"


def write_reproduce(run_dir: Path) -> Path | None:
    """runs/<id>/ → eval/reproduce.sh from the arm files in eval/ (ARMS order), executable;
    None when no arm file there holds a command. An arm file it cannot read is left out (the
    gate names it; the script is no reason to stop an evaluation)."""
    folder = Path(run_dir) / "eval"
    arms = []
    for arm in ARMS:
        try:
            arms.append(read_arm(folder / f"{arm}.json"))
        except UsageError:  # absent, or not an arm file
            continue
    if not any(a.lm_eval_command for a in arms):
        return None
    path = write_atomic(folder / SCRIPT, reproduce_script(arms))
    os.chmod(path, 0o755)
    return path


def output_path(run_dir: Path, arm: str) -> Path:
    """runs/<id>/ + arm → where its reproduced lm-eval run writes: eval/lm_eval/<arm>."""
    return Path(run_dir) / "eval" / OUTPUT_DIR / arm
