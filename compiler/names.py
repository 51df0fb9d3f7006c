"""The names every stage shares: a build's splits, the scored splits, the readings and the
evaluation arms. The one home of each: a Literal (for the spec's pydantic models and type
checkers) and its values as a tuple, in report order. Imports nothing of the project, so
any module can import it.
"""

from __future__ import annotations

from typing import Literal, get_args

# The four splits of a build, in report order.
SPLITS = ("train", "test_paraphrase", "test_form", "test_locality")
TEST_SPLITS = SPLITS[1:]
# The dev split (spec `splits.dev` > 0): whole train-side template families carved out of the
# lessons, for `syllabus sweep` to choose a recipe on without reading a test split. Beside the
# splits, like the general ones: only a build whose spec asks for it has one, no gate check,
# report or `run` scores it, and it is audited against train and against every test split.
DevSplit = Literal["dev"]
DEV_SPLIT: DevSplit = "dev"
# What is scored (lm-eval tasks, eval files, gate checks), in report order. `train_sample`
# is a scored sample of train (memorization), never a split of its own.
ScoredSplit = Literal["train_sample", "test_paraphrase", "test_form", "test_locality"]
SCORED_SPLITS: tuple[ScoredSplit, ...] = get_args(ScoredSplit)
# General prompts (retain.general), beside the splits: train_general becomes retain lessons;
# test_general is scored as drift from the base model's own replies, not as accuracy, so no
# accuracy check reads it and no lm-eval task holds it.
GeneralSplit = Literal["test_general"]
GENERAL_SPLITS = ("train_general", "test_general")
# How an item is scored: multiple-choice log-likelihood; the verdict a greedy reply reaches.
Reading = Literal["mc", "gen"]
READINGS: tuple[Reading, ...] = get_args(Reading)
Arm = Literal["base", "prompted", "constant", "tuned"]
# The arms lm-eval scores into runs/<id>/eval/<arm>.json: a run lacking one is incomplete.
ARMS: tuple[Arm, ...] = ("base", "prompted", "tuned")
# Every arm a verdict shows, in report column order: the baselines, then the tuned model.
# `constant` is no model: the gate computes it from the build (evaluation/constant.py).
REPORT_ARMS: tuple[Arm, ...] = get_args(Arm)
