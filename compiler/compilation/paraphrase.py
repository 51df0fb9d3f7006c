"""Rule-based surface variants of rendered questions.

An operator is one named, reversible-in-spirit change: `syn:best>ideal` (a synonym),
`prefix:Quick question: `, `suffix: Thanks!`, `front` (move a trailing "for the X" to
the front). Variants keep everything but the prompt (answer, choices, family) and
record their operators in provenance, so the split can hold whole operators out.

An operator that cannot apply to a question returns None and the next one is tried:
a suffix only follows a question that ends a sentence (?, . or !), since after "…the
ideal color for the box is" it would read as the answer. `lint.py` checks the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from .expand import id_text, variant_id
from ..spec.library import ParaphraseLexicon
from ..records import Example, Provenance, unit_after, unit_hasher
from ..spec.model import Paraphrase


@dataclass(frozen=True)
class Operators:
    lexical: tuple[str, ...]  # synonyms and word order: change the wording inside
    frame: tuple[str, ...]  # prefixes and suffixes: wrap the question


def operators(settings: Paraphrase, lexicon: ParaphraseLexicon) -> Operators:
    """Paraphrase settings + library lexicon → every operator id, in a fixed order."""
    synonyms: dict[str, list[str]] = {}
    prefixes: list[str] = list(settings.prefixes)
    suffixes: list[str] = list(settings.suffixes)
    if settings.use_library:
        for word, syns in lexicon.synonyms:
            synonyms.setdefault(word, []).extend(syns)
        prefixes += lexicon.prefixes
        suffixes += lexicon.suffixes
    for word, syns in settings.synonyms.items():
        synonyms.setdefault(word, []).extend(syns)
    lexical = sorted({f"syn:{w}>{s}" for w, syns in synonyms.items() for s in syns if s != w})
    if settings.word_order:
        lexical.append("front")
    frame = [f"prefix:{p}" for p in dict.fromkeys(prefixes)] + [f"suffix:{s}" for s in dict.fromkeys(suffixes)]
    return Operators(tuple(lexical), tuple(frame))


@lru_cache(maxsize=None)
def _word_re(word: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE)


SENTENCE_END = ("?", ".", "!")


def ends_sentence(text: str) -> bool:
    """Whether a prompt ends a sentence, so a closer (" Thanks!") can follow it:
    "Which color?" → True; "Complete the sentence: the box is" → False."""
    return text.rstrip().endswith(SENTENCE_END)


_FRONT = re.compile(r"^(?P<head>\S+(?: \S+){2,}?) (?P<pp>for (?:the |our |a )?[^,:?\-]+)\?$")


@lru_cache(maxsize=None)
def _operator(op: str) -> Callable[[str], str | None]:
    """An operator id → its function (one question → the new text, or None where it does not
    apply), parsed once (compile applies ~3 operators per example)."""
    if op.startswith("syn:"):
        word, syn = op[4:].split(">", 1)
        pattern, capital = _word_re(word), syn[:1].upper() + syn[1:]

        def synonym(text: str) -> str | None:
            match = pattern.search(text)
            if not match:
                return None
            return text[: match.start()] + (capital if match.group(0)[:1].isupper() else syn) + text[match.end():]

        return synonym
    if op.startswith("prefix:"):
        prefix = op[7:]
        if prefix.rstrip().endswith(","):  # "Hey, " + "What color…" reads "Hey, what color…"
            return lambda text: prefix + text[:1].lower() + text[1:]
        return lambda text: prefix + text
    if op.startswith("suffix:"):
        suffix = op[7:]
        return lambda text: text + suffix if ends_sentence(text) else None
    if op == "front":
        return _front
    raise ValueError(f"unknown paraphrase operator {op!r}")


def _front(text: str) -> str | None:
    m = _FRONT.match(text)
    if not m:
        return None
    head, pp = m.group("head"), m.group("pp")
    return f"{pp[:1].upper()}{pp[1:]}, {head[:1].lower()}{head[1:]}?"


def _needle(op: str) -> str | None:
    """A synonym operator's word, lowercased, when a substring test can rule it out exactly:
    for ASCII text and an ASCII word, `\\bword\\b` under IGNORECASE can only match where
    text.lower() contains word.lower(). Other operators (and non-ASCII words) → None."""
    if op.startswith("syn:"):
        word = op[4:].split(">", 1)[0]
        return word.lower() if word.isascii() else None
    return None


@lru_cache(maxsize=None)
def _rotation(ops: tuple[str, ...], start: int) -> tuple[tuple[tuple[str, Callable, str | None], ...], bool]:
    """ops from `start` round to start − 1, the order `_pick` tries them, each as (op, its
    function, its needle); and whether any has a needle (prefixes and suffixes do not)."""
    order = tuple((op, _operator(op), _needle(op)) for op in ops[start:] + ops[:start])
    return order, any(needle is not None for _, _, needle in order)


def _pick(start_unit: float, ops: tuple[str, ...], text: str) -> tuple[str, str] | None:
    """The variant's operator among ops: a seeded start, then the first that applies.

    One hash per (example, variant) rather than one per operator: compile time stays
    linear in examples, not in examples × operators. Most synonyms do not occur in a
    given question; a substring test rules them out before any regex runs."""
    if not ops:
        return None
    rotation, needles = _rotation(ops, int(start_unit * len(ops)))
    if needles and text.isascii():
        low = text.lower()
        rotation = [item for item in rotation if item[2] is None or item[2] in low]
    for op, apply, _ in rotation:
        out = apply(text)
        if out is not None and out != text:
            return op, out
    return None


@lru_cache(maxsize=4096)
def _starts(seed: int, key: tuple, variants: int) -> tuple[float, ...]:
    """stable_unit(seed, *key, k) for k = 1..variants: one prefix hash, copied per k.
    Cached: a yes/no pair (and both orders of an either-or) shares its key."""
    prefix = unit_hasher(seed, *key)
    return tuple(unit_after(prefix, str(k)) for k in range(1, variants + 1))


def paraphrase(example: Example, pool: Operators, variants: int, seed: int) -> list[Example]:
    """Example + allowed operators → [the example, up to `variants` distinct variants].

    The choice is keyed by the provenance *without* the asked option, so a yes/no
    pair (or both orders of an either-or) gets the same operators and stays balanced."""
    p = example.provenance
    key = (p.rule, p.form, p.family, p.template, p.scope, p.subject)
    out = [example]
    seen = {example.prompt}
    head = id_text(p)  # a variant's id hashes this, then its operators
    for unit in _starts(seed, key, variants):
        text, ops = example.prompt, []
        for group in (pool.lexical, pool.frame):  # both groups start from the same seeded unit
            picked = _pick(unit, group, text)
            if picked:
                ops.append(picked[0])
                text = picked[1]
        if not ops or text in seen:
            continue
        seen.add(text)
        # Positional constructors, not dataclasses.replace: this line runs once per
        # emitted example and replace() costs 5x more.
        prov = Provenance(p.rule, p.form, p.form_kind, p.family, p.template, p.scope, p.subject, p.asked, tuple(ops))
        e = example
        out.append(Example(variant_id(head, prov.operators), text, e.answer, e.reply, e.choices, e.label, prov, e.choice_replies))
    return out
