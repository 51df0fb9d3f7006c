"""Expansion: rules × subjects × forms × template families → base examples.

Every question is rendered through the one sandboxed environment (templating.py).
Seeded choices (which distractors, which reply phrasing, the order of choices) come
from `stable_unit`, keyed by the example's provenance, so adding a lexicon value
does not reshuffle the examples that were already there — a diff stays small.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterator

from ..spec.library import MC_DISTRACTORS, Library, asked_variables
from ..records import Example, Provenance, unit_after, unit_hasher
from ..spec.model import LexEntry, Rule, Spec
from ..spec.templating import TemplateProblem, render


@lru_cache(maxsize=4096)
def display(word: str) -> str:
    """An answer as a choice shows it: 'blue' → 'Blue', 'stop sign' → 'Stop sign'."""
    return word[:1].upper() + word[1:]


def example_id(prov: Provenance) -> str:
    """Provenance → 16 hex chars. Text is not hashed: an edited wording keeps its id.

    = stable_hash(rule, form, family, template, scope, subject, *asked, "|", *operators)[:16],
    spelled out so paraphrase can hash a variant from its example's text plus operators."""
    return variant_id(id_text(prov), prov.operators)


def id_text(p: Provenance) -> str:
    """The hashed text of an id up to the "|" before the operators."""
    return "\x1f".join((p.rule, p.form, p.family, str(p.template), p.scope, p.subject, *p.asked, "|"))


def variant_id(head: str, operators: tuple[str, ...]) -> str:
    """id_text of an example + the operators of a variant of it → that variant's id."""
    text = head + "\x1f" + "\x1f".join(operators) if operators else head
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class _Subject:
    entry: LexEntry
    scope: str  # "rule" | "neighbour"
    slot: str  # the lexicon slot name, bound in templates next to `subject`
    answer: str  # the right answer for this subject (lowercase, as lexicon words are)
    # What every template of this subject renders with, built once: ~20 renders per subject.
    variables: dict = field(compare=False)


def _ranked(seed: int, key: tuple, pool: list[str]) -> list[str]:
    """A seeded order of `pool` that depends only on (seed, key, item): stable under additions.

    Sorts by stable_unit(seed, *key, item); the shared prefix is hashed once and copied per
    item (blake2b streams, so the digests are the same)."""
    prefix = unit_hasher(seed, *key)
    return sorted(pool, key=lambda item: (unit_after(prefix, item), item))


def _subjects(spec: Spec, rule: Rule) -> Iterator[_Subject]:
    def variables(entry: LexEntry, slot: str) -> dict:
        return {"attribute": rule.attribute, "subject": entry.as_vars(), slot: entry.as_vars()}

    for entry in spec.lexicon[rule.subject]:
        yield _Subject(entry, "rule", rule.subject, rule.value, variables(entry, rule.subject))
    if rule.neighbours is not None:
        slot = rule.neighbours.subject
        for entry in spec.lexicon[slot]:
            base = variables(entry, slot)
            yield _Subject(entry, "neighbour", slot, render(rule.neighbours.answer, base), base)


# Internal, not a SyllabusError: chain._expand turns it into a located SpecError.
class RenderFailure(Exception):
    """A template that failed while expanding, with where it is written: `file` (None: the
    spec) and the path of its template list in that file, for a located error."""

    def __init__(self, problem: TemplateProblem, file: str | None, path: tuple, context: str):
        super().__init__(problem.message)
        self.problem, self.file, self.path, self.context = problem, file, path, context


def _families(library: Library, rule: Rule, form: str, scope: str) -> Iterator[tuple[str, tuple[str, ...], bool]]:
    """→ (family id, its templates, negative polarity) for one form and scope."""
    for family in library.forms[form].families:
        yield family.id, family.templates, family.negative
    # A rule's own templates name its in-scope subject slot; they are in-scope only.
    if scope == "rule":
        for i, source in enumerate(rule.templates.get(form, [])):
            yield f"{rule.id}:{i + 1}", (source,), False  # ":" never occurs in library family ids


