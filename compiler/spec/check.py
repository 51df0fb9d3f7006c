"""Semantic checks: what the schema cannot see, found before anything is compiled.

Pure: (spec parts, library, a position lookup) → problems. The lookup turns a path
in a file (`('rules', 0, 'subject')`) into (file, line, col), so this module never
reads a file. `Parts` lets the loader check the pieces of a spec that did validate
when other pieces did not, so the user sees every problem in one go.

Templates are checked the way `expand.py` renders them: statically against the
variables in scope (`templating.check_template`), then by one trial render per
value of every slot, which catches what only shows at render time (a filter that fails
on one value, text that renders empty). Before any of that, the budget: a spec that
expands to more than `limits.max_examples` is refused from counts alone, and its
templates get one trial render each instead of one per value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from .budget import DRAWS_PER_EXAMPLE, count_examples, held_count
from ..errors import Problem
from .library import FORM_SCALARS, MC_DISTRACTORS, Library
from .phrases import norm, value_clash
from .model import GENERAL_CHECK_KINDS, MAX_EXAMPLES, Gate, HoldOut, LexEntry, Retain, Rule, Spec
from .templating import Scope, TemplateProblem, check_template, render
from .yamlio import did_you_mean, field_name

# (file or None for the spec itself, path in that file) → (file, line, col)
Locate = Callable[[str | None, tuple], tuple[str, int, int]]

# Template scalars a slot name would shadow: a form's (FORM_SCALARS) and a phrasing's `answer`.
_RESERVED = {"attribute", "answer"}.union(*FORM_SCALARS.values())


@dataclass(frozen=True)
class Parts:
    """The pieces of a spec the checks read; None (or no rules) where a piece failed the schema."""

    lexicon: Mapping[str, tuple[LexEntry, ...]] | None
    rules: tuple[tuple[int, Rule], ...] = ()  # (index in the spec's rules, rule)
    hold_out: HoldOut | None = None
    gate: Gate | None = None
    broken_slots: frozenset[str] = frozenset()  # lexicon slots that failed the schema (already reported)
    retain: Retain | None = None  # None where the retain block failed the schema
    variants: int = 2  # paraphrase.variants
    max_examples: int | None = MAX_EXAMPLES  # limits.max_examples; None where limits failed the schema
    gate_written: bool = True  # False: the spec has no `gate:`, its checks are the defaults

    @classmethod
    def of(cls, spec: Spec) -> "Parts":
        lexicon = {slot: tuple(values) for slot, values in spec.lexicon.items()}
        return cls(lexicon, tuple(enumerate(spec.rules)), spec.splits.hold_out, spec.gate, retain=spec.retain,
                   variants=spec.paraphrase.variants, max_examples=spec.limits.max_examples,
                   gate_written="gate" in spec.model_fields_set)


@dataclass
class Report:
    """Collect-all: every problem found, each located through `locate` when it is added."""

    locate: Locate
    problems: list[Problem] = field(default_factory=list)

    def add(self, path: tuple, message: str, hint: str = "", *, file: str | None = None, warn: bool = False) -> None:
        where, line, col = self.locate(file, path)
        self.problems.append(Problem(where, line, col, field_name(path), message, hint, "warning" if warn else "error"))


def _fields(values: Sequence[LexEntry]) -> frozenset[str]:
    """Fields every value has: 'name' plus the forms keys they all share."""
    common = set(values[0].as_vars()) if values else {"name"}
    for value in values[1:]:
        common &= set(value.as_vars())
    return frozenset(common)


def _template(
    report: Report, path: tuple, source: str, scope: Scope, trials: Sequence[Mapping[str, object]],
    *, file: str | None = None, context: str = "",
) -> None:
    """Static check, then a trial render per variable set; report the first failure."""
    try:
        check_template(source, scope)
        for variables in trials:
            if not render(source, variables):
                report.add(path, f"template{context} renders empty text", "a template must produce a question", file=file)
                return
    except TemplateProblem as exc:
        report.add(path, f"template{context}: {exc.message}", exc.hint, file=file)
    except Exception as exc:  # noqa: BLE001 - the user's template failed while rendering (1/0, 1 + 'a', ...)
        report.add(path, f"template{context} fails to render: {type(exc).__name__}: {exc}", "fix the expression", file=file)


def _check_lexicon(lexicon: Mapping[str, tuple[LexEntry, ...]], report: Report) -> None:
    for slot, values in lexicon.items():
        if not values:
            report.add(("lexicon", slot), f"lexicon slot '{slot}' is empty", "give it at least one value, or remove the slot")
        seen: dict[str, int] = {}
        for j, value in enumerate(values):
            if norm(value.name) in seen:
                report.add(("lexicon", slot, j), f"'{value.name}' is listed twice in slot '{slot}' (first at [{seen[norm(value.name)]}])",
                           "remove the repeat: it would only duplicate examples", warn=True)
            seen.setdefault(norm(value.name), j)


class _RuleCheck:
    """All checks of one rule; each method adds to the report."""

    def __init__(self, i: int, rule: Rule, parts: Parts, library: Library | None, report: Report, *, every_value: bool = True):
        self.i, self.rule, self.lex, self.library, self.report = i, rule, parts.lexicon or {}, library, report
        self.every_value = every_value  # trial-render templates with every value, or (over budget) the first
        self.hold_out, self.broken = parts.hold_out, parts.broken_slots
        self.base: tuple = ("rules", i)

    def slot(self, name: str, path: tuple, *, reserved: set[str]) -> tuple[LexEntry, ...] | None:
        if name in _RESERVED & reserved:
            self.report.add(path, f"slot name '{name}' clashes with the template variable '{name}'", "rename the lexicon slot")
            return None
        if name in self.broken:
            return None
        if name not in self.lex:
            slots = sorted(self.lex)
            self.report.add(path, f"unknown lexicon slot '{name}'", did_you_mean(name, slots) + f"slots in the lexicon: {', '.join(slots) or '(none)'}")
            return None
        return self.lex[name] or None  # an empty slot is reported by the lexicon check

    def run(self) -> None:
        rule, base = self.rule, self.base
        subjects = self.slot(rule.subject, base + ("subject",), reserved={"attribute", "option", "options"})
        distractors = self.slot(rule.distractors, base + ("distractors",), reserved=set())
        neighbours = None
        if rule.neighbours is not None:
            neighbours = self.slot(rule.neighbours.subject, base + ("neighbours", "subject"), reserved={"attribute"})
        else:
            self.report.add(base, f"rule '{rule.id}' has no neighbours: locality cannot be tested",
                            "add `neighbours: {subject: <slot>, answer: ...}` with out-of-scope subjects the rule must leave alone", warn=True)
        forms = self.forms()
        if distractors:
            self.distractors(distractors)
        if subjects and neighbours:
            self.overlap(subjects, neighbours)
        if neighbours:
            self.neighbour_answer(neighbours)
            self.neighbour_split(len(neighbours))
        if subjects:
            self.templates(subjects, neighbours, forms)
            self.family_split(forms)

    def forms(self) -> list[str]:
        """Check form names; → the used forms the library knows."""
        rule, base = self.rule, self.base
        if self.library is None:
            return []
        known = sorted(self.library.forms)
        for k, form in enumerate(rule.forms):
            if form not in self.library.forms:
                self.report.add(base + ("forms", k), f"unknown form '{form}'", did_you_mean(form, known) + f"available forms: {', '.join(known)}")
        for form in rule.templates:
            if form not in self.library.forms:
                self.report.add(base + ("templates", form), f"unknown form '{form}'", did_you_mean(form, known) + f"available forms: {', '.join(known)}")
            elif form not in rule.forms:
                self.report.add(base + ("templates", form), f"templates for form '{form}' are never used: '{form}' is not in forms",
                                f"add '{form}' to rules[{self.i}].forms, or remove these templates", warn=True)
        return [f for f in dict.fromkeys(rule.forms) if f in self.library.forms]

    def distractors(self, values: tuple[LexEntry, ...]) -> None:
        rule = self.rule
        # A wrong answer that holds or is held by the right one makes a lesson that contradicts
        # itself ("Is light blue a good color for the box?" — No) and a reply that names both.
        # The value itself is only a warning: expand leaves it out of the wrong answers, so a
        # slot shared by several rules (or a value changed to another of the slot's words) works.
        for j, value in enumerate(values):
            clash = value_clash(rule.value, value.name)
            if clash:
                same = norm(value.name) == norm(rule.value)
                self.report.add(("lexicon", rule.distractors, j), f"'{value.name}' is a distractor (wrong answer) of rule '{rule.id}' but {clash}"
                                + (": it is never used as a wrong answer" if same else ""),
                                f"remove it from lexicon.{rule.distractors}, or give rules[{self.i}].distractors a slot without the rule's value",
                                warn=same)
        wrong = {norm(v.name) for v in values} - {norm(rule.value)}
        path = self.base + ("distractors",)
        if not wrong:
            self.report.add(path, f"distractor slot '{rule.distractors}' has no value other than the rule's value '{rule.value}'",
                            f"add wrong answers to lexicon.{rule.distractors}: the model is scored on picking '{rule.value}' over them")
        elif len(wrong) < MC_DISTRACTORS:
            self.report.add(path, f"distractor slot '{rule.distractors}' has only {len(wrong)} value(s) other than '{rule.value}'",
                            f"open questions are scored against up to {MC_DISTRACTORS} distractors; add more to lexicon.{rule.distractors}", warn=True)

    def overlap(self, subjects: tuple[LexEntry, ...], neighbours: tuple[LexEntry, ...]) -> None:
        rule = self.rule
        nslot = rule.neighbours.subject
        if nslot == rule.subject:
            self.report.add(self.base + ("neighbours", "subject"), f"the neighbours slot '{nslot}' is the rule's own subject slot",
                            "neighbours are out-of-scope subjects: give them a slot of their own")
            return
        in_scope = {norm(v.name) for v in subjects}
        for j, value in enumerate(neighbours):
            if norm(value.name) in in_scope:
                self.report.add(("lexicon", nslot, j), f"'{value.name}' is a neighbour of rule '{rule.id}' (out of scope) and also one of its subjects (slot '{rule.subject}')",
                                f"remove it from lexicon.{nslot} or from lexicon.{rule.subject}")

    def neighbour_answer(self, neighbours: tuple[LexEntry, ...]) -> None:
        rule = self.rule
        nslot, source, path = rule.neighbours.subject, rule.neighbours.answer, self.base + ("neighbours", "answer")
        nf = _fields(neighbours)
        try:
            check_template(source, Scope(frozenset({"attribute"}), {"subject": nf, nslot: nf}))
        except TemplateProblem as exc:
            self.report.add(path, f"template: {exc.message}", exc.hint)
            return
        except Exception as exc:  # noqa: BLE001 - e.g. RecursionError on absurdly nested input
            self.report.add(path, f"template cannot be read: {type(exc).__name__}", "simplify the expression")
            return
        for value in neighbours:
            variables = {"attribute": rule.attribute, "subject": value.as_vars(), nslot: value.as_vars()}
            try:
                answer = render(source, variables)
            except TemplateProblem as exc:
                self.report.add(path, f"template fails for neighbour '{value.name}': {exc.message}", exc.hint)
                return
            except Exception as exc:  # noqa: BLE001 - a user expression that fails to evaluate
                self.report.add(path, f"template fails for neighbour '{value.name}': {type(exc).__name__}: {exc}", "fix the expression")
                return
            if not answer:
                self.report.add(path, f"the answer renders empty for neighbour '{value.name}'",
                                f"give every value of lexicon.{nslot} the field the answer reads, with a non-empty value")
                return
            if norm(answer) == norm(rule.value):
                self.report.add(path, f"neighbour '{value.name}' has the answer '{answer}', the rule's own value: it cannot show spill-over",
                                "pick neighbours whose right answer differs from the rule's value", warn=True)

    def _trials(self, values: Sequence[LexEntry], slot: str | None) -> list[dict[str, object]]:
        rule = self.rule
        wrong = next((v.name for v in self.lex.get(rule.distractors, ()) if norm(v.name) != norm(rule.value)), "other")
        out = []
        for value in values if self.every_value else values[:1]:
            variables: dict[str, object] = {"attribute": rule.attribute, "subject": value.as_vars(), "option": rule.value,
                                            "options": [rule.value, wrong], "answer": rule.value}
            if slot:
                variables[slot] = value.as_vars()
            out.append(variables)
        return out

    def templates(self, subjects: tuple[LexEntry, ...], neighbours: tuple[LexEntry, ...] | None, forms: list[str]) -> None:
        rule, base, lib = self.rule, self.base, self.library
        sf = _fields(subjects)
        lib_fields = sf & _fields(neighbours) if neighbours else sf
        in_scope = self._trials(subjects, rule.subject)
        everyone = in_scope + (self._trials(neighbours, None) if neighbours else [])
        used_by = f" (form '{{form}}', used by rule '{rule.id}')"
        for form in forms:
            scalars = frozenset({"attribute"} | FORM_SCALARS[lib.forms[form].kind])
            scope = Scope(scalars, {"subject": lib_fields})
            for fi, family in enumerate(lib.forms[form].families):
                for ti, source in enumerate(family.templates):
                    _template(self.report, ("families", fi, "templates", ti), source, scope, everyone,
                              file=family.source, context=used_by.format(form=form))
            rule_scope = Scope(scalars, {"subject": sf, rule.subject: sf})
            for ti, source in enumerate(rule.templates.get(form, [])):
                _template(self.report, base + ("templates", form, ti), source, rule_scope, in_scope)
        answer_scope = Scope(frozenset({"answer", "attribute"}), {"subject": sf})
        for ai, source in enumerate(rule.phrasings):
            _template(self.report, base + ("phrasings", ai), source, answer_scope, in_scope)
        # Facts render with `value` (the subject's right answer); a neighbour fact sees only the
        # fields every neighbour has, under `subject` and the neighbours' own slot name.
        fact_trials = [{**t, "value": rule.value} for t in in_scope]
        _template(self.report, base + ("facts", "rule"), rule.facts.rule,
                  Scope(frozenset({"value", "attribute"}), {"subject": sf, rule.subject: sf}), fact_trials)
        if neighbours and rule.neighbours is not None:
            nf, nslot = _fields(neighbours), rule.neighbours.subject
            trials = [{**t, "value": "x", nslot: t["subject"]} for t in self._trials(neighbours, None)]
            _template(self.report, base + ("facts", "neighbour"), rule.facts.neighbour,
                      Scope(frozenset({"value", "attribute"}), {"subject": nf, nslot: nf}), trials)

    def family_split(self, forms: list[str]) -> None:
        if self.hold_out is None:
            return
        frac, pct = self.hold_out.templates, round(self.hold_out.templates * 100)
        for form in forms:
            if form in self.hold_out.forms:
                continue  # all of a held-out form goes to test_form
            n = len(self.library.forms[form].families) + len(self.rule.templates.get(form, []))
            held = held_count(n, frac)
            add_more = f"add templates under rules[{self.i}].templates.{form}, or a template pack with more families"
            if frac > 0 and n < 2:
                self.report.add(self.base + ("forms",), f"form '{form}' has {n} template family; none can be held out for test_paraphrase", add_more, warn=True)
            elif held and n - held == 1:
                self.report.add(self.base + ("forms",), f"form '{form}' has {n} template families; holding out {pct}% leaves 1 for train",
                                add_more + ", or lower splits.hold_out.templates", warn=True)

    def neighbour_split(self, n: int) -> None:
        if self.hold_out is not None and self.hold_out.neighbours > 0 and n < 2:
            self.report.add(self.base + ("neighbours", "subject"),
                            f"rule '{self.rule.id}' has {n} neighbour; holding out {round(self.hold_out.neighbours * 100)}% of neighbours needs at least 2 (one to train on, one to test)",
                            f"add neighbours to lexicon.{self.rule.neighbours.subject}, or set splits.hold_out.neighbours: 0")


def _check_hold_out(parts: Parts, library: Library, report: Report) -> None:
    held = parts.hold_out.forms
    known = sorted(library.forms)
    for k, form in enumerate(held):
        if form not in library.forms:
            report.add(("splits", "hold_out", "forms", k), f"unknown form '{form}'", did_you_mean(form, known) + f"available forms: {', '.join(known)}")
        elif parts.rules and not any(form in rule.forms for _, rule in parts.rules):
            report.add(("splits", "hold_out", "forms", k), f"form '{form}' is held out but no rule uses it", "test_form gets nothing from it", warn=True)
    for i, rule in parts.rules:
        if set(rule.forms) <= set(held):
            report.add(("splits", "hold_out", "forms"), f"holds out every form rule '{rule.id}' uses ({', '.join(dict.fromkeys(rule.forms))}): nothing left to train on",
                       f"hold out fewer forms, or add forms to rules[{i}].forms")


def _check_general_gate(parts: Parts, report: Report) -> None:
    """A check of general drift in a spec that builds no test_general would never be evaluated:
    an error, since the gate would fail closed on every run."""
    if parts.gate is None or parts.retain is None or parts.retain.general is not None:
        return
    for k, check in enumerate(parts.gate.checks):
        if check.kind in GENERAL_CHECK_KINDS:
            report.add(("gate", "checks", k, "kind"), f"{check.kind} reads test_general, which this spec does not build",
                       "add `retain: {general: {share: 0.1}}` (general retain lessons and the test_general split), "
                       "or drop the check")


def _check_gate(parts: Parts, report: Report) -> None:
    """Refuse gate checks that read a split the spec leaves empty: the gate could never pass them
    (it fails closed, exit 3, on a missing score), so the spec is wrong, not the model. A spec
    without `gate:` gets the default checks, which it did not write: there, a warning."""
    _check_general_gate(parts, report)
    if parts.gate is None or parts.hold_out is None or not parts.rules or parts.lexicon is None:
        return
    held = set(parts.hold_out.forms)
    empty = {}
    if parts.hold_out.templates == 0:
        empty["test_paraphrase"] = "no template family is held out (splits.hold_out.templates is 0)"
    if not any(held & set(rule.forms) for _, rule in parts.rules):
        empty["test_form"] = "no form a rule uses is held out (splits.hold_out.forms)"
    n_neigh = [len(parts.lexicon.get(rule.neighbours.subject, ())) for _, rule in parts.rules if rule.neighbours]
    if not any(held_count(n, parts.hold_out.neighbours) for n in n_neigh):
        empty["test_locality"] = "no rule has neighbours held out (rules[].neighbours, splits.hold_out.neighbours)"
    for k, check in enumerate(parts.gate.checks):
        if check.split in empty:
            report.add(("gate", "checks", k, "split"), f"this check reads {check.split}, which will be empty: {empty[check.split]}",
                       "hold out what the split needs, or drop the check" if parts.gate_written else
                       "write a `gate:` with the checks this spec can run (the defaults read every split)",
                       warn=not parts.gate_written)


def _check_budget(parts: Parts, library: Library, report: Report) -> bool:
    """→ whether the rules expand to more examples than limits.max_examples (one error if so,
    at the rule that expands to most, naming what multiplies)."""
    if parts.max_examples is None or parts.lexicon is None or not parts.rules:
        return False
    sizes = {slot: len(values) for slot, values in parts.lexicon.items()}
    counts = count_examples(parts.rules, sizes, library, parts.variants)
    total, draws = sum(c.total for c in counts), sum(c.draws for c in counts)
    if total > parts.max_examples:
        largest = sorted(counts, key=lambda c: -c.total)
        shown = "; ".join(c.describe() for c in largest[:3]) + ("; …" if len(largest) > 3 else "")
        report.add(("rules", largest[0].index),
                   f"the spec expands to {total:,} examples, above limits.max_examples ({parts.max_examples:,}): {shown}",
                   "use fewer lexicon values, forms or templates, or a lower paraphrase.variants; "
                   "or raise limits.max_examples if the machine can hold them (~3.4 KB each while compiling)")
    elif draws > parts.max_examples * DRAWS_PER_EXAMPLE:
        largest = sorted(counts, key=lambda c: -c.draws)
        shown = "; ".join(c.describe_draws() for c in largest[:3]) + ("; …" if len(largest) > 3 else "")
        report.add(("rules", largest[0].index, "distractors"),
                   f"drawing wrong answers ranks {draws:,} distractor values, above the {DRAWS_PER_EXAMPLE} per example "
                   f"limits.max_examples allows ({parts.max_examples * DRAWS_PER_EXAMPLE:,}): {shown}",
                   "give the rule a smaller distractor slot (a few dozen wrong answers are plenty), or raise limits.max_examples")
    else:
        return False
    return True


def check_spec(spec: Spec | Parts, library: Library | None, locate: Locate) -> list[Problem]:
    """(spec or its valid parts, library or None if it failed to load, locate) → problems
    (errors and warnings), each located, without repeats."""
    parts = spec if isinstance(spec, Parts) else Parts.of(spec)
    report = Report(locate)
    over_budget = library is not None and _check_budget(parts, library, report)
    if parts.lexicon is not None:
        _check_lexicon(parts.lexicon, report)
    seen: dict[str, int] = {}
    for i, rule in parts.rules:
        if rule.id in seen:
            report.add(("rules", i, "id"), f"rule id '{rule.id}' is used twice (first at rules[{seen[rule.id]}])", "give every rule its own id")
        seen.setdefault(rule.id, i)
        if parts.lexicon is not None:
            _RuleCheck(i, rule, parts, library, report, every_value=not over_budget).run()
    if library is not None and parts.hold_out is not None:
        _check_hold_out(parts, library, report)
    _check_gate(parts, report)
    return list(dict.fromkeys(report.problems))
