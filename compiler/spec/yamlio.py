"""Safe YAML with source positions, and pydantic errors located in the file.

`read_yaml` turns a file into plain data plus a tree of positions, building both
from libyaml's event stream with an explicit stack (no recursion, so deep nesting
cannot crash it). YAML here is data: tags, anchors and aliases are refused (an
alias bomb never expands), duplicate keys are errors, and the file is capped at
1 MiB. Only null, bool, int and float are resolved; every other scalar stays text
(so `2024-01-01` is a string, not a date). `locate_errors` maps pydantic's error
`loc` to the YAML node it talks about; `parse_model` does both for one model.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Sequence, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import Problem, SpecError

M = TypeVar("M", bound=BaseModel)
Loc = tuple[Any, ...]

MAX_BYTES = 1 << 20  # 1 MiB: a spec is a page of text; more is a mistake or an attack
MAX_DEPTH = 64  # a spec nests 5 levels; 64 leaves room and bounds every walk
_Parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: same events, faster
_KEPT_TAGS = {"tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_PATTERNS = {
    r"^[a-z0-9][a-z0-9_-]*$": "an id: lowercase letters, digits, '-' and '_', starting with a letter or digit (e.g. prefer-blue)",
    r"^[a-z_][a-z0-9_]*$": "a slot name: lowercase letters, digits and '_', starting with a letter (e.g. product)",
    r"^[a-z][a-z0-9_]*$": "a form name: lowercase letters, digits and '_' (e.g. either_or)",
}
# Said after the usual hint when the problem sits in one of these models.
_MODEL_HINTS = {"LexEntry": "; a lexicon value is a word, or a mapping with `name:` plus named forms such as `plural: boxes`"}


@dataclass(frozen=True)
class YNode:
    """One YAML node: where it starts (1-based), its raw text (scalars) and children."""

    line: int
    col: int
    raw: str | None = None  # scalars only: the text as written, for "quote it" hints
    keys: tuple[tuple[Any, int, int, "YNode"], ...] | None = None  # mappings: (key, line, col, value)
    items: tuple["YNode", ...] | None = None  # sequences


@dataclass(frozen=True)
class YamlDoc:
    """A read YAML file: the exact text, its sha256, plain data and the position tree."""

    path: Path
    text: str
    sha256: str
    data: Any
    root: YNode

    def walk(self, loc: Loc) -> tuple[int, int, tuple[Any, ...]]:
        """loc → (line, col, the part of loc that exists in the file). Steps that are
        not in the file (pydantic's union tags, LexEntry's `forms`) are skipped; a missing
        last step stays at its parent, which is where a missing field belongs."""
        node, line, col, found = self.root, self.root.line, self.root.col, []
        for i, step in enumerate(loc):
            if step == "[key]":  # pydantic's marker for a bad dict key: handled one step earlier
                continue
            if node.keys is not None:
                hit = _find_key(node.keys, step)
                if hit is not None:
                    node, found = hit[3], found + [step]
                    at_key = i + 1 < len(loc) and loc[i + 1] == "[key]"
                    line, col = (hit[1], hit[2]) if at_key else (node.line, node.col)
            elif node.items is not None and isinstance(step, int) and 0 <= step < len(node.items):
                node, found = node.items[step], found + [step]
                line, col = node.line, node.col
        return line, col, tuple(found)

    def key_position(self, loc: Loc) -> tuple[int, int]:
        """Position of the *key* of the last step of loc (for unknown fields)."""
        line, col, found = self.walk(loc[:-1])
        parent = self._node(found)
        hit = _find_key(parent.keys or (), loc[-1])
        return (hit[1], hit[2]) if hit is not None else (line, col)

    def node_at(self, loc: Loc) -> YNode | None:
        line, col, found = self.walk(loc)
        return self._node(loc) if found == tuple(loc) else None

    def _node(self, found: Loc) -> YNode:
        node = self.root
        for step in found:
            node = _find_key(node.keys, step)[3] if node.keys is not None else node.items[step]
        return node


def _find_key(keys: tuple, step: Any) -> tuple | None:
    """The (key, line, col, node) entry for a loc step. pydantic writes a None key as
    'None' and True as 1 in loc, so exact matches come first, then equal, then textual."""
    for same in (lambda k: k == step and type(k) is type(step), lambda k: k == step, lambda k: str(k) == str(step)):
        hit = next((entry for entry in keys if same(entry[0])), None)
        if hit is not None:
            return hit
    return None


def field_name(loc: Loc) -> str:
    """('rules', 0, 'neighbours', 'answer') → 'rules[0].neighbours.answer'."""
    out = ""
    for step in loc:
        out += f"[{step}]" if isinstance(step, int) and not isinstance(step, bool) else (f".{step}" if out else str(step))
    return out


def _problem(path: Path, line: int, col: int, message: str, hint: str = "", field: str = "") -> Problem:
    return Problem(str(path), line, col, field, message, hint)


def _read_text(path: Path) -> tuple[str, str]:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SpecError([_problem(path, 0, 0, f"cannot read the file: {exc.strerror or exc}", "check the path")])
    if len(data) > MAX_BYTES:
        raise SpecError(
            [_problem(path, 1, 1, f"the file is larger than the 1 MiB limit ({MAX_BYTES} bytes)", "a spec is a page of YAML; split out or remove the bulk")]
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError(
            [_problem(path, line, col, f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x})", "save the file as UTF-8")]
        )
    return text, hashlib.sha256(data).hexdigest()


def _scalar(event: yaml.ScalarEvent) -> Any:
    tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)
    if tag not in _KEPT_TAGS:
        return event.value
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    return _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, node)


class _Builder:
    """Events → (data, YNode tree, problems). A frame is [kind, line, col, data, children, pending key]."""

    def __init__(self, path: Path):
        self.path, self.problems, self.stack, self.done = path, [], [], []
        self.seen_aliases: set[str] = set()

    def _where(self, event: Any) -> tuple[int, int]:
        return event.start_mark.line + 1, event.start_mark.column + 1

    def _refuse_decorations(self, event: Any) -> None:
        line, col = self._where(event)
        tag = getattr(event, "tag", None)
        if tag is not None:
            self.problems.append(
                _problem(self.path, line, col, f"YAML is data: tags are not allowed (found '{tag.replace('tag:yaml.org,2002:', '!!')}')",
                         "remove the tag; quote the value if it must stay text")
            )
        if getattr(event, "anchor", None) is not None:
            self.problems.append(
                _problem(self.path, line, col, f"anchors (&{event.anchor}) are not allowed", "write the values out instead of reusing them")
            )

    def feed(self, event: Any) -> None:
        if isinstance(event, yaml.DocumentStartEvent) and (self.done or self.stack):
            line, col = self._where(event)
            self.problems.append(_problem(self.path, line, col, "the file holds more than one YAML document", "keep one document: remove the extra '---'"))
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self._refuse_decorations(event)
            if len(self.stack) >= MAX_DEPTH:
                line, col = self._where(event)
                raise SpecError([_problem(self.path, line, col, f"nesting deeper than {MAX_DEPTH} levels", "a spec nests a few levels; flatten it")])
            kind = "map" if isinstance(event, yaml.MappingStartEvent) else "seq"
            self.stack.append([kind, *self._where(event), {} if kind == "map" else [], [], None])
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            kind, line, col, data, children, _ = self.stack.pop()
            node = YNode(line, col, keys=tuple(children)) if kind == "map" else YNode(line, col, items=tuple(children))
            self._attach(data, node, event)
        elif isinstance(event, yaml.ScalarEvent):
            self._refuse_decorations(event)
            try:
                value = _scalar(event)
            except (ValueError, yaml.YAMLError) as exc:  # e.g. an int the constructor rejects
                line, col = self._where(event)
                self.problems.append(_problem(self.path, line, col, f"cannot read the value {_describe(event.value)}: {_describe(str(exc))}", "quote it"))
                value = event.value
            self._attach(value, YNode(*self._where(event), raw=event.value), event)
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in self.seen_aliases:  # once per name: a bomb repeats them
                self.seen_aliases.add(event.anchor)
                line, col = self._where(event)
                self.problems.append(
                    _problem(self.path, line, col, f"aliases (*{event.anchor}) are not allowed", "write the values out instead of referring to an anchor")
                )
            self._attach(None, YNode(*self._where(event), raw=""), event)

    def _attach(self, value: Any, node: YNode, event: Any) -> None:
        if not self.stack:
            self.done.append((value, node))
            return
        frame = self.stack[-1]
        if frame[0] == "seq":
            frame[3].append(value)
            frame[4].append(node)
        elif frame[5] is None:  # this node is a key
            if node.raw is None:
                self.problems.append(_problem(self.path, node.line, node.col, "keys must be plain words, not lists or mappings"))
                value = ("<complex key>", node.line, node.col)
            elif node.raw == "<<" and getattr(event, "implicit", (False,))[0]:  # plain `<<`, not "<<"
                self.problems.append(_problem(self.path, node.line, node.col, "merge keys (<<) are not allowed", "write the keys out"))
            frame[5] = (value, node)
        else:
            (key, knode), frame[5] = frame[5], None
            first = next((k for k in frame[4] if k[0] == key and type(k[0]) is type(key)), None)
            if first is not None:
                self.problems.append(
                    _problem(self.path, knode.line, knode.col, f"duplicate key '{key}' (first at line {first[1]})", "remove one of them: YAML would silently keep only the last")
                )
                return
            frame[3][key] = value
            frame[4].append((key, knode.line, knode.col, node))


def read_yaml(path: Path) -> YamlDoc:
    """YAML file → YamlDoc whose top level is a mapping; SpecError listing every YAML-level problem."""
    path = Path(path)
    text, sha = _read_text(path)
    builder = _Builder(path)
    try:
        for event in yaml.parse(text, Loader=_Parser):
            builder.feed(event)
    except yaml.reader.ReaderError as exc:
        # libyaml counts the position in UTF-8 bytes; turn it back into characters
        prefix = text.encode("utf-8")[: exc.position].decode("utf-8", "ignore")
        line, col = prefix.count("\n") + 1, len(prefix) - (prefix.rfind("\n") + 1) + 1
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
        raise SpecError([_problem(path, line, col, f"YAML cannot contain the character #x{code:04x}", "remove control characters")])
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(s for s in (exc.problem, f"({exc.context})" if exc.context else "") if s)
        hint = "check the indentation (spaces only, siblings at the same depth) and quote values that contain ': ' or start with a special character"
        lines = text.splitlines()
        # A tab where a key starts reads "found character that cannot start any token".
        at = lines[mark.line][mark.column : mark.column + 1] if mark and mark.line < len(lines) else ""
        if at == "\t":
            what = "found a tab character"
        if "tab" in what:
            hint = "indent with spaces, not tabs"
        raise SpecError([_problem(path, mark.line + 1 if mark else 0, mark.column + 1 if mark else 0, f"YAML syntax error: {what}", hint)])
    except yaml.YAMLError as exc:  # anything else the parser refuses, without a position
        raise SpecError([_problem(path, 0, 0, f"YAML error: {exc}", "check the file's syntax")])
    if builder.problems:
        raise SpecError(builder.problems)
    data, root = builder.done[0] if builder.done else (None, YNode(1, 1, raw=""))
    if data is None:
        raise SpecError([_problem(path, 1, 1, "the file is empty", "write the spec as `key: value` lines, starting with `syllabus: 1`")])
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({type(data).__name__})"
        raise SpecError([_problem(path, root.line, root.col, f"the top level must be a mapping of fields, found {kind}", "write `key: value` lines at the top level")])
    return YamlDoc(path, text, sha, data, root)


# -- pydantic errors → located problems ---------------------------------------------


def _strip(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _step_type(tp: Any, step: Any) -> tuple[Any, bool]:
    """(type, loc step) → (type after the step, whether the step is a union tag)."""
    tp = _strip(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(step) if isinstance(step, str) else None
        return (field.annotation if field else None), False
    origin, args = get_origin(tp), get_args(tp)
    if origin in (list, tuple) and args:
        return args[0], False
    if origin is dict and len(args) == 2:
        return args[1], False
    if args and (origin is Union or type(tp).__name__ == "UnionType"):
        members = [_strip(m) for m in args if m is not type(None)]
        for member in members:
            kind = getattr(member, "model_fields", {}).get("kind")
            if kind is not None and get_origin(kind.annotation) is Literal and step in get_args(kind.annotation):
                return member, True
        if len(members) == 1:
            return _step_type(members[0], step)
    return None, False


def _model_at(model: type[BaseModel], loc: Loc) -> Any:
    tp: Any = model
    for step in loc:
        tp, _ = _step_type(tp, step)
        if tp is None:
            return None
    tp = _strip(tp)
    args = [m for m in get_args(tp) if m is not type(None)]
    return _strip(args[0]) if len(args) == 1 else tp


def did_you_mean(word: Any, choices: Sequence[str]) -> str:
    """A word the user wrote and the names allowed there → "did you mean 'x'? " for the closest
    (difflib ratio ≥ 0.6), or "" when none is close: the start of a hint."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'? " if close else ""