def _where(library: Library, index: int, form: str, family: str, t: int) -> tuple[str | None, tuple]:
    """A family id and template number → (file, path) of the template: ('…/yes_no.yaml',
    ('families', 3, 'templates', 0)), or (None, ('rules', 0, 'templates', 'yes_no', 1)) in the spec."""
    for fi, fam in enumerate(library.forms[form].families):
        if fam.id == family:
            return fam.source, ("families", fi, "templates", t)
    return None, ("rules", index, "templates", form, int(family.rsplit(":", 1)[1]) - 1)


@dataclass(frozen=True)
class _Family:
    """What every question of one (subject, form, template family) shares, built once."""

    spec: Spec
    rule: Rule
    subject: _Subject
    form: str
    kind: str  # the form's kind: "open" | "yes_no" | "either_or"
    family: str  # the family id
    negative: bool  # the family asks with negative polarity (yes/no swapped)
    right: str  # the subject's right answer
    ranked: list[str]  # the wrong answers in this family's seeded order
    replies: dict  # shared per-rule cache of rendered replies (see _make)


@dataclass(frozen=True)
class _Question:
    """One rendered question before it becomes an Example."""

    prompt: str
    answer: str  # the right answer (lowercase, as lexicon words are)
    choices: tuple[str, ...]  # what the multiple-choice reading offers
    asked: tuple[str, ...]  # the options the question names (yes/no: one; either/or: two)


def expand_rule(spec: Spec, library: Library, rule: Rule, index: int = 0) -> Iterator[Example]:
    """One rule (spec.rules[index]) → its base examples (no paraphrase operators yet), in a fixed
    order; RenderFailure for a template that fails on a value the validate-time trials missed
    (an option: the trials render every subject with the rule's value)."""
    wrong_pool = [e.name for e in spec.lexicon[rule.distractors]]
    replies: dict[tuple[str, str, str, str], str] = {}  # (phrasing, answer, slot, subject) → rendered reply
    for subject in _subjects(spec, rule):
        right = subject.answer
        wrong = [w for w in wrong_pool if w.lower() not in (right.lower(), rule.value.lower())]
        # A neighbour's first wrong answer is always the rule's value: that is the
        # spill-over the locality probes exist to catch ("the stop sign is blue").
        spill = [rule.value] if subject.scope == "neighbour" and right.lower() != rule.value.lower() else []
        for form in rule.forms:
            kind = library.forms[form].kind
            for family, templates, negative in _families(library, rule, form, subject.scope):
                ranked = spill + _ranked(spec.seed, (rule.id, form, family, subject.entry.name), wrong)
                ctx = _Family(spec, rule, subject, form, kind, family, negative, right, ranked, replies)
                for t, source in enumerate(templates):
                    try:
                        yield from _render_items(ctx, t, source)
                    except TemplateProblem as exc:  # costs nothing until one fails
                        label = "subject" if subject.scope == "rule" else "neighbour"
                        raise RenderFailure(exc, *_where(library, index, form, family, t),
                                            f"{label} '{subject.entry.name}'") from None


def _render_items(ctx: _Family, t: int, source: str) -> Iterator[Example]:
    """One template of a family → its questions, by the form's kind."""
    base, right, ranked, kind = ctx.subject.variables, ctx.right, ctx.ranked, ctx.kind
    if kind == "open":
        # Choices in a seeded order, so the right answer's position carries no signal.
        choices = [right] + ranked[:MC_DISTRACTORS]
        key = (ctx.rule.id, ctx.form, ctx.family, ctx.subject.entry.name, "order")
        choices = _ranked(ctx.spec.seed, key, choices)
        yield _make(ctx, t, _Question(render(source, base), right, tuple(choices), ()))
    elif kind == "yes_no":
        # Balanced by construction: the same question once with the right option (Yes;
        # No in a negative family) and once with a wrong one (No; Yes).
        yes, no = ("no", "yes") if ctx.negative else ("yes", "no")
        for option, answer in ((right, yes), (ranked[0], no)) if ranked else ((right, yes),):
            text = render(source, {**base, **asked_variables(kind, (option,))})
            yield _make(ctx, t, _Question(text, answer, ("yes", "no"), (option,)))
    else:  # either_or, both orders
        if not ranked:
            return
        for options in ((right, ranked[0]), (ranked[0], right)):
            text = render(source, {**base, **asked_variables(kind, options)})
            yield _make(ctx, t, _Question(text, right, options, options))


