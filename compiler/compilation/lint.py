"""Lesson lint: compiled lessons → what makes them wrong, once per cause, located.

Pure: (spec, library, splits, a position lookup) → problems. The spec checks
(`check.py`) read the spec; this reads what expand, paraphrase and split made of it,
which is where templates, lexicon and paraphrase operators meet:

1. a paraphrase that breaks the sentence: a suffix after a prompt that does not end
   a sentence, a prefix or suffix glued onto a word, a blank prefix/suffix/synonym;
2. a synonym that rewrites an option the lesson asks about (the choices still say it);
3. (the rule's value among its distractors is a spec check: `check.value_clash`);
4. two lessons with the same prompt and different answers, in any splits;
5. a choice list without its answer: answer missing, label elsewhere, a choice twice.

Problems are grouped by cause — an operator, a template, a lexicon value — so one
broken synonym is one error with a count and a sample or two, not one per lesson, and
it points at the entry the user edits (`paraphrase.synonyms.yellow[0]`, the template,
the pack file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Iterator, Mapping, Sequence

from ..spec.check import Locate, Report
from ..spec.phrases import has_phrase, norm
from ..errors import Problem
from .expand import display
from ..spec.library import Library
from .paraphrase import ends_sentence
from ..records import Example, Provenance
from ..spec.model import Paraphrase, Spec

Where = tuple[str | None, tuple]  # (file, or None for the spec; path in that file)
MAX_SAMPLES = 2  # sample lessons shown per problem
_GLUES_BEFORE = ",.;:!?"  # a prefix ending in one of these (or a letter) needs a space after it
# Choices and answers come from a few lexicon words: normalized once each, not once per lesson.
_word = lru_cache(maxsize=4096)(norm)


@dataclass(frozen=True)
class _Cause:
    """One reason lessons are wrong: where it is written, what is wrong, how to fix it."""

    where: Where
    message: str
    hint: str


@dataclass
class _Seen:
    """The lessons one cause broke: how many, and the first few as samples."""

    count: int = 0
    samples: list[str] = field(default_factory=list)


def _spec_origins(settings: Paraphrase) -> dict[str, Where]:
    """The spec's paraphrase block → operator id → the entry that wrote it."""
    out: dict[str, Where] = {}
    for word, syns in settings.synonyms.items():
        for k, syn in enumerate(syns):
            out.setdefault(f"syn:{word}>{syn}", (None, ("paraphrase", "synonyms", word, k)))
    for key, kind in (("prefixes", "prefix"), ("suffixes", "suffix")):
        for k, text in enumerate(getattr(settings, key)):
            out.setdefault(f"{kind}:{text}", (None, ("paraphrase", key, k)))
    return out


@dataclass(frozen=True)
class _Places:
    """Where what a lesson came from is written: its operators, template, rule, lexicon values."""

    spec: Spec
    library: Library
    rules: Mapping[str, int]  # rule id → index in spec.rules
    ops: Mapping[str, Where]  # operator id → its entry

    @classmethod
    def of(cls, spec: Spec, library: Library) -> "_Places":
        # The spec's own entry wins over a pack's: it is the file the user edits.
        ops = {op: (file, path) for op, file, path in library.paraphrase.origins} | _spec_origins(spec.paraphrase)
        return cls(spec, library, {r.id: i for i, r in enumerate(spec.rules)}, ops)

    def rule(self, rule_id: str, *rest: object) -> Where:
        return None, ("rules", self.rules.get(rule_id, 0), *rest)

    def operator(self, op: str) -> Where:
        """An operator id → its entry in the spec's paraphrase block or a pack's paraphrase.yaml."""
        return self.ops.get(op, (None, ("paraphrase",)))

    def template(self, p: Provenance) -> Where:
        """A lesson's provenance → its template: a rule's own (`rules[0].templates.open[1]`) or a library family's."""
        head, _, number = p.family.rpartition(":")  # a rule's own family is "<rule id>:<n>" (expand._families)
        if head == p.rule and number.isdigit():
            return self.rule(p.rule, "templates", p.form, int(number) - 1)
        form = self.library.forms.get(p.form)
        for fi, family in enumerate(form.families if form else ()):
            if family.id == p.family:
                return family.source, ("families", fi, "templates", p.template)
        return self.form(p)

    def form(self, p: Provenance) -> Where:
        """A lesson's provenance → the rule's entry in `forms` that made it."""
        rule = self.spec.rules[self.rules[p.rule]] if p.rule in self.rules else None
        forms = rule.forms if rule else []
        return self.rule(p.rule, "forms", forms.index(p.form)) if p.form in forms else self.rule(p.rule, "forms")

    def choice(self, ex: Example, choice: str) -> Where:
        """A choice a lesson lists twice → the lexicon value that repeats it, or what else made it."""
        p = ex.provenance
        rule = self.spec.rules[self.rules[p.rule]] if p.rule in self.rules else None
        if rule is None:
            return self.form(p)
        if rule.neighbours is not None and p.scope == "neighbour" and norm(choice) == norm(ex.answer):
            return self.rule(p.rule, "neighbours", "answer")  # the neighbour's own answer repeats a distractor
        hits = [j for j, v in enumerate(self.spec.lexicon.get(rule.distractors, ())) if norm(v.name) == norm(choice)]
        if hits:
            return None, ("lexicon", rule.distractors, hits[-1])  # the repeat, not the first listing
        return self.rule(p.rule, "distractors")