def _quoted(ctx_text: str) -> list[str]:
    return re.findall(r"'([^']*)'", ctx_text)


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_error(err: dict[str, Any], doc: YamlDoc, model: type[BaseModel]) -> Problem:
    loc, kind, ctx = tuple(err["loc"]), err["type"], err.get("ctx") or {}
    line, col, found = doc.walk(loc)
    shown = found + ((loc[-1],) if loc and loc[-1] not in found and loc[-1] != "[key]" and kind in ("missing", "extra_forbidden") else ())
    message, hint = err["msg"], ""
    parent = _model_at(model, loc[:-1]) if loc else model
    field_info = parent.model_fields.get(loc[-1]) if loc and isinstance(parent, type) and issubclass(parent, BaseModel) else None
    if kind == "invalid_key" or (loc and loc[-1] == "[key]"):
        line, col = doc.key_position(loc if kind == "invalid_key" else loc[:-1])
        shown = found[:-1]
        key = _describe(err.get('input', loc[-2] if len(loc) > 1 else loc[-1]))
        if kind in ("invalid_key", "string_type"):
            message, hint = f"the key {key} must be text", "write it in quotes"
        else:  # a text key that breaks a rule of its own (blank, too long)
            message = f"the key {key} {ctx.get('error', err['msg'])}" if kind == "value_error" else f"the key {key}: {err['msg']}"
    elif kind == "missing":
        message = f"missing required field '{loc[-1]}'"
        hint = f"add `{loc[-1]}:`" + (f" ({field_info.description})" if field_info and field_info.description else "")
        hint += _MODEL_HINTS.get(getattr(parent, "__name__", ""), "")
    elif kind == "extra_forbidden":
        line, col = doc.key_position(loc)
        allowed = sorted(parent.model_fields) if isinstance(parent, type) and issubclass(parent, BaseModel) else []
        message = f"unknown field '{loc[-1]}'"
        hint = did_you_mean(loc[-1], allowed) + (f"allowed fields: {', '.join(allowed)}" if allowed else "remove it")
        hint += _MODEL_HINTS.get(getattr(parent, "__name__", ""), "")
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        kinds = _quoted(ctx.get("expected_tags", ""))
        tag_line, tag_col, tag_found = doc.walk(loc + ("kind",))
        if tag_found == found + ("kind",):
            line, col, shown = tag_line, tag_col, tag_found
        message = f"unknown check kind '{ctx.get('tag')}'" if kind == "union_tag_invalid" else "missing field 'kind'"
        hint = did_you_mean(ctx.get("tag", ""), kinds) + f"kinds: {', '.join(sorted(kinds))}"
    elif kind == "literal_error":
        message = f"{err['msg']}, got {_describe(err.get('input'))}"
        hint = did_you_mean(err.get("input"), _quoted(ctx.get("expected", ""))).strip()
    elif kind == "value_error":  # our own validators: the message already says what and how
        message = str(ctx.get("error", err["msg"]))
    elif kind == "string_pattern_mismatch":
        message = f"{_describe(err.get('input'))} is not {_PATTERNS.get(ctx.get('pattern'), 'of the form ' + str(ctx.get('pattern')))}"
    else:
        message = f"{err['msg']}, got {_describe(err.get('input'))}"
        node = doc.node_at(found) if found == loc else None
        raw = node.raw if node is not None else None
        if kind == "string_type" and raw and not isinstance(err.get("input"), str):
            hint = f"YAML reads {raw} as {type(err.get('input')).__name__}; write \"{raw}\" in quotes to mean text"
        elif field_info is not None and field_info.description:
            hint = f"{loc[-1]}: {field_info.description}"
    return Problem(str(doc.path), line, col, field_name(shown), message, hint)


def locate_errors(errors: list[Any], doc: YamlDoc, model: type[BaseModel]) -> list[Problem]:
    """pydantic errors (`ValidationError.errors()`) of model on doc.data → one located Problem each."""
    return [_one_error(dict(err), doc, model) for err in errors]


def parse_model(path: Path, model: type[M]) -> M:
    """YAML file → validated model, or SpecError listing every problem, each located."""
    doc = read_yaml(Path(path))
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError(locate_errors(exc.errors(include_url=False), doc, model))
