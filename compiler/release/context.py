"""What the reports say besides the verdict: which build, rules, model and run (ReportContext).

judge.py fills it from the run folder; the renderers (text_report, html_report, ci_files,
model_card) read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import __version__
from .breakdown import FormRow, GeneralPair, Miss
from .items import ItemRow
from ..training.record import BaseRef
from .verdict import BuildRef

@dataclass(frozen=True)
class RuleInfo:
    id: str
    statement: str


@dataclass(frozen=True)
class ReportContext:
    """What the reports say besides the verdict: which build, rules, model and run."""

    run_id: str
    build: BuildRef
    spec_sha256: str
    rules: tuple[RuleInfo, ...]
    model: str  # the base model as the run names it ("default", a hub id or a path)
    description: str = ""
    counts: tuple[tuple[str, int], ...] = ()  # split → examples in the build
    training: tuple[tuple[str, str], ...] = ()  # hyperparameters etc., for the model card
    by_form: tuple[FormRow, ...] = ()  # accuracy per split × question form (mc)
    misses: tuple[Miss, ...] = ()  # a few held-out questions the tuned model got wrong
    primary_reading: str = ""  # the reading of checks that name none (Spec.primary_reading); "" = not known
    general_pairs: tuple[GeneralPair, ...] = ()  # held-out general prompts: base vs tuned replies
    general_expected: bool = False  # the build has test_general (retain.general): say so when not measured
    base: BaseRef | None = None  # where the base loads from elsewhere, its GGUF (run.json base); None: not recorded
    created_with: str = f"syllabus {__version__}"
    # what a reviewer pins the numbers to (report.html's header); "" = not known
    model_sha256: str = ""  # the base model's weights (run.json model.sha256: model/load.py LoadedModel.sha256)
    adapter_sha256: str = ""  # integrity.adapter_sha256 of runs/<id>/adapter, as verified
    trained_at: str = ""  # run.json finished_at (UTC)
    syllabus_commit: str = ""  # git commit of the syllabus checkout that gated (source.syllabus_commit)
    loss_curve: tuple[tuple[int, float], ...] = ()  # (step, training loss): run.json loss_curve
    items: tuple[ItemRow, ...] = ()  # every held-out item × arm (items.held_out_items)
    # arm → the lm_eval command line that reproduces its numbers (ArmResult.lm_eval_command)
    lm_eval_commands: tuple[tuple[str, str], ...] = ()