def _sample(ex: Example) -> str:
    """A lesson as a sample shows it: its prompt, choices and answer."""
    return f"{repr(ex.prompt)} (choices: {', '.join(ex.choices)}; answer: {ex.answer})"


# -- 1. a paraphrase that breaks the sentence ------------------------------------------------


def _blank(where: Where, what: str, text: str) -> _Cause:
    return _Cause(where, f"{what} {text!r} is blank: it only adds or removes spaces", f"give the {what} some words, or remove it")


def _synonym(where: Where, word: str, syn: str) -> Iterator[_Cause]:
    if not syn.strip():
        yield _Cause(where, f"synonym {syn!r} for '{word}' is blank: it deletes the word from the question",
                     "give a word or phrase, or remove the entry")
    elif syn != syn.strip():
        yield _Cause(where, f"synonym {syn!r} for '{word}' has spaces at its ends: the question gets a double space",
                     f"write it as {syn.strip()!r}")


def _prefix(where: Where, prefix: str, prompt: str) -> Iterator[_Cause]:
    rest = prompt[len(prefix):] if prompt.startswith(prefix) else prompt
    if not prefix.strip():
        yield _blank(where, "prefix", prefix)
    elif (prefix[-1].isalnum() or prefix[-1] in _GLUES_BEFORE) and rest[:1].isalnum():
        yield _Cause(where, f"prefix {prefix!r} glues onto the question's first word", f"end it with a space: {prefix + ' '!r}")


def _suffix(where: Where, suffix: str, prompt: str) -> Iterator[_Cause]:
    before = prompt[: len(prompt) - len(suffix)] if prompt.endswith(suffix) else prompt
    if not suffix.strip():
        yield _blank(where, "suffix", suffix)
        return
    if suffix[0].isalnum() and before[-1:] and not before[-1].isspace():
        yield _Cause(where, f"suffix {suffix!r} glues onto the question's last word", f"start it with a space: {' ' + suffix!r}")
    if not ends_sentence(before):
        yield _Cause(where, f"suffix {suffix!r} follows a prompt that does not end a sentence: it reads as the answer",
                     "a closer may only follow a question ending with ?, . or !; end the template with one, or remove the suffix")


def _sentence(places: _Places, ex: Example) -> Iterator[tuple[_Cause, str]]:
    """Check 1: each operator of a lesson against the text it made → (cause, sample)."""
    for op in ex.provenance.operators:
        kind, _, arg = op.partition(":")
        where = places.operator(op)
        if kind == "syn":
            causes = _synonym(where, *arg.split(">", 1))
        elif kind == "prefix":
            causes = _prefix(where, arg, ex.prompt)
        else:
            causes = _suffix(where, arg, ex.prompt) if kind == "suffix" else iter(())
        for cause in causes:
            yield cause, repr(ex.prompt)


# -- 2. a synonym that rewrites an option ----------------------------------------------------


def _body(ex: Example) -> str:
    """A lesson's prompt without the prefix and suffix its operators wrapped it in: a glued
    frame ("uhBlue or red?") is check 1's to report, not a lost option."""
    text = ex.prompt
    for op in ex.provenance.operators:
        kind, _, arg = op.partition(":")
        if kind == "prefix" and text.startswith(arg):
            text = " " + text[len(arg):]
        elif kind == "suffix" and arg and text.endswith(arg):
            text = text[: -len(arg)] + " "
    return text


def _asked(places: _Places, ex: Example) -> Iterator[tuple[_Cause, str]]:
    """Check 2: every option a lesson asks about is still in its prompt, as whole words → (cause, sample)."""
    p = ex.provenance
    body = _body(ex)
    for option in p.asked:
        if has_phrase(body, option):
            continue
        culprit = next((op for op in p.operators if op.startswith("syn:") and has_phrase(option, op[4:].split(">", 1)[0])), None)
        if culprit is not None:
            word, syn = culprit[4:].split(">", 1)
            yield _Cause(places.operator(culprit),
                         f"synonym '{word}' → '{syn}' rewrites the option '{option}' that lessons ask about, while their choices still say '{display(option)}'",
                         "a paraphrase must not change an answer word: remove this synonym, or rename the lexicon value"), _sample(ex)
        else:
            shown = "{{ option }}" if p.form_kind == "yes_no" else "{{ options[0] }} and {{ options[1] }}"
            yield _Cause(places.template(p), f"the {p.form_kind} template does not show the option its lessons ask about",
                         f"use {shown} in the template"), f"{_sample(ex)} asks about '{option}'"


# -- 5. a choice list without its answer -----------------------------------------------------


