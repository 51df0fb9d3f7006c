"""Scoring a build's held-out tasks with lm-eval, in process: model in memory → `ArmResult`s.

Arms (results.py): `base` — the model as it is (a PeftModel scores inside
`disable_adapter()`); `prompted` — the same weights with the rules' statements as the
system prompt (lm-eval's `system_instruction`); `tuned` — the PeftModel with its adapter.
Every arm sees the same items: each scored split of the build under each reading
(`mc`, `gen`), through the build's own task files (build/<name>/tasks, via
TaskManager(include_path=…)) and lm-eval's evaluator with the chat template applied.

Per-item records come from lm-eval's logged samples: doc["id"] is the example id, the
task's `acc` (1.0 or 0.0) says whether the arm got it right, and the gen reading keeps
its reply. A split that cannot be scored is left out and the arm marked
`complete=False`, with what failed passed to `warn`: the gate then fails closed (exit 3).
Each arm's file also records the plain `lm_eval run …` line that scores the same items the
same way (`lm_eval_command`, commands.py), and eval/reproduce.sh holds every arm's.

Cost: tasks are loaded once and reused by every arm (a TaskManager over the build's
folder only, not lm-eval's ~14 000 bundled tasks); with `eval.engine: fast` (the default)
the model runs through `fastlm.SharedPrefixLM`, which computes the shared prompt prefix once and scores each
item's choices during the greedy reply's prompt pass (generation tasks go first, so
those answers exist when the log-likelihood requests come). Base and prompted run as
two lm-eval calls, not one: each call's requests then share a long prefix (the system
turn), which a joint call would cut to "<|im_start|>system\n".
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

from . import commands, results
from .engines import eval_batch_size
from ..build.read import Build
from ..errors import UsageError
from ..build.tasks import report_order
from ..names import ARMS, READINGS

log = logging.getLogger(__name__)


def _stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


@dataclass(frozen=True)
class TaskSet:
    """The build's lm-eval tasks for some readings, loaded once; generation tasks first.

    `where` maps a task name to its (split, reading); `failed` maps a (split, reading)
    whose task did not load to what went wrong."""

    tasks: Mapping[str, object]  # task name → lm_eval Task
    where: Mapping[str, tuple[str, str]]
    failed: Mapping[tuple[str, str], str]

    def task_dict(self, readings: Sequence[str] = READINGS) -> dict:
        """lm-eval's TaskDict of the tasks of these readings, in load order."""
        chosen = {name: task for name, task in self.tasks.items() if self.where[name][1] in readings}
        return {"tasks": chosen, "groups": {}, "group_map": {}}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """lm-eval's INFO/WARNING lines and its per-task 'Building contexts' bars, silenced for a while."""
    import lm_eval.api.task as task_module
    from tqdm import tqdm

    from ..progress import verbose

    logger = logging.getLogger("lm_eval")
    level, bar = logger.level, task_module.tqdm
    logger.setLevel(level if verbose() else logging.ERROR)  # -v: lm-eval's warnings show
    task_module.tqdm = lambda *a, **k: tqdm(*a, **{**k, "disable": True})
    try:
        yield
    finally:
        logger.setLevel(level)
        task_module.tqdm = bar


def load_tasks(build: Build, readings: Sequence[str]) -> TaskSet:
    """Build + readings → its lm-eval tasks, each split loaded on its own so one broken
    data file costs that split only (its problem is recorded, the rest still load)."""
    from lm_eval.tasks import TaskManager

    unknown = [r for r in readings if r not in READINGS]
    if unknown:
        raise UsageError(f"readings {unknown}: unknown; use {', '.join(READINGS)}")
    # gen before mc: lm-eval runs request types in the order tasks introduce them
    order = [r for r in ("gen", "mc") if r in readings]
    tasks: dict[str, object] = {}
    where: dict[str, tuple[str, str]] = {}
    failed: dict[tuple[str, str], str] = {}
    with _quiet():
        manager = TaskManager(include_path=str(build.path / "tasks"), include_defaults=False)
        for reading in order:
            for split, names in build.manifest.tasks.items():
                name = names.mc if reading == "mc" else names.gen
                try:
                    tasks[name] = manager.load([name])["tasks"][name]
                    where[name] = (split, reading)
                except Exception as exc:  # any failure here is a split we cannot score
                    failed[(split, reading)] = f"task {name} did not load: {type(exc).__name__}: {exc}"
    return TaskSet(tasks, where, failed)


