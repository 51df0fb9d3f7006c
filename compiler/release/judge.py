"""A verified run (verify.VerifiedRun) + the last release's verdict.json → (Verdict, ReportContext):
what the gate decided and everything the reports say besides it.

Reads the eval/ files verify_run vouched for: a missing arm file is the verdict's to name
(incomplete, exit 3), a malformed one is bad input (UsageError, 2). The constant arm is
computed here from the build, never read back, and written to eval/constant.json so a user
can see what each item got. The per-form breakdown is extra: a damaged data file must not
stop the verdict being written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..build.read import read_split
from ..build.tasks import report_order
from ..errors import UsageError
from ..evaluation.constant import constant_arm
from ..evaluation.results import ArmResult, read_arm, read_drift, write_arm
from ..names import ARMS, READINGS, REPORT_ARMS
from ..training.record import RunRecord
from .breakdown import by_form, general_pairs, misses
from .ci_files import read_baseline
from .context import ReportContext, RuleInfo
from .gate import decide
from .items import held_out_items
from .source import syllabus_commit
from .verdict import BuildRef, Verdict
from .verify import VerifiedRun


@dataclass(frozen=True)
class Judgement:
    """What the gate decided about a run, and the context its reports print around it."""

    verdict: Verdict
    context: ReportContext


def judge(run: VerifiedRun, baseline: Path | None) -> Judgement:
    """(a verified run, --baseline or None) → Judgement; writes eval/constant.json."""
    run_dir, build = run.run_dir, run.build
    arms = {}
    for arm in ARMS:  # a missing file is the verdict's to name (incomplete); a malformed one is bad input (2)
        path = run_dir / "eval" / f"{arm}.json"
        arms[arm] = read_arm(path) if path.exists() else None
    arms["constant"] = constant_arm(build)  # a damaged data file makes it incomplete: its checks fail closed
    write_arm(arms["constant"], run_dir / "eval" / "constant.json")  # so a user can see what each item got
    general = None
    if build.spec.retain.general is not None and (run_dir / "eval" / "general.json").exists():
        general = read_drift(run_dir / "eval" / "general.json")  # missing: the checks that read it fail closed
    base = read_baseline(baseline) if baseline is not None else None
    try:  # the per-form breakdown is extra: a damaged data file must not stop the verdict being written
        scored = {split: read_split(build, split) for split in report_order(build.manifest.tasks)}
    except (UsageError, OSError, ValueError, KeyError, TypeError):
        scored = {}
    ref = BuildRef(build.manifest.name, build.manifest.sha256)
    primary = build.spec.primary_reading()
    verdict = decide(build.spec.gate.checks, arms, base, ref, primary, general, run.adapter_sha256)
    readings = [r for r in READINGS if r in build.spec.eval.readings]
    missed_in = primary if primary in readings else readings[0]  # the reading the checks mostly use
    held_out = {s: rows for s, rows in scored.items() if s != "train_sample"}
    context = ReportContext(
        run_id=run_dir.resolve().name,
        build=ref,
        spec_sha256=build.manifest.spec_sha256,
        rules=tuple(RuleInfo(r.id, r.statement) for r in build.spec.rules),
        model=run.record.model.name,
        description=build.spec.description,
        counts=tuple(build.manifest.counts.items()),
        training=training_facts(run.record),
        by_form=by_form(scored, arms, readings),
        misses=misses(held_out, arms.get("tuned"), missed_in),
        primary_reading=primary,
        general_pairs=general_pairs(general),
        general_expected=build.spec.retain.general is not None,
        base=run.record.base,
        model_sha256=run.record.model.sha256,
        adapter_sha256=run.adapter_sha256,
        trained_at=run.record.finished_at or "",
        syllabus_commit=syllabus_commit(),
        loss_curve=run.record.loss_curve,
        items=held_out_items(held_out, arms, readings),
        lm_eval_commands=lm_eval_commands(arms),
    )
    return Judgement(verdict, context)


def lm_eval_commands(arms: Mapping[str, ArmResult | None]) -> tuple[tuple[str, str], ...]:
    """{arm: result or None} → (arm, the lm_eval command line that reproduces its numbers:
    ArmResult.lm_eval_command) for each arm that records one, in report order; the constant arm
    (no model) and eval files written before syllabus recorded the line have none."""
    return tuple((name, arm.lm_eval_command) for name, arm in ((n, arms.get(n)) for n in REPORT_ARMS)
                 if arm is not None and arm.lm_eval_command)


def training_facts(record: RunRecord) -> tuple[tuple[str, str], ...]:
    """A complete run's record → (name, value) lines for the model card: the settings that made
    the adapter (LoRA rank, modules, layers, lr, epochs, seed), then what the run did."""
    shown = lambda v: ", ".join(map(str, v)) if isinstance(v, list) else str(round(v, 4) if isinstance(v, float) else v)  # noqa: E731
    facts = [(k, shown(v)) for k, v in sorted(record.settings.items()) if v is not None and k not in ("device", "checkpoint_every")]
    facts.append(("device", record.device))
    done = record.outcome
    if done is not None:
        facts += [(k, shown(getattr(done, k))) for k in ("examples", "retain_lessons", "steps", "final_loss", "wall_s",
                                                          "tokens_per_s") if not (k == "retain_lessons" and not done.retain_lessons)]
    if record.retain_general is not None and record.retain_general.written_by is not None:
        facts.append(("retain_replies_by", record.retain_general.written_by))
    return tuple(facts)
