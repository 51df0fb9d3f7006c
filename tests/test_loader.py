"""loader.load_spec and yamlio: safe YAML, positions, located schema errors, packs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from compiler.errors import SpecError
from compiler.spec.library import FormFile
from compiler.spec.loader import LoadedSpec, load_spec
from compiler.spec.yamlio import MAX_BYTES, field_name, parse_model, read_yaml

SPEC = Path(__file__).parent.parent / "specs" / "blue_products.yaml"
BLUE = SPEC.read_text(encoding="utf-8")


def _write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list:
    with pytest.raises(SpecError) as err:
        load_spec(path)
    return err.value.problems


def _where(problems) -> set[tuple[int, int, str]]:
    return {(p.line, p.col, p.field) for p in problems}


def test_loads_the_founding_spec():
    loaded = load_spec(SPEC)
    assert isinstance(loaded, LoadedSpec)
    assert loaded.spec.name == "blue-products"
    assert loaded.path == SPEC
    assert loaded.source_text == BLUE
    assert loaded.source_sha256 == hashlib.sha256(SPEC.read_bytes()).hexdigest()
    assert {"open", "yes_no", "either_or", "completion", "instruction"} <= set(loaded.library.forms)
    assert loaded.warnings == ()


def test_read_yaml_positions_are_1_based(tmp_path: Path):
    doc = read_yaml(_write(tmp_path, "a: 1\nb:\n  - x\n  - {c: d}\n"))
    assert doc.data == {"a": 1, "b": ["x", {"c": "d"}]}
    assert doc.walk(("a",))[:2] == (1, 4)
    assert doc.walk(("b", 1, "c")) == (4, 9, ("b", 1, "c"))
    assert doc.key_position(("b", 1, "c")) == (4, 6)
    # a missing last step stays at its parent (where a missing field belongs)
    assert doc.walk(("b", 1, "nope")) == (4, 5, ("b", 1))


def test_walk_skips_steps_that_are_not_in_the_file(tmp_path: Path):
    doc = read_yaml(_write(tmp_path, "gate:\n  checks:\n    - {kind: min_accuracy, split: x}\n"))
    # pydantic puts the union tag in loc: ('gate', 'checks', 0, 'min_accuracy', 'split')
    assert doc.walk(("gate", "checks", 0, "min_accuracy", "split")) == (3, 35, ("gate", "checks", 0, "split"))


def test_field_names_read_like_paths():
    assert field_name(("rules", 0, "neighbours", "answer")) == "rules[0].neighbours.answer"
    assert field_name(("lexicon", "color", 3)) == "lexicon.color[3]"
    assert field_name(()) == ""


def test_scalars_stay_text_unless_null_bool_or_number(tmp_path: Path):
    doc = read_yaml(_write(tmp_path, "d: 2024-01-01\ne: =\nf: yes\ng: 0x10\nh: 1.5\ni: ~\nj: '7'\n"))
    assert doc.data == {"d": "2024-01-01", "e": "=", "f": True, "g": 16, "h": 1.5, "i": None, "j": "7"}


@pytest.mark.parametrize(
    "text, line, col, message",
    [
        ("a: 1\na: 2\n", 2, 1, "duplicate key 'a' (first at line 1)"),
        ("a: !!str 1\n", 1, 4, "tags are not allowed"),
        ("a: !!python/object:os.system x\n", 1, 4, "tags are not allowed (found '!!python/object:os.system')"),
        ("a: &x 1\n", 1, 4, "anchors (&x) are not allowed"),
        ("a: [1]\nb: {<<: {c: 1}}\n", 2, 5, "merge keys (<<) are not allowed"),
        ("? [a]\n: 1\n", 1, 3, "keys must be plain words"),
        ("a:\n  b: 1\n c: 2\n", 3, 2, "YAML syntax error"),
        ("[" * 200 + "]" * 200, 1, 65, "nesting deeper than 64 levels"),
        ("a: 1\n---\nb: 2\n", 2, 1, "more than one YAML document"),
        ("", 1, 1, "the file is empty"),
        ("- a\n", 1, 1, "the top level must be a mapping"),
    ],
)
def test_yaml_level_problems_are_located(tmp_path: Path, text, line, col, message):
    with pytest.raises(SpecError) as err:
        read_yaml(_write(tmp_path, text))
    assert any((p.line, p.col) == (line, col) and message in p.message for p in err.value.problems), err.value.problems


def test_an_alias_bomb_never_expands(tmp_path: Path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefghijklmnopqrstuvwxy", "bcdefghijklmnopqrstuvwxyz"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    problems = _problems(_write(tmp_path, "\n".join(lines) + "\n"))  # 9**26 strings if expanded
    assert len([p for p in problems if "aliases" in p.message]) == 25  # each alias name reported once


def test_the_size_cap(tmp_path: Path):
    at_cap = BLUE + "#" * (MAX_BYTES - len(BLUE.encode()) - 1) + "\n"
    assert len(at_cap.encode()) == MAX_BYTES
    assert load_spec(_write(tmp_path, at_cap)).spec.name == "blue-products"
    over = at_cap + "\n"
    with pytest.raises(SpecError, match="larger than the 1 MiB limit"):
        load_spec(_write(tmp_path, over))


def test_non_utf8_is_located_at_the_byte(tmp_path: Path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("syllabus: 1\nname: café\n".encode("latin-1"))
    (problem,) = _problems(path)
    assert (problem.line, problem.col) == (2, 10)
    assert "not UTF-8" in problem.message


def test_a_missing_file(tmp_path: Path):
    (problem,) = _problems(tmp_path / "nope.yaml")
    assert "cannot read the file" in problem.message


def test_schema_errors_are_located_at_their_node(tmp_path: Path):
    form_check = next(line for line in BLUE.splitlines() if line.startswith("    - {kind: min_accuracy, split: test_form, min: "))
    text = BLUE.replace("    distractors: color\n", "    distractor: color\n").replace(
        form_check, form_check.rsplit("min: ", 1)[0] + "min: 1.5}")
    problems = _problems(_write(tmp_path, text))
    rule_line = BLUE.splitlines().index("  - id: prefer-blue") + 1
    assert (rule_line, 5, "rules[0].distractors") in _where(problems)  # missing: at the parent mapping
    assert (rule_line + 5, 5, "rules[0].distractor") in _where(problems)  # unknown: at the key
    typo = next(p for p in problems if p.field == "rules[0].distractor")
    assert "did you mean 'distractors'?" in typo.hint
    frac = next(p for p in problems if p.field == "gate.checks[1].min")
    assert frac.line == BLUE.splitlines().index(form_check) + 1
    assert "less than or equal to 1" in frac.message and "1.5" in frac.message


def test_a_number_where_text_belongs_says_to_quote_it(tmp_path: Path):
    (problem,) = _problems(_write(tmp_path, BLUE.replace("    value: blue\n", "    value: 42\n")))
    assert problem.field == "rules[0].value"
    assert 'write "42" in quotes' in problem.hint


def test_semantic_checks_still_run_when_the_schema_fails(tmp_path: Path):
    # the rule's id is broken (schema), its subject slot is unknown (semantic),
    # and the lexicon's `color` slot is broken (schema) so the distractor check is skipped
    text = (
        BLUE.replace("  - id: prefer-blue", "  - id: Prefer Blue")
        .replace("    subject: product\n", "    subject: produce\n")
        .replace("  color: [red,", "  color: [{nam: red},")
    )
    problems = _problems(_write(tmp_path, text))
    fields = {p.field for p in problems}
    assert {"rules[0].id", "rules[0].subject", "lexicon.color[0].name", "lexicon.color[0].nam"} <= fields
    assert not any(p.field == "rules[0].distractors" for p in problems)


def test_a_duplicate_rule_id_is_reported_once_at_the_second_id(tmp_path: Path):
    second = "  - {id: prefer-blue, statement: s, subject: product, attribute: color, value: blue, distractors: color, forms: [open], neighbours: {subject: neighbour, answer: '{{ neighbour.color }}'}}\n"
    text = BLUE.replace("\nparaphrase:\n", second + "\nparaphrase:\n")
    problems = _problems(_write(tmp_path, text))
    assert [(p.field, p.message) for p in problems] == [("rules[1].id", "rule id 'prefer-blue' is used twice (first at rules[0])")]


def _pack(root: Path, form: str, template: str, kind: str = "open") -> Path:
    (root / "forms").mkdir(parents=True)
    (root / "forms" / f"{form}.yaml").write_text(
        f"form: {form}\nkind: {kind}\nfamilies:\n  - id: one\n    templates: [{template!r}]\n"
        f"  - id: two\n    templates: ['Tell me the {{{{ attribute }}}} of the {{{{ subject.name }}}}.']\n",
        encoding="utf-8",
    )
    return root


def test_template_packs_are_relative_to_the_spec_file(tmp_path: Path):
    _pack(tmp_path / "spec_dir" / "mypack", "riddle", "Riddle: which {{ attribute }} is the {{ subject.name }}?")
    text = BLUE.replace("seed: 7\n", "seed: 7\ntemplate_packs: [mypack]\n").replace("instruction]", "instruction, riddle]")
    loaded = load_spec(_write(tmp_path / "spec_dir", text))
    assert "riddle" in loaded.library.forms and "open" in loaded.library.forms


def test_a_missing_pack_folder_is_named(tmp_path: Path):
    text = BLUE.replace("seed: 7\n", "seed: 7\ntemplate_packs: [nowhere]\n")
    (problem,) = _problems(_write(tmp_path, text))
    assert problem.field == "template_packs[0]" and "'nowhere' not found" in problem.message
    assert str(tmp_path / "nowhere") in problem.message


def test_a_broken_pack_template_is_located_in_the_pack_file(tmp_path: Path):
    pack = _pack(tmp_path / "pack", "riddle", "Riddle: {{ subject.colour }}?")
    text = BLUE.replace("seed: 7\n", "seed: 7\ntemplate_packs: [pack]\n").replace("instruction]", "instruction, riddle]")
    (problem,) = _problems(_write(tmp_path, text))
    assert Path(problem.file).resolve() == (pack / "forms" / "riddle.yaml").resolve()
    assert (problem.line, problem.col, problem.field) == (5, 17, "families[0].templates[0]")
    assert "'subject' has no field 'colour'" in problem.message


def test_parse_model_locates_errors(tmp_path: Path):
    path = _write(tmp_path, "form: open\nkind: opn\nfamilies:\n  - id: a\n    template: [x]\n", "form.yaml")
    with pytest.raises(SpecError) as err:
        parse_model(path, FormFile)
    where = {(p.line, p.col, p.field) for p in err.value.problems}
    assert where == {(2, 7, "kind"), (4, 5, "families[0].templates"), (5, 5, "families[0].template")}
    assert any("did you mean 'templates'?" in p.hint for p in err.value.problems)


def test_warnings_come_back_with_the_spec(tmp_path: Path):
    text = BLUE.replace("  color: [red, green, yellow, white, black, orange, purple, brown]", "  color: [red, green]")
    loaded = load_spec(_write(tmp_path, text))
    assert [(w.field, w.severity) for w in loaded.warnings] == [("rules[0].distractors", "warning")]


def test_keys_that_are_not_text_are_located_at_the_key(tmp_path: Path):
    text = BLUE.replace("seed: 7\n", "seed: 7\n~: 1\n").replace("  color: [red,", "  1: [a]\n  color: [red,")
    problems = _problems(_write(tmp_path, text))
    assert {(p.line, p.col, p.field, p.message) for p in problems} == {
        (7, 1, "", "the key None must be text"),
        (13, 3, "lexicon", "the key 1 must be text"),
    }
