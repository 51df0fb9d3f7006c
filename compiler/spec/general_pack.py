"""The general prompt pack: compiler/templates/general/*.yaml (and a pack's general/) →
`GeneralPack` (every prompt rendered).

General prompts are about anything but a spec's rules (writing, lists, arithmetic,
translation, …). They guard the rest of the model: the train-side ones become retain
lessons whose replies the model writes itself at train time, the held-out ones
(`test_general`) measure how far the tuned model drifted from its own replies. Here they
are only data: one file per kind of task, each family a few templates × the combinations
of its own `fills`, rendered through the sandboxed environment (templating.py).

Pure but for reading the files; a broken file is a SpecError located in it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import Problem, SpecError
from ..records import GeneralPrompt, stable_hash
from .templating import Scope, TemplateProblem, check_template, render
from .yamlio import field_name, locate_errors, read_yaml

GENERAL_DIR = "general"  # a pack's folder of general prompt files
MAX_PROMPTS_PER_FAMILY = 256  # the product of a family's fills: 4 slots × 4 values is already 256


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GeneralFamilyFile(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Unique within the kind.")
    templates: list[str] = Field(min_length=1, description="Jinja2 templates; variables: the slots of `fills`.")
    fills: dict[str, list[str]] = Field(
        default_factory=dict, description="slot → values; every combination of values renders every template."
    )


class GeneralFile(_Strict):
    kind: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="The kind of task, e.g. 'writing'.")
    description: str = ""
    families: list[GeneralFamilyFile] = Field(min_length=1)


@dataclass(frozen=True)
class GeneralPack:
    """Every general prompt of the pack, in file order (kind, family, template, fills)."""

    prompts: tuple[GeneralPrompt, ...] = ()
    sha256: str = ""  # of the prompts' ids and texts: a changed pack changes the build

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.kind for p in self.prompts))


def prompt_id(kind: str, family: str, template: int, fills: tuple[str, ...]) -> str:
    """(kind, family, template index, fill values) → 16 hex chars, stable across processes."""
    return stable_hash("general", kind, family, template, *fills)[:16]


def _combinations(fills: dict[str, list[str]]) -> list[dict[str, str]]:
    slots = sorted(fills)
    return [dict(zip(slots, values)) for values in itertools.product(*(fills[s] for s in slots))]


def _family_prompts(kind: str, fam: GeneralFamilyFile, path: tuple, problems: list[tuple[tuple, str, str]]) -> list[GeneralPrompt]:
    """One family → its prompts; what is wrong goes to `problems` as (path in the file, message, hint)."""
    combos = _combinations(fam.fills)
    if len(combos) * len(fam.templates) > MAX_PROMPTS_PER_FAMILY:
        problems.append((path + ("fills",), f"family '{fam.id}' renders {len(combos) * len(fam.templates)} prompts "
                         f"(limit {MAX_PROMPTS_PER_FAMILY})", "give it fewer slots or values"))
        return []
    for slot, values in fam.fills.items():
        if not values or any(not v.strip() for v in values):
            problems.append((path + ("fills", slot), f"slot '{slot}' has no values or a blank one", "give every slot words"))
            return []
    scope = Scope(frozenset(fam.fills), {})
    out: list[GeneralPrompt] = []
    for ti, source in enumerate(fam.templates):
        try:
            check_template(source, scope)
            for combo in combos:
                text = render(source, combo)
                if not text:
                    raise TemplateProblem("template renders empty text", "a template must produce a prompt")
                values = tuple(combo[s] for s in sorted(combo))
                out.append(GeneralPrompt(prompt_id(kind, fam.id, ti, values), text, kind, fam.id, ti))
        except TemplateProblem as exc:
            problems.append((path + ("templates", ti), exc.message, exc.hint))
    return out


def _load_file(path: Path) -> tuple[list[GeneralPrompt], str, list[Problem]]:
    doc = read_yaml(path)
    try:
        parsed = GeneralFile.model_validate(doc.data)
    except ValidationError as exc:
        return [], "", locate_errors(exc.errors(include_url=False), doc, GeneralFile)
    found: list[tuple[tuple, str, str]] = []
    prompts: list[GeneralPrompt] = []
    seen: set[str] = set()
    for fi, fam in enumerate(parsed.families):
        if fam.id in seen:
            found.append((("families", fi, "id"), f"family id '{fam.id}' is used twice in kind '{parsed.kind}'",
                          "give every family its own id"))
        seen.add(fam.id)
        prompts += _family_prompts(parsed.kind, fam, ("families", fi), found)
    problems = []
    for where, message, hint in found:
        line, col, _ = doc.walk(where)
        problems.append(Problem(str(path), line, col, field_name(where), message, hint))
    return prompts, parsed.kind, problems


def load_general_pack(folders: tuple[Path, ...]) -> GeneralPack:
    """Pack folders (each may hold general/*.yaml) → GeneralPack; a later pack's kind replaces
    an earlier one of the same name. SpecError listing every problem, located in its file."""
    by_kind: dict[str, list[GeneralPrompt]] = {}
    problems: list[Problem] = []
    for folder in folders:
        for path in sorted((Path(folder) / GENERAL_DIR).glob("*.yaml")):
            prompts, kind, found = _load_file(path)
            problems += found
            if kind:
                by_kind[kind] = prompts
    if problems:
        raise SpecError(problems)
    prompts = tuple(p for kind in by_kind for p in by_kind[kind])
    texts: dict[str, str] = {}
    for p in prompts:
        texts.setdefault(" ".join(p.prompt.split()).casefold(), p.id)
    if len(texts) != len(prompts):
        # Two families with one prompt could put the same text on both sides of the split.
        dup = next(p for p in prompts if texts.get(" ".join(p.prompt.split()).casefold()) != p.id)
        raise SpecError([Problem(GENERAL_DIR, 0, 0, "", f"the general prompt {dup.prompt!r} occurs twice in the pack",
                                 "every prompt must be unique: change one of its fills")])
    return GeneralPack(prompts, stable_hash(*(f"{p.id}:{p.prompt}" for p in prompts)))
