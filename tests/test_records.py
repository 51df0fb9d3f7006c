"""records: the hand-assembled JSONL line equals json.dumps of the row, for any text."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.records import Example, Provenance, stable_hash, stable_unit, unit_after, unit_hasher

text = st.text(max_size=40)  # any unicode: quotes, backslashes, control characters, U+2028, surrogates excluded


@settings(max_examples=300, deadline=None)
@given(prompt=text, reply=text, choices=st.lists(text, min_size=1, max_size=4), asked=st.lists(text, max_size=2),
       ops=st.lists(text, max_size=3), subject=text, label=st.integers(0, 3), template=st.integers(0, 10**6))
def test_json_line_is_json_dumps_of_the_row(prompt, reply, choices, asked, ops, subject, label, template):
    prov = Provenance("r", "open", "open", "fam", template, "rule", subject, tuple(asked), tuple(ops))
    ex = Example("0123456789abcdef", prompt, choices[0], reply, tuple(choices), label, prov)
    for split in ("train", "test_locality"):
        assert ex.to_json_line(split) == json.dumps(ex.to_row(split), ensure_ascii=False, separators=(",", ":"))


def test_content_sha_is_the_stable_hash_of_what_the_model_sees():
    prov = Provenance("r", "open", "open", "fam", 0, "rule", "box", (), ())
    ex = Example("0" * 16, "What colour?", "Blue", "Blue.", ("Blue", "Red"), 0, prov)
    assert ex.content_sha == stable_hash("What colour?", "Blue.", "Blue", "Blue", "Red")[:16]


@given(prefix=st.lists(st.one_of(text, st.integers()), max_size=4), last=text)
def test_unit_hasher_continues_to_stable_unit(prefix, last):
    assert unit_after(unit_hasher(*prefix), last) == stable_unit(*prefix, last)
