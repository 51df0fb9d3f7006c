"""Semantic checks (compiler/check.py), one behaviour per test, on specs built in memory."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from compiler.spec.check import Parts, check_spec
from compiler.errors import Problem
from compiler.spec.library import Family, Form, Library, ParaphraseLexicon, load_library
from compiler.spec.model import Spec

BLUE = yaml.safe_load((Path(__file__).parent.parent / "specs" / "blue_products.yaml").read_text())
LIB = load_library()


def _locate(file, path):
    return (file or "spec.yaml", 1, 1)


def _spec(edit=None) -> Spec:
    data = copy.deepcopy(BLUE)
    if edit:
        edit(data)
    return Spec.model_validate(data)


def _rule(data) -> dict:
    return data["rules"][0]


def _check(spec, library=LIB) -> list[Problem]:
    return check_spec(spec, library, _locate)


def _errors(problems):
    return [(p.field, p.message) for p in problems if p.severity == "error"]


def _warnings(problems):
    return [(p.field, p.message) for p in problems if p.severity == "warning"]


def _has(pairs, field, text):
    return any(f == field and text in m for f, m in pairs)


def _library(*forms: tuple[str, str, list[list[str]]]) -> Library:
    """(name, kind, families as lists of templates) → a Library for one test."""
    built = {
        name: Form(name, kind, tuple(Family(f"f{i}", tuple(t), "pack.yaml") for i, t in enumerate(fams)))
        for name, kind, fams in forms
    }
    return Library(built, ParaphraseLexicon((), (), ()))


def test_the_founding_spec_has_no_problems():
    assert _check(_spec()) == []


def test_unknown_slot_references():
    def edit(d):
        _rule(d).update(subject="products", distractors="colors")
        _rule(d)["neighbours"]["subject"] = "neighbor"

    errors = _errors(_check(_spec(edit)))
    assert _has(errors, "rules[0].subject", "unknown lexicon slot 'products'")
    assert _has(errors, "rules[0].distractors", "unknown lexicon slot 'colors'")
    assert _has(errors, "rules[0].neighbours.subject", "unknown lexicon slot 'neighbor'")
    hint = next(p.hint for p in _check(_spec(edit)) if p.field == "rules[0].subject")
    assert "did you mean 'product'?" in hint and "color, neighbour, product" in hint


def test_an_empty_slot_is_reported_once():
    problems = _check(_spec(lambda d: d["lexicon"].update(color=[])))
    assert _errors(problems) == [("lexicon.color", "lexicon slot 'color' is empty")]


def test_a_repeated_lexicon_value_is_a_warning():
    problems = _check(_spec(lambda d: d["lexicon"]["color"].append("Red")))
    assert _has(_warnings(problems), "lexicon.color[8]", "'Red' is listed twice")


def test_unknown_forms_everywhere():
    def edit(d):
        _rule(d)["forms"] = ["open", "opne"]
        _rule(d)["templates"]["yesno"] = ["Is it {{ option }}?"]
        d["splits"]["hold_out"]["forms"] = ["completions"]

    problems = _check(_spec(edit))
    errors = _errors(problems)
    assert _has(errors, "rules[0].forms[1]", "unknown form 'opne'")
    assert _has(errors, "rules[0].templates.yesno", "unknown form 'yesno'")
    assert _has(errors, "splits.hold_out.forms[0]", "unknown form 'completions'")
    assert any("available forms: completion, either_or, instruction, open, yes_no" in p.hint for p in problems)


def test_templates_for_an_unused_form_are_a_warning():
    def edit(d):
        _rule(d)["forms"] = ["open", "yes_no", "completion"]  # either_or has templates but is not used

    assert _has(_warnings(_check(_spec(edit))), "rules[0].templates.either_or", "never used")


def test_holding_out_every_form_leaves_nothing_to_train_on():
    problems = _check(_spec(lambda d: d["splits"]["hold_out"].update(forms=["open", "yes_no", "either_or", "completion", "instruction"])))
    assert _has(_errors(problems), "splits.hold_out.forms", "nothing left to train on")


def test_a_held_out_form_no_rule_uses_is_a_warning():
    def edit(d):
        _rule(d)["forms"] = ["open", "yes_no", "either_or", "instruction"]

    assert _has(_warnings(_check(_spec(edit))), "splits.hold_out.forms[0]", "no rule uses it")


def test_distractors_need_a_value_other_than_the_rule_value():
    problems = _check(_spec(lambda d: d["lexicon"].update(color=["Blue", " blue "])))
    assert _has(_errors(problems), "rules[0].distractors", "no value other than the rule's value 'blue'")


def test_fewer_than_three_distractors_is_a_warning():
    problems = _check(_spec(lambda d: d["lexicon"].update(color=["red", "green"])))
    assert _errors(problems) == []
    assert _has(_warnings(problems), "rules[0].distractors", "only 2 value(s) other than 'blue'")


def test_a_neighbour_must_not_be_in_scope():
    problems = _check(_spec(lambda d: d["lexicon"]["neighbour"].append({"name": "BOX", "color": "brown"})))
    assert _has(_errors(problems), "lexicon.neighbour[16]", "'BOX' is a neighbour of rule 'prefer-blue' (out of scope)")


def test_neighbours_from_the_subject_slot_itself():
    def edit(d):
        _rule(d)["neighbours"] = {"subject": "product", "answer": "{{ product.plural }}"}
        _rule(d).pop("facts")  # blue_products' neighbour fact names the `neighbour` slot

    errors = _errors(_check(_spec(edit)))
    assert errors == [("rules[0].neighbours.subject", "the neighbours slot 'product' is the rule's own subject slot")]


def test_a_neighbour_answer_must_render_non_empty():
    problems = _check(_spec(lambda d: d["lexicon"]["neighbour"].append({"name": "ghost", "color": " "})))
    assert _has(_errors(problems), "rules[0].neighbours.answer", "renders empty for neighbour 'ghost'")


def test_a_neighbour_answer_equal_to_the_rule_value_is_a_warning():
    problems = _check(_spec(lambda d: d["lexicon"]["neighbour"].append({"name": "sky", "color": "Blue"})))
    assert _errors(problems) == []
    assert _has(_warnings(problems), "rules[0].neighbours.answer", "neighbour 'sky' has the answer 'Blue'")


def test_neighbour_answer_scope():
    ok = _spec(lambda d: _rule(d)["neighbours"].update(answer="{{ subject.color | capitalize }} ({{ attribute }})"))
    assert _check(ok) == []
    bad = _spec(lambda d: _rule(d)["neighbours"].update(answer="{{ option }}"))
    assert _has(_errors(_check(bad)), "rules[0].neighbours.answer", "undefined variable 'option'")


def test_rule_templates_may_use_subject_fields_that_neighbours_lack():
    # `plural` exists on products only; rule templates render for products only.
    ok = _spec(lambda d: _rule(d)["templates"]["open"].append("Which {{ attribute }} for {{ subject.plural }}?"))
    assert _check(ok) == []


def test_library_templates_may_only_use_fields_neighbours_share():
    lib = _library(("open", "open", [["What {{ attribute }} for {{ subject.plural }}?"], ["Which {{ attribute }}?"]]))

    def only_open(d):
        _rule(d).update(forms=["open"], templates={})
        d["splits"]["hold_out"]["forms"] = []
        del d["gate"]  # the default checks read test_form, empty here: warnings, not errors

    problems = _check(_spec(only_open), lib)
    err = [p for p in problems if p.severity == "error"]
    assert [(p.file, p.field) for p in err] == [("pack.yaml", "families[0].templates[0]")]
    assert "'subject' has no field 'plural'" in err[0].message and "used by rule 'prefer-blue'" in err[0].message

    def no_neighbours(d):
        only_open(d)
        del _rule(d)["neighbours"]

    assert _errors(_check(_spec(no_neighbours), lib)) == []


def test_form_kind_decides_option_or_options():
    def edit(d):
        _rule(d)["templates"]["open"].append("Is {{ option }} right for the {{ product.name }}?")
        _rule(d)["templates"]["yes_no"].append("{{ options[0] }} or {{ options[1] }} for the {{ product.name }}?")

    errors = _errors(_check(_spec(edit)))
    assert _has(errors, "rules[0].templates.open[2]", "undefined variable 'option'")
    assert _has(errors, "rules[0].templates.yes_no[1]", "undefined variable 'options'")


def test_answer_phrasings_scope():
    ok = _spec(lambda d: _rule(d).update(phrasings=["{{ answer }}", "{{ answer | capitalize }} for the {{ subject.name }}."]))
    assert _check(ok) == []
    bad = _spec(lambda d: _rule(d).update(phrasings=["{{ answer }} {{ product.name }}"]))
    assert _has(_errors(_check(bad)), "rules[0].phrasings[0]", "undefined variable 'product'")


def test_fact_templates_scope():
    ok = _spec(lambda d: _rule(d).update(facts={"rule": "The {{ product.name }} should be {{ value }}",
                                                "neighbour": "The {{ subject.name }} is {{ value }}"}))
    assert _check(ok) == []
    bad = _spec(lambda d: _rule(d).update(facts={"rule": "The {{ product.name }} is {{ option }}"}))
    assert _has(_errors(_check(bad)), "rules[0].facts.rule", "undefined variable 'option'")


@pytest.mark.parametrize(
    "template, text",
    [
        ("{{ product.name ?", "template syntax error"),
        ("{{ product.plurl }}", "'product' has no field 'plurl'"),
        ("{{ ''.__class__ }}", "access to '__class__' is not allowed"),
        ("{{ product|attr('format') }}", "'attr' filter is not allowed"),
        ("{% for i in range(10**8) %}x{% endfor %}", "loops ({% for %}) are not allowed"),
        ("{% set x = 1 %}{{ x }}", "assignments ({% set %}) are not allowed"),
        ("{{ 'a' * 100000000 }}", "too large for a template"),
        ("{{ 1 / 0 }}", "division by zero"),
        ("{{ '' }}", "renders empty text"),
    ],
)
def test_bad_rule_templates(template, text):
    problems = _check(_spec(lambda d: _rule(d)["templates"]["open"].append(template)))
    assert _has(_errors(problems), "rules[0].templates.open[2]", text), problems


def test_split_warning_when_one_family_is_left_for_train():
    lib = _library(
        ("open", "open", [["What {{ attribute }} for the {{ subject.name }}?"], ["Which {{ attribute }} suits the {{ subject.name }}?"]]),
        ("recall", "open", [["Recall the {{ attribute }} of the {{ subject.name }}."]]),
    )

    def edit(d):
        _rule(d).update(forms=["open", "recall"], templates={})
        d["splits"]["hold_out"]["forms"] = ["recall"]

    warnings = _warnings(_check(_spec(edit), lib))
    assert ("rules[0].forms", "form 'open' has 2 template families; holding out 30% leaves 1 for train") in warnings

    def single(d):
        edit(d)
        d["splits"]["hold_out"]["forms"] = ["open"]

    warnings = _warnings(_check(_spec(single), lib))
    assert _has(warnings, "rules[0].forms", "form 'recall' has 1 template family; none can be held out")


def test_rule_templates_count_as_families():
    lib = _library(
        ("open", "open", [["What {{ attribute }} for the {{ subject.name }}?"], ["Which {{ attribute }} suits the {{ subject.name }}?"]]),
        ("recall", "open", [["Recall the {{ attribute }} of the {{ subject.name }}."]]),
    )

    def edit(d):
        _rule(d).update(forms=["open", "recall"], templates={"open": ["Name a {{ attribute }} for the {{ product.name }}."]})
        d["splits"]["hold_out"]["forms"] = ["recall"]

    # 2 library + 1 rule family = 3: round(0.9) = 1 held, 2 left to train on
    assert _warnings(_check(_spec(edit), lib)) == []


def test_one_neighbour_cannot_be_split():
    problems = _check(_spec(lambda d: d["lexicon"].update(neighbour=[{"name": "stop sign", "color": "red"}])))
    assert _has(_errors(problems), "rules[0].neighbours.subject", "has 1 neighbour; holding out 25% of neighbours needs at least 2")

    def no_hold_out(d):
        d["lexicon"]["neighbour"] = [{"name": "stop sign", "color": "red"}]
        d["splits"]["hold_out"]["neighbours"] = 0.0

    problems = _check(_spec(no_hold_out))
    k = next(i for i, c in enumerate(_spec(no_hold_out).gate.checks) if c.split == "test_locality")
    assert _errors(problems) == [(f"gate.checks[{k}].split", "this check reads test_locality, which will be empty: "
                                  "no rule has neighbours held out (rules[].neighbours, splits.hold_out.neighbours)")]


def test_no_neighbours_is_a_warning():
    def edit(d):
        _rule(d).pop("neighbours")
        d["gate"]["checks"] = [c for c in d["gate"]["checks"] if c.get("split") != "test_locality"]

    problems = _check(_spec(edit))
    assert _errors(problems) == []
    assert _has(_warnings(problems), "rules[0]", "has no neighbours: locality cannot be tested")


def test_gate_check_on_an_empty_split_is_an_error_where_the_spec_wrote_it():
    problems = _check(_spec(lambda d: d["splits"]["hold_out"].update(forms=[])))
    assert _has(_errors(problems), "gate.checks[1].split", "reads test_form, which will be empty")
    problems = _check(_spec(lambda d: d["splits"]["hold_out"].update(templates=0.0)))
    assert _has(_errors(problems), "gate.checks[0].split", "reads test_paraphrase, which will be empty")


def test_default_gate_check_on_an_empty_split_is_a_warning():
    # No `gate:` in the spec: the user did not write the checks that cannot run.
    def edit(d):
        d["splits"]["hold_out"]["forms"] = []
        del d["gate"]

    problems = _check(_spec(edit))
    assert _errors(problems) == []
    assert _has(_warnings(problems), "gate.checks[1].split", "reads test_form, which will be empty")


def test_a_slot_named_like_a_template_variable():
    def edit(d):
        d["lexicon"]["option"] = d["lexicon"].pop("product")
        _rule(d)["subject"] = "option"
        _rule(d)["templates"] = {}

    assert _has(_errors(_check(_spec(edit))), "rules[0].subject", "clashes with the template variable 'option'")


def test_duplicate_rule_ids_in_parts():
    spec = _spec()
    parts = Parts({k: tuple(v) for k, v in spec.lexicon.items()}, ((0, spec.rules[0]), (1, spec.rules[0])))
    errors = _errors(check_spec(parts, LIB, _locate))
    assert ("rules[1].id", "rule id 'prefer-blue' is used twice (first at rules[0])") in errors


def test_without_a_library_form_checks_are_skipped():
    problems = _check(_spec(lambda d: _rule(d).update(forms=["nope"])), library=None)
    assert not _has(_errors(problems), "rules[0].forms[0]", "unknown form")


def test_broken_slots_are_skipped_silently():
    spec = _spec()
    lexicon = {k: tuple(v) for k, v in spec.lexicon.items() if k != "color"}
    parts = Parts(lexicon, ((0, spec.rules[0]),), spec.splits.hold_out, spec.gate, frozenset({"color"}))
    assert _errors(check_spec(parts, LIB, _locate)) == []


def test_problems_are_located_through_the_lookup():
    seen = []

    def locate(file, path):
        seen.append((file, path))
        return ("where.yaml", 7, 3)

    problems = check_spec(_spec(lambda d: _rule(d).update(subject="nope")), LIB, locate)
    assert (None, ("rules", 0, "subject")) in seen
    assert all((p.file, p.line, p.col) == ("where.yaml", 7, 3) for p in problems)