def _make(ctx: _Family, t: int, question: _Question) -> Example:
    """A rendered question (template number `t` of its family) → an Example with its reply."""
    spec, rule, subject, kind, replies = ctx.spec, ctx.rule, ctx.subject, ctx.kind, ctx.replies
    answer, choices, asked = question.answer, question.choices, question.asked
    prov = Provenance(rule.id, ctx.form, kind, ctx.family, t, subject.scope, subject.entry.name, asked, ())
    ex_id = example_id(prov)
    explained = rule.style(spec.answers) == "explained"
    if explained:
        key = ("explained", kind, answer, subject.slot, subject.entry.name, *asked)
        if key not in replies:
            replies[key] = explained_reply(rule, subject, kind, answer, asked, answer, replies)
    else:
        # One phrasing needs no seeded pick; ranking a single item returns it anyway.
        phrasings = rule.phrasings
        phrasing = phrasings[0] if len(phrasings) == 1 else _ranked(spec.seed, (ex_id, "reply"), list(phrasings))[0]
        key = (phrasing, answer, subject.slot, subject.entry.name)
        if key not in replies:  # a reply depends on these only: render each once (~20 µs a render)
            reply_vars = {"answer": display(answer), "attribute": rule.attribute, "subject": subject.entry.as_vars()}
            replies[key] = render(phrasing, reply_vars)
    shown = tuple(map(display, choices))
    alternatives: tuple[str, ...] = ()
    if explained:  # the multiple-choice reading scores the reply each choice would get
        alternatives = tuple(
            replies[key] if choice == answer else explained_reply(rule, subject, kind, choice, asked, answer, replies)
            for choice in choices
        )
    return Example(
        id=ex_id,
        prompt=question.prompt,
        answer=display(answer),
        reply=replies[key],
        choices=shown,
        label=shown.index(display(answer)),
        provenance=prov,
        choice_replies=alternatives,
    )


def _fact(rule: Rule, subject: _Subject, value: str, replies: dict) -> str:
    """The fact an explained answer states first, for a value: 'The fork should be blue'
    (rendered once per subject and value)."""
    key = ("fact", subject.slot, subject.entry.name, value)
    if key not in replies:
        source = rule.facts.rule if subject.scope == "rule" else rule.facts.neighbour
        text = render(source, {**subject.variables, "value": value}).strip().rstrip(".")
        replies[key] = text[:1].upper() + text[1:]
    return replies[key]


def _flip(word: str) -> str:
    return "wrong" if word == "right" else "right"


def explained_reply(rule: Rule, subject: _Subject, kind: str, answer: str, asked: tuple[str, ...], truth: str,
                    replies: dict) -> str:
    """The explained reply that reaches `answer` (`truth` is the right one): the fact, then the decision.

    open / either-or: 'The fork should be blue.' — the first option the reply names is the answer;
    for a wrong choice, the fact as if that were the value ('The fork should be red.').
    yes/no: 'The fork should be blue, so red is wrong. You ask if it is right: no.' The reply
    judges the option asked against the fact (right/wrong), then restates the question's own
    claim in the same two words and reads the verdict off their agreement — so the polarity of
    the question ('Is red a poor colour…?') is decided by matching words, not by a reflex. The
    reply that reaches the wrong verdict is the same chain with the judgement flipped."""
    if kind != "yes_no":
        return _fact(rule, subject, answer, replies) + "."
    option = asked[0]
    judged = "right" if option.lower() == subject.answer.lower() else "wrong"
    claim = judged if truth == "yes" else _flip(judged)  # the question's claim agrees with the truth iff yes
    if answer != truth:
        judged = _flip(judged)
    return f"{_fact(rule, subject, subject.answer, replies)}, so {option} is {judged}. You ask if it is {claim}: {answer}."


def expand(spec: Spec, library: Library) -> tuple[Example, ...]:
    """Spec + library → every base example of every rule."""
    return tuple(ex for i, rule in enumerate(spec.rules) for ex in expand_rule(spec, library, rule, i))
