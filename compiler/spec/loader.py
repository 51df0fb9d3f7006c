"""Spec file → LoadedSpec (spec, library, warnings), or SpecError listing every problem.

Three layers, each located at the YAML node it is about: YAML (`yamlio.read_yaml`:
safe, no tags/anchors/duplicates, size cap), schema (pydantic, errors mapped back to
nodes), semantics (`check.check_spec`: slots, forms, templates, splits). When the
schema fails, the pieces that did validate (lexicon, each rule, splits, gate) are
still checked, so one run shows everything that is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .check import Locate, Parts, check_spec
from ..errors import Problem, SpecError
from .library import Library, load_library
from .model import MAX_VARIANTS, Gate, HoldOut, LexValue, Limits, Paraphrase, Retain, Rule, Spec, Splits
from .yamlio import YamlDoc, field_name, locate_errors, read_yaml


@dataclass(frozen=True)
class LoadedSpec:
    """A spec that passed every check, with what later stages need to trace it back."""

    spec: Spec
    path: Path  # the spec file
    source_text: str  # exactly what was read
    source_sha256: str  # sha256 hex of the file bytes
    library: Library  # built-in templates + the spec's template_packs
    warnings: tuple[Problem, ...]
    # Positions in the spec and its pack files, for problems found after loading (lint.py).
    # None for a LoadedSpec built in memory: its problems then name the file alone.
    locate: Locate | None = field(default=None, compare=False, repr=False)


_LEXICON = TypeAdapter(dict[str, list[LexValue]])
_PACKS = TypeAdapter(list[str])
_DUPLICATE_ID = re.compile(r"^rules\[\d+\]\.id$")


def _valid(kind: Any, value: Any) -> Any:
    """value validated as kind (a model or a TypeAdapter), or None if it is not valid."""
    try:
        if isinstance(kind, TypeAdapter):
            return kind.validate_python(value)
        return kind.model_validate(value)
    except (ValidationError, ValueError, TypeError):
        return None


# Stand-ins for broken required rule fields, so the rest of the rule is still checked
# (the field's own error is already reported). A broken slot reference becomes a slot
# that the checks skip without a word.
UNCHECKED_SLOT = "__unchecked__"
_STAND_INS = {"statement": "-", "attribute": "attribute", "subject": UNCHECKED_SLOT, "distractors": UNCHECKED_SLOT}


def _salvage_rule(i: int, raw: Any) -> Rule | None:
    """A rule that failed the schema → the same rule without its broken optional fields
    and with stand-ins for broken `id`/`statement`/`attribute`; None if more is broken."""
    try:
        return Rule.model_validate(raw)
    except ValidationError as exc:
        if not isinstance(raw, dict):
            return None
        patched = dict(raw)
        for err in exc.errors(include_url=False):
            top = err["loc"][0] if err["loc"] else None
            if err["type"] == "extra_forbidden":
                patched.pop(top, None)
            elif top == "id":
                patched[top] = f"rules-{i}"
            elif top in _STAND_INS:
                patched[top] = _STAND_INS[top]
            elif top in Rule.model_fields and not Rule.model_fields[top].is_required():
                patched.pop(top, None)
            else:
                return None
        return _valid(Rule, patched)


def _salvage(data: dict[str, Any]) -> tuple[Parts, list[str] | None]:
    """Raw data of a spec that failed the schema → the parts that are valid on their own."""
    raw_lex = data.get("lexicon")
    lex, broken = None, set()
    if isinstance(raw_lex, dict):
        lex = {}
        for slot, values in raw_lex.items():
            valid = _valid(_LEXICON, {slot: values})
            if valid is None:
                broken.add(slot)
            else:
                lex.update({k: tuple(v) for k, v in valid.items()})
    raw_rules = data.get("rules")
    rules = []
    for i, raw in enumerate(raw_rules if isinstance(raw_rules, list) else []):
        rule = _salvage_rule(i, raw)
        if rule is not None:
            rules.append((i, rule))
    raw_splits = data.get("splits", {})
    splits: Splits | None = _valid(Splits, raw_splits)
    hold_out = splits.hold_out if splits else _valid(HoldOut, raw_splits.get("hold_out", {}) if isinstance(raw_splits, dict) else None)
    gate: Gate | None = _valid(Gate, data.get("gate", {}))
    retain: Retain | None = _valid(Retain, data.get("retain", {}))
    paraphrase: Paraphrase | None = _valid(Paraphrase, data.get("paraphrase", {}))
    limits: Limits | None = _valid(Limits, data.get("limits", {}))
    parts = Parts(lex, tuple(rules), hold_out, gate, frozenset({UNCHECKED_SLOT, *(str(s) for s in broken)}), retain,
                  # a broken paraphrase block counts as the most variants: the budget must not pass it by
                  variants=paraphrase.variants if paraphrase else MAX_VARIANTS,
                  max_examples=limits.max_examples if limits else None, gate_written="gate" in data)
    return parts, _valid(_PACKS, data.get("template_packs", []))


def _pack_folders(spec_path: Path, packs: list[str], locate: Locate) -> tuple[tuple[Path, ...] | None, list[Problem]]:
    """template_packs (relative to the spec file) → resolved folders, or None and problems."""
    folders, problems = [], []

    def problem(i: int, message: str, hint: str) -> None:
        where, line, col = locate(None, ("template_packs", i))
        problems.append(Problem(where, line, col, field_name(("template_packs", i)), message, hint))

    for i, pack in enumerate(packs):
        try:
            folder = (spec_path.parent / pack).resolve()
            exists, has_forms = folder.is_dir(), any((folder / "forms").glob("*.yaml"))
            has_other = (folder / "paraphrase.yaml").is_file() or any((folder / "general").glob("*.yaml"))
        except (OSError, ValueError) as exc:  # a name the OS refuses (NUL byte, too long)
            problem(i, f"template pack path '{pack}' cannot be used: {exc}", "give a folder path relative to the spec file")
            continue
        if not exists:
            problem(i, f"template pack folder '{pack}' not found (looked for {folder})", "template_packs are folders relative to the spec file")
        elif not (has_forms or has_other):
            problem(i, f"template pack folder '{pack}' holds no forms/*.yaml and no paraphrase.yaml", "a pack is a folder with forms/<form>.yaml files (or general/*.yaml general prompts)")
        folders.append(folder)
    return (None if problems else tuple(folders)), problems


def _shown(path: Path) -> str:
    """A pack file's path as the user would type it: relative to the working folder when inside it."""
    try:
        return str(path.relative_to(Path.cwd())) if path.is_absolute() else str(path)
    except ValueError:
        return str(path)


