"""Property: whatever the file holds, load_spec returns a LoadedSpec or raises SpecError.

Inputs are mutations of the valid founding spec (dropped keys, swapped value types,
random text in templates, truncated and spliced text) and plain random bytes. Any
other exception (KeyError, RecursionError, a jinja2 error...) is a bug: the CLI would
show a traceback. 200 examples in all, no deadline (a busy 2-core machine).
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.errors import SpecError
from compiler.spec.loader import LoadedSpec, load_spec

SPEC = Path(__file__).parent.parent / "specs" / "blue_products.yaml"
TEXT = SPEC.read_text(encoding="utf-8")
DATA = yaml.safe_load(TEXT)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a key or list item in value."""
    out = []
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return out
    for key, child in items:
        out.append(prefix + (key,))
        out += _paths(child, prefix + (key,))
    return out


PATHS = _paths(DATA)
TEMPLATE_PATHS = [p for p in PATHS if isinstance(p[-1], int) and p[:3] == ("rules", 0, "templates")] + [
    ("rules", 0, "neighbours", "answer")
]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20),
    st.sampled_from(["", "open", "product", "{{ subject.name }}", "1.5", "-3", "test_form", "~", "yes"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
jinja_bits = st.sampled_from(["{{", "}}", "{%", "%}", "{#", "|", "attr", "__class__", "*", "10**9", "range(", "product.", "option", "'"])


def _outcome(text_or_bytes: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.yaml"
        if isinstance(text_or_bytes, bytes):
            path.write_bytes(text_or_bytes)
        else:
            path.write_text(text_or_bytes, encoding="utf-8", errors="surrogatepass")
        try:
            result = load_spec(path)
        except SpecError as exc:
            assert exc.problems, "a SpecError must list at least one problem"
            assert all(p.render() for p in exc.problems)
            return
        assert isinstance(result, LoadedSpec)


def _set(data: Any, path: tuple, value: Any) -> None:
    for step in path[:-1]:
        data = data[step]
    data[path[-1]] = value


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@SETTINGS
@given(st.sampled_from(PATHS))
def test_dropping_any_key(path):
    data = copy.deepcopy(DATA)
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    _outcome(_dump(data))


@SETTINGS
@given(st.sampled_from(PATHS), values)
def test_swapping_any_value(path, value):
    data = copy.deepcopy(DATA)
    _set(data, path, value)
    _outcome(_dump(data))


@SETTINGS
@given(st.sampled_from(TEMPLATE_PATHS), st.lists(st.one_of(jinja_bits, st.text(max_size=6)), max_size=6), st.integers(0, 200))
def test_random_text_in_templates(path, bits, at):
    data = copy.deepcopy(DATA)
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    source = parent[path[-1]]
    at = min(at, len(source))
    parent[path[-1]] = source[:at] + "".join(bits) + source[at:]
    _outcome(_dump(data))


@SETTINGS
@given(st.integers(0, len(TEXT)), st.integers(0, len(TEXT)), st.text(max_size=12))
def test_truncated_and_spliced_text(cut, resume, glue):
    _outcome(TEXT[:cut] + glue + TEXT[resume:])


@SETTINGS
@given(st.binary(max_size=300) | st.builds(lambda b, i: TEXT.encode()[:i] + b, st.binary(max_size=20), st.integers(0, len(TEXT))))
def test_random_bytes(data):
    _outcome(data)
