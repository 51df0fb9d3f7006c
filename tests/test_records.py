"""records: stable hashing, and the content hash of what the model sees."""

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.records import Example, Provenance, stable_hash, stable_unit, unit_after, unit_hasher

text = st.text(max_size=40)  # any unicode: quotes, backslashes, control characters, U+2028, surrogates excluded


def test_content_sha_is_the_stable_hash_of_what_the_model_sees():
    prov = Provenance("r", "open", "open", "fam", 0, "rule", "box", (), ())
    ex = Example("0" * 16, "What colour?", "Blue", "Blue.", ("Blue", "Red"), 0, prov)
    assert ex.content_sha == stable_hash("What colour?", "Blue.", "Blue", "Blue", "Red")[:16]


@given(prefix=st.lists(st.one_of(text, st.integers()), max_size=4), last=text)
def test_unit_hasher_continues_to_stable_unit(prefix, last):
    assert unit_after(unit_hasher(*prefix), last) == stable_unit(*prefix, last)
