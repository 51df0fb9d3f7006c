"""The model side of a sweep: one loaded model, a LoRA trained and scored on dev per trial,
then the chosen adapter examined on the test splits and gated.

One process, one model load: every trial trains a fresh LoRA on the same in-memory base
model (train_lora wraps it), is scored on dev, and is unloaded (peft's `unload()` takes
the LoRA layers out without merging them, so the base weights are the ones loaded; a test
holds them bit for bit). Every scoring call names its splits to the guard first.
torch, peft and lm-eval are reached through training/ and evaluation/ only.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from ..build.read import Build, read_split
from ..errors import DevScoringFailed, UsageError
from ..names import DEV_SPLIT
from .grid import Trial
from .guard import ExamGuard
from .objective import metrics_of
from .record import DEV_FILE, ExamOutcome

if TYPE_CHECKING:  # pragma: no cover
    from ..evaluation.results import ArmResult


def dev_view(build: Build) -> Build:
    """The build as the search phase sees it: its dev tasks and nothing else (evaluate_arm scores
    every task of the manifest it is given)."""
    names = getattr(build.manifest, "dev_tasks", None)
    if names is None:
        raise UsageError(f"{build.path}: the build has no dev split; set splits.dev in the spec and compile again")
    return dataclasses.replace(build, manifest=dataclasses.replace(build.manifest, tasks={DEV_SPLIT: names}))


class LiveLab:
    """A sweep's trials on a real model: loaded on first use, once."""

    def __init__(self, build: Build, device: str | None = None, progress: bool = True):
        self.build, self.device, self.progress = build, device, progress
        self.train = read_split(build, "train")
        self.scopes = {e.id: e.provenance.scope for e in read_split(build, DEV_SPLIT)}
        self._loaded, self._retain = None, ()

    def _model(self):
        """The loaded base model (and the general retain lessons it writes), loaded once."""
        if self._loaded is None:
            from ..model.load import load_model
            from ..training.replies import general_replies

            self._loaded = load_model(self.build.spec.train.model, self.device)
            with self._loaded.compute(self._loaded.model):
                self._retain = general_replies(self.build, self._loaded, self.device, with_test=False)
        return self._loaded

    def trial(self, trial: Trial, folder: Path, guard: ExamGuard) -> dict[str, float]:
        """Train the trial's LoRA into folder (run.json, adapter/), score it on dev (eval/dev.json:
        the arm file `syllabus compare` reads), unload it → its metrics (objective.metrics_of)."""
        from ..evaluation.results import write_arm
        from ..integrity import adapter_sha256
        from ..training.lora import TrainSettings, train_lora

        loaded, build = self._model(), self.build
        settings = TrainSettings.from_spec(trial.train, build.spec.seed, device=self.device)
        general = build.spec.retain.general
        result = train_lora(loaded, self.train, settings, folder, build_sha256=build.manifest.sha256,
                            build_path=build.path, progress=self.progress, retain=self._retain,
                            retain_by=None if general is None else (general.teacher or loaded.name))
        try:
            # the saved adapter's bytes name the scores, as the tuned arm's file names them: compare
            # (release/verify) then refuses the dev scores of an adapter altered since
            arm = dataclasses.replace(self.score_dev(result.model, guard),
                                      adapter_sha256=adapter_sha256(result.adapter_dir))
        finally:
            result.model.unload()  # the LoRA layers out, unmerged: the next trial starts from the loaded weights
        write_arm(arm, folder / DEV_FILE)
        return metrics_of({s.reading: s.correct_by_id() for s in arm.scores}, self.scopes, result.final_loss)

    def score_dev(self, model, guard: ExamGuard) -> "ArmResult":
        """The tuned model → its ArmResult on the dev split alone (a Score per reading, per-item
        records); the guard is asked first. DevScoringFailed when lm-eval could not score it all."""
        from ..evaluation.arms import evaluate_arm

        guard.allow((DEV_SPLIT,))
        loaded, spec = self._model(), self.build.spec
        with loaded.compute(model):
            arm = evaluate_arm(model, loaded.tokenizer, dev_view(self.build), "tuned", readings=spec.eval.readings,
                               limit=None, batch_size=spec.eval.batch_size, progress=False, model_name=loaded.name)
        if not arm.complete:
            raise DevScoringFailed(f"the dev split could not be scored: {'; '.join(arm.problems)}")
        return arm

    def exam(self, trial: Trial, folder: Path, guard: ExamGuard) -> ExamOutcome:
        """The chosen trial's adapter → its run folder's eval/ (base, prompted, tuned on every test
        split; the drift) and the gate's verdict, as `syllabus eval` and `syllabus gate` write them."""
        from ..evaluation.arms import evaluate_arms
        from ..evaluation.drift import write_run_drift
        from ..integrity import adapter_sha256
        from ..release.report import gate_run

        build = self.build
        guard.open_exam(trial.folder)
        guard.allow((*build.manifest.tasks, *(("test_general",) if build.spec.retain.general else ())))
        loaded = self._model()
        adapter = folder / "adapter"
        sha = adapter_sha256(adapter)  # the bytes about to be loaded: what the tuned arm scores
        target = loaded.with_adapter(adapter)
        with loaded.compute(target):
            arms = evaluate_arms(target, loaded.tokenizer, build, ("base", "prompted", "tuned"), folder,
                                 model_name=loaded.name, adapter_sha256=sha, progress=self.progress)
            write_run_drift(build, loaded, target, folder, sha)
        verdict = gate_run(folder)[0].verdict
        scores = tuple((s.split, s.reading, arm, s.acc) for arm in ("base", "prompted", "tuned")
                       for s in arms[arm].scores)
        return ExamOutcome(trial.folder, verdict.exit_code, verdict.status, scores)
