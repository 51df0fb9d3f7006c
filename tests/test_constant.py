"""The constant arm: each item answered with its rule's value (yes/no: train's majority verdict), no model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler.build.read import read_build
from compiler.build.rows import EXAMPLE_ROWS
from compiler.evaluation.constant import constant_arm
from compiler.records import Example
from tests._fakes import fake_manifest
from tests._gate_fixtures import example

COLORS = ("Blue", "Red", "Green")
SPEC = {
    "syllabus": 1,
    "name": "two-rules",
    "lexicon": {"product": ["box"], "tool": ["saw"], "color": ["red", "green"]},
    "rules": [
        {"id": "prefer-blue", "statement": "Boxes are blue.", "subject": "product", "attribute": "color",
         "value": "blue", "distractors": "color", "forms": ["open", "yes_no"]},
        {"id": "saws-green", "statement": "Saws are green.", "subject": "tool", "attribute": "color",
         "value": "Green", "distractors": "color", "forms": ["open", "yes_no"]},
    ],
}


def _yes_no(ident: str, answer: str, rule: str = "prefer-blue", scope: str = "rule") -> Example:
    return example(ident, answer, ("Yes", "No"), "yes_no", scope, rule)


# train: prefer-blue's yes/no lessons are mostly "No"; saws-green's are a tie.
TRAIN = (
    _yes_no("t1", "No"), _yes_no("t2", "No"), _yes_no("t3", "Yes"),
    _yes_no("t4", "Yes", "saws-green"), _yes_no("t5", "No", "saws-green"),
    example("t6", "Blue", COLORS),
)
TEST = (
    example("a", "Blue", COLORS),  # in scope: the value is right
    example("b", "Red", COLORS, scope="neighbour"),  # a neighbour: the value is wrong
    example("c", "Blue", ("Red", "Blue"), "either_or"),
    example("d", "Green", COLORS, rule="saws-green"),
    _yes_no("e", "No"),  # majority No: right
    _yes_no("f", "Yes"),  # majority No: wrong
    _yes_no("g", "Yes", "saws-green"),  # tie → Yes: right
)


def _build(root: Path, splits: dict[str, tuple[Example, ...]], spec: dict = SPEC, scored: tuple[str, ...] | None = None) -> Path:
    """A build folder as buildio.read_build reads it, with these data files; scored splits = all but train."""
    path = root / spec["name"]
    (path / "data").mkdir(parents=True)
    for split, rows in splits.items():
        text = "".join(json.dumps(EXAMPLE_ROWS.to_row(ex, split)) + "\n" for ex in rows)
        (path / "data" / f"{split}.jsonl").write_text(text, encoding="utf-8")
    scored = scored if scored is not None else tuple(s for s in splits if s != "train")
    tasks = {"group": "g", "splits": {s: {"mc": f"t_{s}", "gen": f"t_{s}_gen"} for s in scored}}
    manifest = fake_manifest(spec["name"], {s: len(r) for s, r in splits.items()}, tasks=tasks)
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    return path


def test_each_item_gets_its_rules_value_or_trains_majority_verdict(tmp_path):
    build = read_build(_build(tmp_path, {"train": TRAIN, "test_paraphrase": TEST}))
    arm = constant_arm(build)
    assert (arm.arm, arm.model, arm.complete, arm.problems) == ("constant", "constant answer", True, ())
    assert arm.build_sha256 == build.manifest.sha256
    score = arm.score("test_paraphrase", "mc")
    got = {s.id: (s.reply, s.correct) for s in score.samples}
    assert got == {
        "a": ("Blue", True),  # "blue" in the spec, spelled as the choice
        "b": ("Blue", False),
        "c": ("Blue", True),
        "d": ("Green", True),
        "e": ("No", True),
        "f": ("No", False),
        "g": ("Yes", True),
    }
    assert (score.n, score.acc) == (7, pytest.approx(5 / 7))
    assert [s.id for s in score.samples] == [ex.id for ex in TEST]  # data-file order, as lm-eval logs them


def test_a_score_per_scored_split_and_reading_of_the_spec(tmp_path):
    splits = {"train": TRAIN, "train_sample": TRAIN[:2], "test_form": TEST[:1], "test_paraphrase": TEST}
    build = read_build(_build(tmp_path, splits))
    keys = [(s.split, s.reading) for s in constant_arm(build).scores]
    assert keys == [(s, r) for s in ("train_sample", "test_paraphrase", "test_form") for r in ("mc", "gen")]
    only_mc = read_build(_build(tmp_path / "mc", splits, {**SPEC, "eval": {"readings": ["mc"]}}))
    assert {s.reading for s in constant_arm(only_mc).scores} == {"mc"}
    both = constant_arm(build)
    assert both.score("test_paraphrase", "gen").samples == both.score("test_paraphrase", "mc").samples


def test_no_yes_no_lessons_in_train_means_yes(tmp_path):
    build = read_build(_build(tmp_path, {"train": (TRAIN[-1],), "test_form": (_yes_no("e", "No"), _yes_no("f", "Yes"))}))
    samples = constant_arm(build).score("test_form", "mc").samples
    assert [(s.reply, s.correct) for s in samples] == [("Yes", False), ("Yes", True)]


def test_a_value_that_is_no_choice_is_answered_as_written_and_wrong(tmp_path):
    build = read_build(_build(tmp_path, {"train": TRAIN, "test_locality": (example("x", "Red", ("Red", "Green")),)}))
    (sample,) = constant_arm(build).score("test_locality", "mc").samples
    assert (sample.reply, sample.correct) == ("blue", False)


def test_unreadable_or_foreign_data_makes_the_arm_incomplete(tmp_path):
    path = _build(tmp_path, {"train": TRAIN, "test_paraphrase": TEST, "test_form": (example("z", "Blue", COLORS, rule="other"),)},
                  scored=("test_paraphrase", "test_form", "test_locality"))
    arm = constant_arm(read_build(path))
    assert arm.complete is False
    assert {s.split for s in arm.scores} == {"test_paraphrase"}  # the readable, known splits still count
    text = " ".join(arm.problems)
    assert "test_form: items of rules the spec does not define (other)" in text
    assert "test_locality" in text and "missing data/test_locality.jsonl" in text
    (path / "data" / "train.jsonl").write_text("{not json\n", encoding="utf-8")
    arm = constant_arm(read_build(path))
    assert (arm.complete, arm.scores) == (False, ()) and arm.problems[0].startswith("train: ")