def _choices(places: _Places, ex: Example) -> Iterator[tuple[_Cause, str]]:
    """Check 5: the answer is a choice, the label points at it, no choice is listed twice → (cause, sample)."""
    p, choices = ex.provenance, ex.choices
    seen: set[str] = set()
    for choice in choices:
        if _word(choice) in seen:
            yield _Cause(places.choice(ex, choice), f"lessons of rule '{p.rule}' list the choice '{choice}' twice",
                         "a multiple-choice question needs distinct options: remove the repeated value"), _sample(ex)
            break
        seen.add(_word(choice))
    # Neither can come from a spec that loaded: expand makes the label from the answer. Checked
    # all the same, since a lesson that breaks them is scored against the wrong option.
    fix = "the lesson cannot be scored; this is a bug in the compiler: please report it"
    if ex.answer not in choices:
        yield _Cause(places.form(p), f"lessons of form '{p.form}' have an answer that is not among their choices", fix), _sample(ex)
    elif not 0 <= ex.label < len(choices) or choices[ex.label] != ex.answer:
        yield _Cause(places.form(p), f"lessons of form '{p.form}' have a label that does not point at their answer", fix), _sample(ex)


# -- 4. the same prompt with different answers -----------------------------------------------


def _origin(p: Provenance) -> str:
    return f"rule '{p.rule}', form '{p.form}', family '{p.family}'"


def _at(locate: Locate, where: Where) -> str:
    file, line, col = locate(*where)
    return f"{file}:{line}:{col}" if line else file


def _conflict(places: _Places, locate: Locate, a: Provenance, b: Provenance) -> _Cause:
    """Two lessons with one prompt and two answers → their cause. The same template in two
    rules: the rules overlap, so the second rule's subject is at fault; otherwise the
    template(s), the spec's own first (the file the user edits)."""
    # Either lesson may be seen first; the cause must read the same both ways round.
    a, b = sorted((a, b), key=lambda p: (places.template(p)[0] is not None, p.rule, p.form, p.family, p.template, p.scope))
    if a.rule != b.rule and (a.form, a.family, a.template) == (b.form, b.family, b.template):
        field = ("subject",) if b.scope == "rule" else ("neighbours", "subject")
        return _Cause(places.rule(b.rule, *field), f"rules '{a.rule}' and '{b.rule}' ask the same questions and answer them differently",
                      "give each subject one right answer: take it out of one of the rules' subject or neighbour slots")
    here, there = places.template(a), places.template(b)
    pair = _origin(a) if _origin(a) == _origin(b) else f"{_origin(a)} and {_origin(b)}"
    also = "" if there == here else f" (the other template: {_at(locate, there)})"
    return _Cause(here, f"lessons from {pair} ask the same question with different answers{also}",
                  "a question must decide its answer: make the template show what tells the lessons apart "
                  "(the option, the subject), or word it differently from the other one")


def _conflicts(places: _Places, locate: Locate, splits: Iterable[tuple[str, Sequence[Example]]]) -> Iterator[tuple[_Cause, str]]:
    """Check 4: lessons whose prompts match after whitespace/case normalization but whose
    answers differ — within a split or across splits → (cause, sample) per such pair."""
    first: dict[str, tuple[str, Example]] = {}
    for name, rows in splits:
        for ex in rows:
            seen_in, seen = first.setdefault(norm(ex.prompt), (name, ex))
            if seen is ex or _word(seen.answer) == _word(ex.answer):
                continue
            a, b = seen.provenance, ex.provenance
            yield _conflict(places, locate, a, b), (f"{repr(ex.prompt)}: '{seen.answer}' ({seen_in}, subject '{a.subject}') "
                                                   f"vs '{ex.answer}' ({name}, subject '{b.subject}')")


# -- all together ----------------------------------------------------------------------------


def _note(tally: dict[_Cause, _Seen], cause: _Cause, sample: str) -> None:
    seen = tally.setdefault(cause, _Seen())
    seen.count += 1
    if len(seen.samples) < MAX_SAMPLES and sample not in seen.samples:
        seen.samples.append(sample)


def lint_examples(spec: Spec, library: Library, splits: Iterable[tuple[str, Sequence[Example]]], locate: Locate) -> list[Problem]:
    """(spec, library, (split name, lessons) pairs, locate) → one error per cause, located at
    what to edit, with how many lessons it breaks and a sample or two; [] for sound lessons."""
    places = _Places.of(spec, library)
    splits = [(name, rows) for name, rows in splits]
    tally: dict[_Cause, _Seen] = {}
    for _, rows in splits:
        for ex in rows:
            found = [*_choices(places, ex)]
            if ex.provenance.operators:  # a base lesson has none
                found += _sentence(places, ex)
            if ex.provenance.asked:
                found += _asked(places, ex)
            for cause, sample in found:
                _note(tally, cause, sample)
    for cause, sample in _conflicts(places, locate, splits):
        _note(tally, cause, sample)
    report = Report(locate)
    for cause, seen in tally.items():
        n = f"{seen.count} lesson{'s' if seen.count != 1 else ''}"
        report.add(cause.where[1], f"{cause.message} [{n}, e.g. {'; '.join(seen.samples)}]", cause.hint, file=cause.where[0])
    return report.problems