def _is_peft(model) -> bool:
    return hasattr(model, "disable_adapter") and hasattr(model, "peft_config")


def _samples(logged: Sequence[Mapping], reading: str) -> tuple[results.Sample, ...]:
    """lm-eval logged samples of one task → Samples in data-file order."""
    out = []
    for entry in sorted(logged, key=lambda e: e["doc_id"]):
        reply = ""
        if reading == "gen":
            resp = entry["filtered_resps"][0]
            reply = resp if isinstance(resp, str) else str(resp)
        out.append(results.Sample(id=str(entry["doc"]["id"]), correct=float(entry["acc"]) == 1.0, reply=reply))
    return tuple(out)


def _lm(model, tokenizer, batch_size: int, progress: bool, engine: str = "fast", adapter: Path | None = None):
    """→ the lm-eval model an engine names: 'fast' (fastlm.SharedPrefixLM), 'hflm' (stock HFLM) or
    'vllm' (engines.vllm_lm: lm-eval's VLLM over the model's folder, `adapter` for the tuned arm)."""
    from .fastlm import SharedPrefixLM, StockLM

    if engine == "vllm":
        from .engines import vllm_lm

        return vllm_lm(model, tokenizer, batch_size, progress, adapter)

    with _quiet():
        return (SharedPrefixLM if engine == "fast" else StockLM)(model, tokenizer, batch_size=batch_size, progress=progress)


def evaluate_arm(
    model,
    tokenizer,
    build: Build,
    arm: str,
    *,
    readings: Sequence[str],
    limit: int | None,
    batch_size: int,
    progress: bool = True,
    model_name: str = "",
    tasks: TaskSet | None = None,
    lm=None,
    warn: Callable[[str], None] = _stderr,
) -> results.ArmResult:
    """Model (+ adapter) on the build's tasks as one arm → ArmResult (a Score per split × reading).

    `tasks` and `lm` let several arms share one task load and one lm-eval model wrapper."""
    from lm_eval import evaluator

    if arm not in ARMS:
        raise UsageError(f"arm {arm!r}: unknown; use {', '.join(ARMS)}")
    start = time.perf_counter()
    tasks = tasks if tasks is not None else load_tasks(build, readings)
    lm = lm if lm is not None else _lm(model, tokenizer, batch_size, progress, build.spec.eval.engine)
    lm.label, lm.progress = arm, progress
    lm.reset()  # answers kept from an earlier, unfinished call belong to other weights or prompts
    lm.score_choices = "mc" in readings and "gen" in readings
    wanted = {(split, r) for split in build.manifest.tasks for r in readings}
    problems = [f"{s} ({r}): {why}" for (s, r), why in tasks.failed.items() if (s, r) in wanted]
    system = build.manifest.system_prompt if arm == "prompted" else None
    adapter_off = _is_peft(model) and arm in ("base", "prompted")
    out = None
    task_dict = tasks.task_dict(readings)
    if task_dict["tasks"]:
        try:
            with (model.disable_adapter() if adapter_off else contextlib.nullcontext()), _quiet():
                out = evaluator.evaluate(
                    lm=lm,
                    task_dict=task_dict,
                    limit=limit,
                    bootstrap_iters=0,  # Score computes stderr and Wilson bounds itself
                    log_samples=True,
                    system_instruction=system,
                    apply_chat_template=True,
                    fewshot_as_multiturn=False,
                )
        except Exception as exc:  # the model or lm-eval failed: nothing of this arm is trustworthy
            problems.append(f"lm-eval stopped: {type(exc).__name__}: {exc}")
            log.debug("lm-eval failure", exc_info=True)
    scores: list[results.Score] = []
    for name in task_dict["tasks"] if out is not None else ():
        split, reading = tasks.where[name]
        samples = _samples(out.get("samples", {}).get(name, []), reading)
        expected = build.manifest.counts.get(split, 0)
        expected = min(expected, limit) if limit is not None else expected
        if len(samples) != expected:
            problems.append(f"{split} ({reading}): {len(samples)} items scored, the build has {expected}")
            continue
        scores.append(results.Score.from_samples(split, reading, samples))
    missing = wanted - {(s.split, s.reading) for s in scores}
    if missing and not problems:
        problems.append(f"not scored: {', '.join(f'{s} ({r})' for s, r in sorted(missing))}")
    for problem in problems:
        warn(f"{arm} arm: {problem}")
    rank = {split: i for i, split in enumerate(report_order(build.manifest.tasks))}
    name = model_name or str(getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__)
    return results.ArmResult(
        arm=arm,
        model=name,
        build_sha256=build.manifest.sha256,
        complete=not problems and not missing,
        scores=tuple(sorted(scores, key=lambda s: (rank[s.split], READINGS.index(s.reading)))),
        wall_s=time.perf_counter() - start,
        problems=tuple(problems),
    )


