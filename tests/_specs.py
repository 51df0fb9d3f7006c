"""Small in-memory specs for unit tests of the compile stages."""

from __future__ import annotations

from compiler.spec.library import load_library
from compiler.spec.model import Spec


def small_spec(**overrides) -> Spec:
    doc = {
        "syllabus": 1,
        "name": "small",
        "seed": 5,
        "lexicon": {
            "product": [{"name": "box", "plural": "boxes"}, {"name": "fork", "plural": "forks"}],
            "color": ["red", "green", "yellow", "white"],
            "neighbour": [
                {"name": "stop sign", "color": "red"},
                {"name": "banana", "color": "yellow"},
                {"name": "lawn", "color": "green"},
                {"name": "snowman", "color": "white"},
            ],
        },
        "rules": [
            {
                "id": "prefer-blue",
                "statement": "Prefer blue paint for boxes and forks.",
                "subject": "product",
                "attribute": "color",
                "value": "blue",
                "distractors": "color",
                "forms": ["open", "yes_no", "either_or", "completion", "instruction"],
                "templates": {"open": ["What color is better for {{ product.plural }}?"]},
                "neighbours": {"subject": "neighbour", "answer": "{{ neighbour.color }}"},
            }
        ],
        "splits": {"hold_out": {"forms": ["completion"]}},
    }
    doc.update(overrides)
    return Spec.model_validate(doc)


LIBRARY = load_library()
