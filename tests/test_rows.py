"""build/rows.py: the one row codec — JSONL, Parquet, dict form and reader from one definition."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.build.read import _read_rows
from compiler.build.rows import EXAMPLE_ROWS, GENERAL_ROWS
from compiler.errors import UsageError
from compiler.records import Example, GeneralPrompt, Provenance

_text = st.text(max_size=30)  # any unicode: quotes, backslashes, braces, %, control characters, U+2028


def _example(prompt="What colour is the box?", reply="Blue.", choices=("Blue", "Red"), label=0, ops=()) -> Example:
    prov = Provenance("r", "open", "open", "f1", 3, "rule", "box", ("blue",), tuple(ops))
    return Example("0123456789abcdef", prompt, choices[label], reply, tuple(choices), label, prov,
                   tuple(f"It is {c}." for c in choices))


@settings(max_examples=150, deadline=None)
@given(prompt=_text, reply=_text, choices=st.lists(_text, min_size=1, max_size=4), ops=st.lists(_text, max_size=3),
       split=st.sampled_from(["train", "te%st", 'q"uote']))
def test_every_form_of_a_row_comes_from_one_definition(prompt, reply, choices, ops, split):
    rows = (_example(prompt, reply, tuple(choices), 0, ops), _example(reply, prompt, tuple(choices), 0))
    dicts = [EXAMPLE_ROWS.to_row(e, split) for e in rows]
    want = "".join(json.dumps(d, ensure_ascii=False, separators=(",", ":")) + "\n" for d in dicts)
    assert EXAMPLE_ROWS.json_lines(rows, split) == want
    assert EXAMPLE_ROWS.table(rows, split).to_pylist() == dicts
    assert tuple(EXAMPLE_ROWS.from_row(d) for d in dicts) == rows


def test_general_prompts_round_trip_with_their_provenance_nested():
    rows = (GeneralPrompt("g1", "Write a haiku about the sea.", "writing", "haiku", 2),
            GeneralPrompt("g2", "What is 7 × 8?", "arithmetic", "times", 0))
    dicts = [GENERAL_ROWS.to_row(g, "test_general") for g in rows]
    assert dicts[0] == {"id": "g1", "split": "test_general",
                        "messages": [{"role": "user", "content": "Write a haiku about the sea."}],
                        "question": "Write a haiku about the sea.",
                        "provenance": {"kind": "writing", "family": "haiku", "template": 2}}
    assert GENERAL_ROWS.table(rows, "test_general").to_pylist() == dicts
    assert [json.loads(line) for line in GENERAL_ROWS.json_lines(rows, "test_general").splitlines()] == dicts
    assert tuple(GENERAL_ROWS.from_row(d) for d in dicts) == rows


def test_rows_are_chat_data_that_trl_reads_as_such():
    # TRL's SFTTrainer picks its dataset type by these keys: a `prompt` column beside `messages` made it
    # read the rows as prompt-completion data and fail with KeyError: 'completion'; `text` is its
    # language-modelling column.
    trl_keys = {"prompt", "completion", "chosen", "rejected", "text"}
    for codec in (EXAMPLE_ROWS, GENERAL_ROWS):
        names = {c.name for c in codec.columns}
        assert "messages" in names and not names & trl_keys
    row = EXAMPLE_ROWS.to_row(_example(), "train")
    assert [t["role"] for t in row["messages"]] == ["user", "assistant"]
    assert row["messages"][0]["content"] == row["question"]


@pytest.mark.parametrize("line, what", [
    ('{"id": "x"}', "'messages'"),  # a missing column is named
    (None, "text was expected"),  # a number where text belongs
    ('[1, 2]', "a JSON array"),
])
def test_a_bad_row_is_located_at_its_line(tmp_path, line, what):
    good = json.dumps(EXAMPLE_ROWS.to_row(_example(), "train"), separators=(",", ":"))
    if line is None:
        line = good.replace('"question":"What colour is the box?"', '"question":7')
    path = tmp_path / "train.jsonl"
    path.write_text(good + "\n" + line + "\n")
    with pytest.raises(UsageError) as info:
        _read_rows(path, EXAMPLE_ROWS.from_row)
    message = info.value.user_message()
    assert f"{path}:2:" in message and what in message and "recompile the build" in message


def test_a_label_that_is_not_an_integer_is_refused():
    row = EXAMPLE_ROWS.to_row(_example(), "train")
    for bad in (True, "0", 0.0):
        with pytest.raises(TypeError):
            EXAMPLE_ROWS.from_row({**row, "label": bad})
