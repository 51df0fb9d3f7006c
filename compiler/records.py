"""What the compile stages produce: frozen dataclasses, plus stable hashing.

Python's `hash()` is salted per process (PYTHONHASHSEED), so every id, split
decision and seeded choice goes through `stable_hash` (sha256) instead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from .names import SPLITS

Scope = Literal["rule", "neighbour"]
FormKind = Literal["open", "yes_no", "either_or"]


def stable_hash(*parts: object) -> str:
    """parts → 64 hex chars; the same in every process and on every machine.

    Parts are joined with the unit separator (U+001F), which no spec text contains."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()


def stable_unit(*parts: object) -> float:
    """parts → a float in [0, 1), uniform, for seeded choices without RNG state."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def unit_after(prefix: "hashlib._Hash", last: str) -> float:
    """stable_unit(*parts, last) from unit_hasher(*parts): the prefix is hashed once and
    copied per `last` (blake2b streams, so the value is the same; tested)."""
    h = prefix.copy()
    h.update(last.encode("utf-8"))
    return int.from_bytes(h.digest(), "big") / 2.0**64


def unit_hasher(*prefix: object) -> "hashlib._Hash":
    """The hash state of stable_unit(*prefix, …) before its last part, for unit_after."""
    head = "".join(f"{part}\x1f" for part in prefix)  # stable_unit joins with \x1f: one after each prefix part
    return hashlib.blake2b(head.encode("utf-8"), digest_size=8)


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where an example came from: enough to regenerate it and to match it across builds."""

    rule: str
    form: str
    form_kind: FormKind
    family: str  # template family id, unique within (rule, form)
    template: int  # index of the template within its family
    scope: Scope  # "rule": an in-scope subject; "neighbour": out of scope
    subject: str  # the subject's lexicon name ("box", "stop sign")
    asked: tuple[str, ...]  # yes_no: the option asked about; either_or: both options in order
    operators: tuple[str, ...]  # paraphrase operators applied, in order ("prefix:Quick question: ")


@dataclass(frozen=True, slots=True)
class Example:
    """One question with its answer. `id` hashes the provenance (stable across text
    edits, so a diff can say "changed"); `content_sha` hashes what the model sees."""

    id: str
    prompt: str
    answer: str  # the bare right answer as a choice shows it: "Blue", "Yes"
    reply: str  # the assistant's reply in training (a phrasing of `answer`)
    choices: tuple[str, ...]
    label: int  # index of `answer` in `choices`
    provenance: Provenance
    # Explained builds: the reply each choice would get were it the right answer ("The box should
    # be red."), scored as the multiple-choice reading's continuations; () for terse builds.
    choice_replies: tuple[str, ...] = ()

    @property
    def content_sha(self) -> str:
        # stable_hash(prompt, reply, answer, *choices) without its str() per part: every part is text.
        text = "\x1f".join((self.prompt, self.reply, self.answer, *self.choices, *self.choice_replies))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class GeneralPrompt:
    """One prompt of the general pack (general_pack.py): no answer of its own. The model (or
    the spec's teacher) writes its reply at train time; `test_general` ones are scored as drift."""

    id: str
    prompt: str
    kind: str  # the kind of task: "writing", "arithmetic", …
    family: str  # template family id, unique within the kind: whole families go to one side
    template: int  # index of the template within its family


@dataclass(frozen=True)
class SplitSet:
    """The four splits of a build, each sorted by id, and the general prompts (if the spec
    asks for them: `retain.general`) on each side, sorted by id."""

    train: tuple[Example, ...]
    test_paraphrase: tuple[Example, ...]
    test_form: tuple[Example, ...]
    test_locality: tuple[Example, ...]
    # Base questions no split takes (split.split_of), all about neighbours: a seen neighbour's
    # families beyond the retain share or held out, its held-out forms beyond test_form's
    # out-of-scope share, a held-out neighbour's trained families.
    # Counted so progress can say why a build holds fewer questions than expansion made.
    set_aside: int = 0
    # General prompts (split.split_general): train-side ones become retain lessons once a
    # model has written their replies; test_general is held out, whole families at a time.
    # Not in items(): they have no answers to lint, score with lm-eval or diff.
    train_general: tuple[GeneralPrompt, ...] = ()
    test_general: tuple[GeneralPrompt, ...] = ()
    # The dev split (splits.dev > 0): whole train-side families carved out of train, which
    # `syllabus sweep` scores while it chooses a recipe. Not in items(): no run, gate or diff reads it.
    dev: tuple[Example, ...] = ()

    def items(self) -> list[tuple[str, tuple[Example, ...]]]:
        return [(name, getattr(self, name)) for name in SPLITS]
