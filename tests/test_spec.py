"""The pydantic spec models: shorthand, defaults, strictness, discriminated gate checks, schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from pydantic import ValidationError

from compiler.cli import main
from compiler.spec.model import (
    BeatsBase,
    Gate,
    HoldOut,
    LexEntry,
    MaxDropVsBase,
    MinAccuracy,
    Rule,
    Spec,
    spec_json_schema,
)

SPEC = Path(__file__).parent.parent / "specs" / "blue_products.yaml"


def _minimal(**extra) -> dict:
    data = {
        "syllabus": 1,
        "name": "tiny",
        "lexicon": {"thing": ["box"], "color": ["red", "green"]},
        "rules": [
            {"id": "r", "statement": "Boxes are blue.", "subject": "thing", "attribute": "color", "value": "blue",
             "distractors": "color", "forms": ["open"]}
        ],
    }
    data.update(extra)
    return data


def _error_types(exc: ValidationError) -> set[str]:
    return {e["type"] for e in exc.errors()}


def test_the_founding_spec_validates():
    spec = Spec.model_validate(yaml.safe_load(SPEC.read_text()))
    assert spec.name == "blue-products"
    assert spec.rules[0].neighbours.subject == "neighbour"


def test_lexicon_shorthand_word_and_mapping():
    spec = Spec.model_validate(_minimal(lexicon={"thing": ["box", {"name": "fork", "plural": "forks"}], "color": ["red"]}))
    box, fork = spec.lexicon["thing"]
    assert box == LexEntry(name="box")
    assert fork.forms == {"plural": "forks"}
    assert fork.as_vars() == {"name": "fork", "plural": "forks"}


def test_lexicon_explicit_forms_key_is_the_long_form():
    spec = Spec.model_validate(_minimal(lexicon={"thing": [{"name": "fork", "forms": {"plural": "forks"}}], "color": ["red"]}))
    assert spec.lexicon["thing"][0].forms == {"plural": "forks"}


def test_lexicon_entry_needs_a_name_and_text_forms():
    with pytest.raises(ValidationError) as err:
        Spec.model_validate(_minimal(lexicon={"thing": [{"plural": "forks"}], "color": ["red"]}))
    assert "missing" in _error_types(err.value)
    with pytest.raises(ValidationError) as err:
        Spec.model_validate(_minimal(lexicon={"thing": [{"name": "fork", "plural": 3}], "color": ["red"]}))
    assert err.value.errors()[0]["loc"] == ("lexicon", "thing", 0, "forms", "plural")


def test_defaults():
    spec = Spec.model_validate(_minimal())
    assert spec.seed == 0 and spec.template_packs == [] and spec.description == ""
    assert spec.answers == "explained" and spec.rules[0].answers is None and spec.rules[0].style("terse") == "terse"
    assert spec.rules[0].phrasings == ["{{ answer }}"]
    assert spec.rules[0].templates == {} and spec.rules[0].neighbours is None
    assert spec.splits.hold_out == HoldOut(templates=0.3, operators=0.3, forms=[], neighbours=0.5)
    assert [type(c) for c in spec.gate.checks] == [MinAccuracy, MinAccuracy, BeatsBase, MaxDropVsBase]
    assert spec.gate.checks[-1].reading == "mc"  # neighbours' knowledge, not the base's reply format
    assert spec.train.model == "default" and spec.train.lora.r == 16


@pytest.mark.parametrize(
    "patch",
    [
        {"colour": 1},
        {"splits": {"hold_out": {"template": 0.3}}},
        {"train": {"lora": {"rank": 8}}},
    ],
    ids=["top", "nested", "deep"],
)
def test_unknown_fields_are_errors(patch):
    with pytest.raises(ValidationError) as err:
        Spec.model_validate(_minimal(**patch))
    assert _error_types(err.value) == {"extra_forbidden"}


def test_unknown_rule_field_is_an_error():
    data = _minimal()
    data["rules"][0]["distractor"] = "color"
    with pytest.raises(ValidationError) as err:
        Spec.model_validate(data)
    assert ("rules", 0, "distractor") in [e["loc"] for e in err.value.errors()]


@pytest.mark.parametrize("frac", [-0.1, 1.0, 1.5])
def test_hold_out_fractions_are_in_0_1(frac):
    with pytest.raises(ValidationError):
        HoldOut(templates=frac)


def test_ids_and_slot_names_follow_their_patterns():
    rule = _minimal()["rules"][0]
    with pytest.raises(ValidationError):
        Rule.model_validate({**rule, "id": "Prefer Blue"})
    with pytest.raises(ValidationError):
        Rule.model_validate({**rule, "subject": "My-Slot"})
    assert Rule.model_validate({**rule, "id": "prefer_blue-2"}).id == "prefer_blue-2"


def test_gate_checks_are_discriminated_by_kind():
    gate = Gate.model_validate(
        {"checks": [{"kind": "max_gap", "split": "test_form", "max": 0.2}, {"kind": "beats_base", "split": "test_form"}]}
    )
    assert [type(c).__name__ for c in gate.checks] == ["MaxGap", "BeatsBase"]
    assert gate.checks[1].alpha == 0.05


def test_baseline_check_kinds_and_their_defaults():
    gate = Gate.model_validate({"checks": [{"kind": "beats_prompted", "split": "test_paraphrase"},
                                           {"kind": "beats_constant", "split": "test_form", "min_gain": 0.1, "reading": "mc"}]})
    prompted, constant = gate.checks
    assert type(prompted).__name__ == "BeatsPrompted" and (prompted.min_gain, prompted.alpha, prompted.reading) == (0.0, 0.05, None)
    assert type(constant).__name__ == "BeatsConstant" and (constant.min_gain, constant.reading) == (0.1, "mc")
    with pytest.raises(ValidationError):  # "lose to the constant answer by at most …" is no baseline check
        Gate.model_validate({"checks": [{"kind": "beats_constant", "split": "test_form", "min_gain": -0.1}]})
    with pytest.raises(ValidationError) as err:  # beats_constant has no significance level to set
        Gate.model_validate({"checks": [{"kind": "beats_constant", "split": "test_form", "alpha": 0.05}]})
    assert _error_types(err.value) == {"extra_forbidden"}


def test_a_check_without_a_reading_leaves_it_to_the_spec():
    spec = Spec.model_validate(_minimal())
    assert all(c.reading is None for c in spec.gate.checks[:-1])  # the default locality check names mc
    assert spec.primary_reading() == "gen"  # answers: explained, the default
    assert Spec.model_validate(_minimal(answers="terse")).primary_reading() == "mc"


def test_unknown_gate_kind_and_split_are_errors():
    with pytest.raises(ValidationError) as err:
        Gate.model_validate({"checks": [{"kind": "min_acc", "split": "test_form", "min": 0.5}]})
    assert _error_types(err.value) == {"union_tag_invalid"}
    with pytest.raises(ValidationError) as err:
        Gate.model_validate({"checks": [{"kind": "min_accuracy", "split": "test_frm", "min": 0.5}]})
    assert _error_types(err.value) == {"literal_error"}


def test_models_are_frozen():
    spec = Spec.model_validate(_minimal())
    with pytest.raises(ValidationError):
        spec.seed = 3


def test_rule_ids_are_unique():
    data = _minimal()
    data["rules"].append(dict(data["rules"][0]))
    with pytest.raises(ValidationError, match="used twice"):
        Spec.model_validate(data)


def test_only_format_version_1():
    with pytest.raises(ValidationError):
        Spec.model_validate(_minimal(syllabus=2))


def test_json_schema_names_every_top_level_field():
    schema = spec_json_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    assert set(schema["properties"]) == set(Spec.model_fields)
    assert {"syllabus", "name", "lexicon", "rules"} <= set(schema["required"])


def test_schema_command_prints_valid_json():
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert {"lexicon", "rules", "splits", "gate", "train"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False