def evaluate_arms(
    model,
    tokenizer,
    build: Build,
    arms: Sequence[str],
    run_dir: Path,
    *,
    readings: Sequence[str] | None = None,
    limit: int | None = None,
    batch_size: int | None = None,
    progress: bool = True,
    model_name: str = "",
    warn: Callable[[str], None] = _stderr,
    adapter_sha256: str = "",
    adapter: Path | None = None,
) -> dict[str, results.ArmResult]:
    """Model (+ adapter) + tokenizer + build + arms → {arm: ArmResult}; writes
    run_dir/eval/<arm>.json for each, and eval/reproduce.sh (commands.py) from every arm file there.
    Tasks load once; arms share one lm-eval wrapper.
    `model_name` is what the results record as the model (as in evaluate_arm).
    `adapter_sha256` (integrity.adapter_sha256 of the adapter on the model) goes into the tuned
    arm's file: the gate scores nothing it cannot trace to the adapter run.json records.
    `adapter` (the folder the tuned model's adapter was saved to; run_dir/adapter by default) and
    the model's own settings make each arm's `lm_eval_command`: plain lm-eval scoring the same."""
    if "tuned" in arms and not _is_peft(model):
        raise UsageError("the tuned arm needs a PEFT adapter on the model; pass --adapter runs/<id>/adapter")
    readings = tuple(readings or build.spec.eval.readings)
    batch_size = eval_batch_size(build, model, tokenizer, batch_size)  # the spec's on a CPU; a token budget on CUDA
    tasks = load_tasks(build, readings)
    lora = (adapter if adapter is not None else Path(run_dir) / "adapter") if "tuned" in arms else None
    lm = _lm(model, tokenizer, batch_size, progress, build.spec.eval.engine, lora)
    out: dict[str, results.ArmResult] = {}
    for arm in arms:
        result = evaluate_arm(
            model, tokenizer, build, arm, readings=readings, limit=limit, batch_size=batch_size,
            progress=progress, model_name=model_name, tasks=tasks, lm=lm, warn=warn,
        )
        if arm == "tuned":
            result = replace(result, adapter_sha256=adapter_sha256)
        call = commands.arm_call(model, build, arm, readings=readings, batch_size=batch_size, limit=limit,
                                 adapter=adapter if adapter is not None else Path(run_dir) / "adapter",
                                 output_path=commands.output_path(run_dir, arm), model_name=model_name)
        result = replace(result, lm_eval_command=commands.lm_eval_command(call))
        results.write_arm(result, Path(run_dir) / "eval" / f"{arm}.json")
        if progress:
            from ..progress import say

            say(f"{arm}: {_summary(result)} ({result.wall_s:.1f} s)")
        out[arm] = result
    commands.write_reproduce(run_dir)
    return out


def _summary(result: results.ArmResult) -> str:
    """ArmResult → 'test_form mc 0.81 gen 0.75 · …' (one line for the progress display)."""
    by_split: dict[str, list[str]] = {}
    for s in result.scores:
        by_split.setdefault(s.split, []).append(f"{s.reading} {s.acc:.2f}")
    text = " · ".join(f"{split} {' '.join(parts)}" for split, parts in by_split.items())
    return text + ("" if result.complete else " · INCOMPLETE")
