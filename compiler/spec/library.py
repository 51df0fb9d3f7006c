"""The template library: question forms, the paraphrase lexicon and the general prompts,
from `compiler/templates/`.

A pack is a folder with `forms/*.yaml` (one form each), an optional
`paraphrase.yaml` and optional `general/*.yaml` (general_pack.py). The built-in pack is
`compiler/templates/`, package data inside `compiler` so that a wheel (`pip install .`, not only
an editable install) carries it; a spec's `template_packs` are merged over it (a form of the
same name replaces the built-in).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, Mapping, Sequence, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ..errors import StorageError
from ..records import FormKind
from .general_pack import GeneralPack, load_general_pack
from .fields import Sentence, Synonym
from .yamlio import parse_model

# compiler/spec/library.py → compiler/templates: beside the code, wherever it is installed
# (pyproject.toml declares it as package data).
BUILTIN_PACK = Path(__file__).resolve().parents[1] / "templates"
# Open questions are multiple choice: the answer + up to 3 wrong options (chance = 1/4).
# expand draws that many distractors; check warns when a rule's distractor slot has fewer.
MC_DISTRACTORS = 3


def asked_variables(kind: FormKind, asked: Sequence[str]) -> dict[str, object]:
    """What a form's template renders with besides `attribute`, `subject` and the subject's
    slot, by the form's kind: the option a yes_no question asks about, both options of an
    either_or in the order asked, nothing for an open question.
    ('yes_no', ['red']) → {'option': 'red'}; ('either_or', ['blue', 'red']) → {'options': ['blue', 'red']}."""
    if kind == "yes_no":
        return {"option": asked[0]}
    if kind == "either_or":
        return {"options": list(asked)}
    return {}


# The names asked_variables binds, per kind: what check_spec lets a form's templates use.
FORM_SCALARS: Mapping[str, frozenset[str]] = {
    kind: frozenset(asked_variables(kind, ("", ""))) for kind in get_args(FormKind)
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FamilyFile(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    templates: list[str] = Field(min_length=1)
    # yes_no only. A negative question asks whether the option is wrong ("Should we
    # avoid red for the box?"): Yes for a wrong option, No for the right one. Mixing
    # both polarities stops a model from learning "Yes when the rule's value appears".
    polarity: Literal["positive", "negative"] = "positive"


class FormFile(_Strict):
    form: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: FormKind
    description: str = ""
    families: list[FamilyFile] = Field(min_length=1)

    @field_validator("families")
    @classmethod
    def _polarity_is_for_yes_no(cls, families: list[FamilyFile], info: ValidationInfo) -> list[FamilyFile]:
        negative = [f.id for f in families if f.polarity == "negative"]
        if negative and info.data.get("kind", "yes_no") != "yes_no":
            raise ValueError(
                f"families {', '.join(negative)} have polarity 'negative', which only a yes_no form can use; "
                "remove `polarity:` or make this form `kind: yes_no`"
            )
        return families


class ParaphraseFile(_Strict):
    synonyms: dict[Synonym, list[Synonym]] = Field(default_factory=dict)
    prefixes: list[Sentence] = Field(default_factory=list)
    suffixes: list[Sentence] = Field(default_factory=list)


@dataclass(frozen=True)
class Family:
    id: str
    templates: tuple[str, ...]
    source: str  # file the family came from, for error messages
    negative: bool = False  # yes_no: answered Yes for a wrong option, No for the right one


@dataclass(frozen=True)
class Form:
    name: str
    kind: FormKind
    families: tuple[Family, ...]


@dataclass(frozen=True)
class ParaphraseLexicon:
    synonyms: tuple[tuple[str, tuple[str, ...]], ...]
    prefixes: tuple[str, ...]
    suffixes: tuple[str, ...]
    # (operator id, pack file, path in it) of the entry that first added each operator, so
    # a lint problem about an operator points at the line that wrote it.
    origins: tuple[tuple[str, str, tuple], ...] = ()


@dataclass(frozen=True)
class Library:
    forms: Mapping[str, Form]
    paraphrase: ParaphraseLexicon
    general: GeneralPack = GeneralPack()  # the general prompt pack, every prompt rendered


def _load_pack(pack: Path) -> tuple[dict[str, Form], ParaphraseFile]:
    forms: dict[str, Form] = {}
    for path in sorted((pack / "forms").glob("*.yaml")):
        f = parse_model(path, FormFile)
        fams = tuple(Family(fam.id, tuple(fam.templates), str(path), fam.polarity == "negative") for fam in f.families)
        forms[f.form] = Form(f.form, f.kind, fams)
    para_path = pack / "paraphrase.yaml"
    para = parse_model(para_path, ParaphraseFile) if para_path.exists() else ParaphraseFile()
    return forms, para


def _origins(path: Path, para: ParaphraseFile) -> dict[str, tuple[str, tuple]]:
    """One pack's paraphrase file → operator id → (that file, the entry's path in it)."""
    out: dict[str, tuple[str, tuple]] = {}
    for word, syns in para.synonyms.items():
        for k, syn in enumerate(syns):
            out.setdefault(f"syn:{word}>{syn}", (str(path), ("synonyms", word, k)))
    for key, kind in (("prefixes", "prefix"), ("suffixes", "suffix")):
        for k, text in enumerate(getattr(para, key)):
            out.setdefault(f"{kind}:{text}", (str(path), (key, k)))
    return out


@lru_cache(maxsize=32)
def load_library(packs: tuple[Path, ...] = ()) -> Library:
    """(extra pack folders) → Library: built-in pack first, later packs override forms
    and extend the paraphrase lexicon. Cached: each pack is read once per process."""
    forms: dict[str, Form] = {}
    synonyms: dict[str, list[str]] = {}
    prefixes: list[str] = []
    suffixes: list[str] = []
    origins: dict[str, tuple[str, tuple]] = {}
    if not (BUILTIN_PACK / "forms").is_dir():
        # Without it every form is "unknown": say what is really wrong (a broken install).
        raise StorageError(f"{BUILTIN_PACK}: the built-in template pack is missing; reinstall syllabus "
                           "(`pip install .`: the wheel carries compiler/templates/ as package data)")
    for pack in (BUILTIN_PACK, *packs):
        pack_forms, para = _load_pack(pack)
        forms.update(pack_forms)
        origins = {**_origins(pack / "paraphrase.yaml", para), **origins}  # the first pack to add one keeps it
        for word, syns in para.synonyms.items():
            synonyms.setdefault(word, []).extend(s for s in syns if s not in synonyms.get(word, []))
        prefixes += [p for p in para.prefixes if p not in prefixes]
        suffixes += [s for s in para.suffixes if s not in suffixes]
    lexicon = ParaphraseLexicon(
        tuple((w, tuple(s)) for w, s in sorted(synonyms.items())), tuple(prefixes), tuple(suffixes),
        tuple((op, file, path) for op, (file, path) in origins.items()),
    )
    return Library(dict(sorted(forms.items())), lexicon, load_general_pack((BUILTIN_PACK, *packs)))