def _locator(doc: YamlDoc) -> Locate:
    """(file or None for the spec, path) → (file, line, col); pack files are read on demand."""
    docs: dict[str, YamlDoc | None] = {}

    def locate(file: str | None, path: tuple) -> tuple[str, int, int]:
        if file is None:
            line, col, _ = doc.walk(path)
            return str(doc.path), line, col
        if file not in docs:
            try:
                docs[file] = read_yaml(Path(file))
            except SpecError:  # reported by the library load; here only positions are wanted
                docs[file] = None
        target = docs[file]
        if target is None:
            return _shown(Path(file)), 0, 0
        line, col, _ = target.walk(path)
        return _shown(target.path), line, col

    return locate


def _teacher_problems(retain: Retain | None, locate: Locate) -> list[Problem]:
    """retain.general.teacher → a located problem when it cannot be loaded (models.loadable_problem:
    file names and the local hub cache only; nothing is loaded or downloaded)."""
    teacher = retain.general.teacher if retain is not None and retain.general is not None else None
    if teacher is None:
        return []
    from ..model.load import loadable_problem

    found = loadable_problem(teacher)
    if found is None:
        return []
    why, is_error = found
    path = ("retain", "general", "teacher")
    where, line, col = locate(None, path)
    return [Problem(where, line, col, field_name(path), f"teacher {teacher!r} cannot be loaded: {why}"
                    if is_error else f"teacher: {why}",
                    "give 'default', a local model folder (config.json, weights, a tokenizer with a chat template) "
                    "or a Hugging Face id in the local cache; or remove `teacher:` to let the model write its own "
                    "replies", "error" if is_error else "warning")]


def load_spec(path: Path) -> LoadedSpec:
    """Spec file → LoadedSpec; SpecError listing every error (YAML, schema, semantic) at once."""
    path = Path(path)
    doc = read_yaml(path)  # YAML-level problems stop here: there is no data to check
    locate = _locator(doc)
    spec: Spec | None = None
    schema_errors: list[Any] = []
    try:
        spec = Spec.model_validate(doc.data)
    except ValidationError as exc:
        schema_errors = exc.errors(include_url=False)
    parts, packs = (Parts.of(spec), spec.template_packs) if spec is not None else _salvage(doc.data)

    problems: list[Problem] = []
    library: Library | None = None
    if packs is not None:
        folders, pack_problems = _pack_folders(path, packs, locate)
        problems += pack_problems
        if folders is not None:
            try:
                library = load_library(folders)
            except SpecError as exc:  # a broken pack file: its problems are located in that file
                problems += [replace(p, file=_shown(Path(p.file))) for p in exc.problems]
    problems += check_spec(parts, library, locate)
    problems += _teacher_problems(parts.retain, locate)

    # The spec's only whole-spec validator refuses duplicate rule ids; check_spec reports
    # the same thing located at the second id, so the unlocated copy is dropped.
    dup_located = any(_DUPLICATE_ID.match(p.field) and "used twice" in p.message for p in problems)
    schema_errors = [e for e in schema_errors if e["loc"] or e["type"] != "value_error" or not dup_located]
    if schema_errors:
        problems += locate_errors(schema_errors, doc, Spec)

    errors = [p for p in problems if p.severity == "error"]
    if errors or spec is None or library is None:
        raise SpecError(errors or problems)
    warnings = tuple(sorted(problems, key=lambda p: (p.file, p.line, p.col, p.field, p.message)))
    return LoadedSpec(spec, path, doc.text, doc.sha256, library, warnings, locate)
