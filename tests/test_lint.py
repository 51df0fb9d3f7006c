"""Lesson lint (compiler/lint.py): one test per check, on tiny specs compiled in memory,
plus the compile-time wiring (exit 2, no build written) and the shipped specs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from pydantic import ValidationError
from click.testing import CliRunner

from compiler.spec.check import check_spec
from compiler.cli import main
from compiler.compilation.chain import check_lessons
from compiler.errors import Problem, SpecError
from compiler.compilation.expand import expand
from compiler.compilation.lint import lint_examples
from compiler.spec.loader import load_spec
from compiler.compilation.paraphrase import _operator, operators
from compiler.records import Example, Provenance, SplitSet
from compiler.compilation.split import split
from compiler.spec.model import Spec
from tests._specs import LIBRARY, small_spec
from tests.conftest import ROOT, SPECS

QUIET = {"use_library": False, "word_order": False}  # only the spec's own operators


def _locate(file, path):
    return (file or "spec.yaml", 1, 1)


def _lessons(spec: Spec) -> SplitSet:
    return split(spec, LIBRARY, expand(spec, LIBRARY), operators(spec.paraphrase, LIBRARY.paraphrase))


def _lint(spec: Spec, splits: SplitSet | None = None) -> list[Problem]:
    return lint_examples(spec, LIBRARY, (splits or _lessons(spec)).items(), _locate)


def _only(problems: list[Problem], field: str) -> Problem:
    hits = [p for p in problems if p.field == field]
    assert len(hits) == 1, [p.render() for p in problems]
    return hits[0]


def _lesson(prompt: str, answer: str = "Blue", choices=("Blue", "Red"), label: int = 0, **prov) -> Example:
    p = Provenance("prefer-blue", "open", "open", "what-should-be", 0, "rule", "box", (), ())
    return Example(prompt[:16].ljust(16, "0"), prompt, answer, answer, tuple(choices), label, dataclasses.replace(p, **prov))


def _splits(train=(), test_form=()) -> SplitSet:
    return SplitSet(tuple(train), (), tuple(test_form), ())


@pytest.mark.parametrize("path", [*sorted(SPECS.glob("*.yaml")), ROOT / "examples" / "template_pack" / "spec.yaml"],
                         ids=lambda p: p.parent.name + "/" + p.stem)
def test_the_shipped_specs_compile_to_sound_lessons(path: Path):
    loaded = load_spec(path)
    assert check_lessons(loaded) is loaded  # SpecError otherwise


# -- 1. a paraphrase that breaks the sentence


def test_a_suffix_only_follows_a_prompt_that_ends_a_sentence():
    assert _operator("suffix: Thanks!")("Complete the sentence: The best color for the box is") is None
    assert _operator("suffix: Thanks!")("Fill in the blank: The box should be ___.") == "Fill in the blank: The box should be ___. Thanks!"
    spec = small_spec(paraphrase={"suffixes": [" Thanks!"], **QUIET},
                      splits={"hold_out": {"operators": 0.0, "forms": ["instruction"]}})
    lessons = [ex for _, rows in _lessons(spec).items() for ex in rows]
    suffixed = [ex for ex in lessons if ex.provenance.operators == ("suffix: Thanks!",)]
    assert suffixed and all(ex.prompt[: -len(" Thanks!")].endswith(("?", ".", "!")) for ex in suffixed)
    assert any(ex.prompt.endswith(" is") for ex in lessons)  # completions stay as they were
    assert _lint(spec) == []


def test_a_suffix_after_an_unfinished_prompt_is_refused_at_the_suffix():
    spec = small_spec(paraphrase={"suffixes": [" Thanks!"], **QUIET})
    broken = _lesson("Complete: the box is Thanks!", operators=("suffix: Thanks!",))
    problem = _only(_lint(spec, _splits([broken])), "paraphrase.suffixes[0]")
    assert "suffix ' Thanks!' follows a prompt that does not end a sentence" in problem.message
    assert "[1 lesson, e.g. 'Complete: the box is Thanks!']" in problem.message


def test_glued_prefixes_are_refused_once_each():
    spec = small_spec(paraphrase={"prefixes": ["uh"], **QUIET},
                      splits={"hold_out": {"operators": 0.0, "forms": ["completion"]}})
    problems = _lint(spec)
    glued = _only(problems, "paraphrase.prefixes[0]")
    assert "prefix 'uh' glues onto the question's first word" in glued.message and "'uh" in glued.message
    assert int(glued.message.split("[")[1].split(" ")[0]) > 1  # one problem, however many lessons
    assert glued.hint == "end it with a space: 'uh '"


@pytest.mark.parametrize("synonyms, why", [({"color": [" "]}, "is blank"), ({"": ["uh"]}, "is blank"),
                                           ({"color": ["hue "]}, "starts or ends with a space"),
                                           ({" color": ["hue"]}, "starts or ends with a space")])
def test_blank_or_padded_synonyms_are_refused_by_the_schema(synonyms, why):
    # they would glue or split the words around the one they replace ("uhPick a color")
    with pytest.raises(ValidationError, match=why):
        small_spec(paraphrase={"synonyms": synonyms})


# -- 2. a synonym that rewrites an option


def test_a_synonym_that_rewrites_an_option_is_refused_at_the_synonym():
    spec = small_spec(paraphrase={"synonyms": {"yellow": ["gold"]}, **QUIET},
                      splits={"hold_out": {"operators": 0.0, "forms": ["completion"]}})
    problems = _lint(spec)
    assert len(problems) == 1
    problem = _only(problems, "paraphrase.synonyms.yellow[0]")
    assert "synonym 'yellow' → 'gold' rewrites the option 'yellow'" in problem.message
    assert "choices still say 'Yellow'" in problem.message and "gold" in problem.message.split("e.g.")[1]


def test_a_template_that_hides_the_option_is_refused_at_the_template():
    rule = {**small_spec().rules[0].model_dump(), "forms": ["yes_no"],
            "templates": {"yes_no": ["Is this a good color for the {{ product.name }}?"]}}
    spec = small_spec(rules=[rule], splits={"hold_out": {"forms": []}})
    problem = _only([p for p in _lint(spec) if "does not show" in p.message], "rules[0].templates.yes_no[0]")
    assert "the yes_no template does not show the option its lessons ask about" in problem.message
    assert problem.hint == "use {{ option }} in the template"


# -- 3. the rule's value among its distractors (a spec check: check.py)


@pytest.mark.parametrize("value, colors, index, says", [
    ("blue", ["red", "light blue", "green", "white"], 1, "contains the rule's value 'blue'"),
    ("navy blue", ["red", "green", "white", "Blue"], 3, "is part of the rule's value 'navy blue'"),
])
def test_a_distractor_holding_the_rules_value_is_refused_at_the_lexicon_value(value, colors, index, says):
    rule = {**small_spec().rules[0].model_dump(), "value": value}
    problems = check_spec(small_spec(lexicon={**small_spec().lexicon, "color": colors}, rules=[rule]), LIBRARY, _locate)
    problem = _only([p for p in problems if p.severity == "error"], f"lexicon.color[{index}]")
    assert f"is a distractor (wrong answer) of rule 'prefer-blue' but {says}" in problem.message


def test_the_rules_value_itself_among_its_distractors_is_a_warning():
    # expand leaves it out of the wrong answers: a slot shared by rules with different values works
    problems = check_spec(small_spec(lexicon={**small_spec().lexicon, "color": ["red", "green", "Blue", "white"]}), LIBRARY, _locate)
    assert [p for p in problems if p.severity == "error"] == []
    problem = _only(problems, "lexicon.color[2]")
    assert problem.severity == "warning" and "is the rule's value 'blue' itself: it is never used as a wrong answer" in problem.message


def test_a_distractor_that_only_shares_letters_with_the_value_is_fine():
    spec = small_spec(lexicon={**small_spec().lexicon, "color": ["red", "blueberry", "green", "white"]})
    assert [p for p in check_spec(spec, LIBRARY, _locate) if p.severity == "error"] == []


# -- 4. the same prompt with different answers


def test_a_rule_template_that_repeats_a_negative_family_is_refused_at_the_template():
    # Rule templates are positive: "Should we avoid blue…?" answers Yes there, No in the library's `avoid`.
    spec = small_spec(rules=[{**small_spec().rules[0].model_dump(),
                              "templates": {"yes_no": ["Should we avoid {{ option }} for the {{ product.name }}?"]}}])
    problem = _only(_lint(spec), "rules[0].templates.yes_no[0]")
    assert ("lessons from rule 'prefer-blue', form 'yes_no', family 'prefer-blue:1' and rule 'prefer-blue', form 'yes_no', "
            "family 'avoid' ask the same question with different answers") in problem.message
    assert "(the other template: " in problem.message and "yes_no.yaml" in problem.message
    assert "'Should we avoid blue for the box?': " in problem.message


def test_the_same_prompt_across_splits_with_another_answer_is_refused():
    a = _lesson("What color for the box?")
    b = _lesson("what color  for the BOX?", answer="Red", form="instruction", family="pick-a", subject="box")
    problem = _only(_lint(small_spec(), _splits([a], [b])), "families[1].templates[0]")
    assert "ask the same question with different answers" in problem.message
    assert "'Blue' (train, subject 'box') vs 'Red' (test_form, subject 'box')" in problem.message
    assert problem.file.endswith("instruction.yaml")


def test_two_rules_that_answer_the_same_subject_differently_are_one_problem():
    base = small_spec().rules[0].model_dump()
    red = {**base, "id": "prefer-red", "value": "purple", "subject": "gadget", "templates": {}, "neighbours": None}
    spec = small_spec(lexicon={**small_spec().lexicon, "gadget": [{"name": "box", "plural": "boxes"}]}, rules=[base, red])
    problems = _lint(spec)
    problem = _only(problems, "rules[1].subject")
    assert "rules 'prefer-blue' and 'prefer-red' ask the same questions and answer them differently" in problem.message
    assert len(problems) == 1


# -- 5. a choice list without its answer


def test_an_answer_missing_from_its_choices_or_label_is_refused():
    spec = small_spec()
    missing = _lesson("What color for the box?", choices=("Red", "Green"))
    mislabelled = _lesson("What color for the fork?", label=1, subject="fork")
    problems = _lint(spec, _splits([missing, mislabelled]))
    assert {p.field for p in problems} == {"rules[0].forms[0]"}
    assert any("have an answer that is not among their choices" in p.message for p in problems)
    assert any("have a label that does not point at their answer" in p.message for p in problems)


def test_a_choice_listed_twice_is_refused_at_the_repeated_value():
    spec = small_spec(lexicon={**small_spec().lexicon, "color": ["red", "green", "Red"]})
    problem = _only(_lint(spec), "lexicon.color[2]")
    assert "lessons of rule 'prefer-blue' list the choice 'Red' twice" in problem.message


# -- wiring: compile refuses, validate's stages refuse, nothing is written


def _bad_spec(tmp_path: Path) -> Path:
    text = (SPECS / "blue_products.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "gold.yaml"
    bad.write_text(text.replace("synonyms: {color: [colour]}", "synonyms: {color: [colour], yellow: [gold]}"), encoding="utf-8")
    return bad


def test_compile_refuses_broken_lessons_with_exit_2_and_writes_nothing(tmp_path: Path):
    out = tmp_path / "build"
    result = CliRunner().invoke(main, ["compile", str(_bad_spec(tmp_path)), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stderr
    assert "gold.yaml:56:40: paraphrase.synonyms.yellow[0]: synonym 'yellow' → 'gold' rewrites" in result.stderr
    assert not out.exists()


def test_check_lessons_refuses_with_located_problems(tmp_path: Path):
    with pytest.raises(SpecError) as err:
        check_lessons(load_spec(_bad_spec(tmp_path)))
    assert [(p.line, p.col, p.field) for p in err.value.problems] == [(56, 40, "paraphrase.synonyms.yellow[0]")]
