"""The one Jinja2 environment every spec and library template renders through.

Sandboxed (`ImmutableSandboxedEnvironment`), `StrictUndefined`, no loader (a template
cannot include a file), and each source compiled once and cached. Question templates
are one sentence: expressions, `if` and filters only. Loops, macros, blocks, includes,
unsafe attributes and the `attr` filter are refused by `check_template` before
anything renders.

Every render runs under a budget enforced while it renders, before anything large is
allocated: no step (`*`, `%`, a method call, str.format, a filter that can grow text)
may take or build a text or list over `_BUDGET` characters, widths, repeats and
`replace` are estimated before they run, and a render that has spent `_MAX_SECONDS`
since its first budgeted step is stopped.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes, pass_context
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import _PassArg
from markupsafe import Markup

# Statements a one-sentence template has no use for; each is a way to burn CPU or
# reach outside the template.
_FORBIDDEN_NODES = {
    nodes.For: "loops ({% for %})",
    nodes.Macro: "macros",
    nodes.CallBlock: "call blocks",
    nodes.Include: "includes",
    nodes.Import: "imports",
    nodes.FromImport: "imports",
    nodes.Extends: "extends",
    nodes.Block: "blocks",
    nodes.FilterBlock: "filter blocks",
    nodes.Assign: "assignments ({% set %})",
    nodes.AssignBlock: "assignments ({% set %})",
    nodes.With: "with blocks",
}
# `tojson(indent)` writes indent × depth spaces per line of a nested list, ~indent × depth²
# in all: `[[[…]]]|tojson(1000)` 200 deep is 40 M characters. `pprint` dumps the same
# nesting. Neither has a place in a sentence.
_FORBIDDEN_FILTERS = {"attr", "map", "select", "reject", "selectattr", "rejectattr", "batch", "slice", "groupby",
                      "tojson", "pprint"}
# Filters that take no size and return at most a few times their input (a copy, a case
# change, a number; escaping: '&' → '&amp;'): Jinja calls them unchecked, as fast as
# before. Every other filter is budgeted.
_PLAIN_FILTERS = {"capitalize", "lower", "upper", "title", "trim", "striptags", "escape", "e", "forceescape", "safe",
                  "string", "length", "count", "first", "last", "wordcount", "abs", "int", "float", "default", "d"}
_MAX_OUTPUT = 2000  # characters: a question is a sentence, not a document
_MAX_SOURCE = 1000  # characters of template source: a sentence and its expressions
_MAX_CONST = 1000  # the largest integer literal a template may hold
_MAX_REPEAT = 100  # `text * n`: no sentence repeats anything more often
_BUDGET = _MAX_OUTPUT  # the most one step may build: a larger text cannot fit the output
# Wall clock from a render's first budgeted step. Each step is bounded, so only hundreds
# of them reach this (the slowest 1000-character template found: ~60 ms); a legitimate
# render takes microseconds, and the margin (30× the slowest) absorbs a garbage collection on
# a big heap or a stall on a loaded CI machine: a build must not depend on the clock.
_MAX_SECONDS = 2.0
_HINT = f"a template builds one sentence of at most {_BUDGET} characters"


# Internal, not a SyllabusError: every caller turns it into a located Problem / SpecError.
class TemplateProblem(Exception):
    """A template that cannot be used; `message` is for the user, `hint` says the fix."""

    def __init__(self, message: str, hint: str = "", line: int = 0):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.line = line


def _size(value: Any, limit: int = _BUDGET) -> int:
    """value → its characters, or for a list, tuple or dict its items plus their sizes, so
    `[[['x']*100]*100]*100` is ~10^6, not 100. Stops counting once past `limit`."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    elif not isinstance(value, (list, tuple)):
        return 0
    total = len(value)
    for item in value:
        if total > limit:
            break
        total += _size(item, limit - total)
    return total


def _limit(n: int, what: str, verb: str = "asks for") -> None:
    if n > _BUDGET:
        raise TemplateProblem(f"{what} {verb} {n} characters (limit {_BUDGET})", _HINT)


def _check_size(value: Any, what: str, verb: str) -> None:
    if _size(value) > _BUDGET:  # a list's count stops past the budget: say no number
        amount = len(value) if isinstance(value, (str, bytes)) else f"more than {_BUDGET}"
        raise TemplateProblem(f"{what} {verb} {amount} characters (limit {_BUDGET})", _HINT)


def _step(context: Any, what: str, given: tuple) -> None:
    """Check the render's clock (started by its first step) and the step's inputs. With
    inputs and widths ≤ _BUDGET, one step (wordwrap, indent, join) allocates at most
    ~_BUDGET² = 4 M characters before its result is checked, and that check keeps the
    next step's inputs ≤ _BUDGET again, so a chain cannot grow."""
    now = time.monotonic()
    started = getattr(context, "budget_started", None)
    if started is None:
        context.budget_started = now
    elif now - started > _MAX_SECONDS:
        raise TemplateProblem(f"the template takes over {_MAX_SECONDS} s to render", _HINT)
    for value in given:
        _check_size(value, what, "is given")


# A printf-style conversion and its width and precision: `%(key)-08.3f`, `%*s`, `%%`.
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d*)(?:\.(\*|\d*))?[hlL]?(.?)")


def _check_printf(fmt: str, args: Any) -> None:
    """`fmt % args`: refuse a width or precision over the budget, `*` ones read from args."""
    values = args if isinstance(args, tuple) else (args,)
    i = 0  # the next value a `*` or a conversion consumes
    for match in _PRINTF.finditer(fmt):
        for part in match.group(1, 2):
            if part == "*":
                n, i = (values[i] if i < len(values) else 0), i + 1
            else:
                n = int(part or 0)
            if isinstance(n, int) and n > _BUDGET:
                _limit(n, f"the format '{match.group()}'")
        i += match.group(3) != "%"


def _check_growth(name: str, text: Any, given: tuple) -> None:
    """replace and expandtabs multiply a text by what they are given; estimate first.
    replace: len + hits × (len(new) - len(old)), so `.replace('a', 'aa')` chains double;
    expandtabs: ≤ tabsize spaces a tab, 2000 tabs × 1000 = 2 M characters."""
    text = str(text)
    if name == "replace" and len(given) >= 2:
        old, new = str(given[0]), str(given[1])
        hits = text.count(old)  # len + 1 for old == ''
        if len(given) > 2 and isinstance(given[2], int) and given[2] > 0:
            hits = min(hits, given[2])
        _limit(len(text) + hits * (len(new) - len(old)), "replace()", "would make")
    elif name == "expandtabs" and isinstance(tabsize := given[0] if given else 8, int):
        _limit(len(text) + text.count("\t") * tabsize, "expandtabs()", "would make")


class _Formatter(SandboxedFormatter):
    # format_field sees the spec after nested fields are filled in: '{:{}}'.format(x, n).
    def format_field(self, value: Any, format_spec: str) -> Any:
        for n in map(int, re.findall(r"\d+", format_spec)):  # the width, the precision, a digit fill
            if n > _BUDGET:
                _limit(n, f"the format field '{{:{format_spec}}}'")
        return super().format_field(value, format_spec)


class _EscapeFormatter(_Formatter, SandboxedEscapeFormatter):
    pass


class _Env(ImmutableSandboxedEnvironment):
    # `**`: `9**9**9` spins before any check could run. `*` and `%` build text as large as
    # their operands say (and unintercepted, Jinja would run them on constants while
    # compiling). `+` and `~` only join what is built: a 1000-character source joins a few
    # hundred pieces of ≤ _BUDGET, and the next step or the output check refuses the sum.
    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**":
            raise TemplateProblem("the power operator is not allowed in templates", _HINT)
        _step(context, f"'{op}'", (left, right))
        if op == "%":
            if isinstance(left, (str, bytes)):
                _check_printf(left if isinstance(left, str) else left.decode("latin-1"), right)
            result = left % right
            _check_size(result, "'%'", "makes")
            return result
        seq, n = (left, right) if isinstance(left, (str, bytes, list, tuple)) else (right, left)
        if isinstance(seq, (str, bytes, list, tuple)):
            if not isinstance(n, int) or n > _MAX_REPEAT:
                message = f"repeating text more than {_MAX_REPEAT} times is not allowed in templates"
                raise TemplateProblem(message, _HINT)
            size = _size(seq)
            if size * n > _BUDGET:
                what = f"{size} characters" if isinstance(seq, (str, bytes)) else f"a list of size {size}"
                _limit(size * n, f"repeating {what} {n} times", "would make")
        return left * right

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        name, receiver = getattr(obj, "__name__", "a call"), getattr(obj, "__self__", None)
        given = (*args, *kwargs.values())
        what = f"{name}()"
        _step(context, what, (receiver, *given))
        if isinstance(receiver, (str, bytes, int)):
            # An int argument is a width (center, ljust, rjust, zfill, to_bytes) or a position
            # or count, which a text of ≤ 2000 characters has no use for above 2000 either.
            for n in given:
                if isinstance(n, int):
                    _limit(n, what)
            if name in ("replace", "expandtabs"):
                _check_growth(name, receiver, given)
        result = super().call(context, obj, *args, **kwargs)
        _check_size(result, what, "makes")
        return result

    def wrap_str_format(self, value: Any) -> Any:
        # Jinja's own wrapper for str.format and format_map, with _Formatter.
        name, fmt = getattr(value, "__name__", None), getattr(value, "__self__", None)
        if name not in ("format", "format_map") or not isinstance(fmt, str):
            return None
        is_map = name == "format_map"
        formatter = _EscapeFormatter(self, escape=fmt.escape) if isinstance(fmt, Markup) else _Formatter(self)

        def checked_format(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                args, kwargs = (), args[0]
            return type(fmt)(formatter.vformat(fmt, args, kwargs))

        checked_format.__name__ = name  # for messages: "format() makes …"
        return checked_format


def _budgeted(name: str, func: Any) -> Any:
    """A filter checked like a call: Jinja calls filters directly, not through `call`."""
    lead = {
        _PassArg.context: lambda context: (context,),
        _PassArg.eval_context: lambda context: (context.eval_ctx,),
        _PassArg.environment: lambda context: (context.environment,),
    }.get(_PassArg.from_obj(func), lambda context: ())

    what = f"the '{name}' filter"

    @pass_context  # which also keeps Jinja from running the filter on constants at compile time
    def checked(context: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        given = (*args, *kwargs.values())
        _step(context, what, (value, *given))
        if name in ("center", "indent"):  # an int argument is a width; elsewhere a value (format, default)
            for n in given:
                if isinstance(n, int) and n > _BUDGET:
                    _limit(n, f"{what}'s width")
        elif name == "format":  # value % (kwargs or args)
            _check_printf(str(value), kwargs or args)
        elif name == "replace":
            _check_growth(name, value, given)
        result = func(*lead(context), value, *args, **kwargs)
        _check_size(result, what, "makes")
        return result

    return checked


_ENV = _Env(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
_ENV.filters = {name: f if name in _PLAIN_FILTERS else _budgeted(name, f)
                for name, f in _ENV.filters.items() if name not in _FORBIDDEN_FILTERS}


@dataclass(frozen=True)
class Scope:
    """What a template may read: scalar names, and record names with their fields."""

    scalars: frozenset[str]
    records: Mapping[str, frozenset[str]]

    def describe(self) -> str:
        names = sorted(self.scalars) + sorted(self.records)
        return ", ".join(names)


def check_template(source: str, scope: Scope) -> None:
    """source, scope → None, or raise TemplateProblem naming the first thing wrong."""
    if len(source) > _MAX_SOURCE:
        raise TemplateProblem(f"the template is {len(source)} characters long (limit {_MAX_SOURCE})", _HINT)
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"template syntax error: {exc.message}", "check the {{ }} and {% %} pairs", exc.lineno)
    for node_type, what in _FORBIDDEN_NODES.items():
        found = next(iter(tree.find_all(node_type)), None)
        if found is not None:
            raise TemplateProblem(
                f"{what} are not allowed in templates", "a template is one sentence: use expressions and {% if %}"
            )
    for node in tree.find_all(nodes.Filter):
        if node.name in _FORBIDDEN_FILTERS:
            raise TemplateProblem(f"the '{node.name}' filter is not allowed in templates", "use plain field access")
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        attr = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(attr, str) and attr.startswith("_"):
            raise TemplateProblem(f"access to '{attr}' is not allowed in templates", "templates read slot fields only")
    for node in tree.find_all(nodes.Const):
        # center(10**9), indent(…), format widths: refuse sizes before they allocate.
        if isinstance(node.value, int) and not isinstance(node.value, bool) and abs(node.value) > _MAX_CONST:
            raise TemplateProblem(
                f"the number {node.value} is too large for a template (limit {_MAX_CONST})", "templates build one sentence"
            )
    for node in tree.find_all(nodes.Name):
        if node.ctx != "load":
            continue
        if node.name not in scope.scalars and node.name not in scope.records:
            raise TemplateProblem(
                f"undefined variable '{node.name}'", f"available here: {scope.describe()}", node.lineno
            )
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name in scope.records:
            fields = scope.records[node.node.name]
            if node.attr not in fields:
                raise TemplateProblem(
                    f"'{node.node.name}' has no field '{node.attr}'",
                    f"every value of the slot needs it; fields all values have: {', '.join(sorted(fields))}",
                    node.lineno,
                )


@lru_cache(maxsize=None)
def compiled(source: str) -> Any:
    """source → compiled jinja2 Template, compiled once per process."""
    return _ENV.from_string(source)


def render(source: str, variables: Mapping[str, Any]) -> str:
    """source, variables → text with whitespace collapsed; TemplateProblem on failure."""
    try:
        template = compiled(source)
        # Jinja's documented low-level API, new_context + root_render_func, is what
        # Template.render runs too — after copying the environment's globals (range, lipsum,
        # dict, …) into every context, half of a one-sentence render's time (13 → 6 µs).
        # shared=True leaves them out: check_template refuses any name but the spec's slots,
        # so no template can use them. The sandbox is unchanged: its checks are compiled
        # into the template and call the environment, not the context.
        text = "".join(template.root_render_func(template.new_context(dict(variables), shared=True)))
    except TemplateProblem:
        raise
    except (UndefinedError, SecurityError) as exc:
        raise TemplateProblem(str(exc), "check the template's variables and fields")
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"template syntax error: {exc.message}", "", exc.lineno)
    except Exception as exc:  # a value the trial renders did not reach: 1/0, a bad filter argument …
        raise TemplateProblem(f"template failed to render: {exc}", "check the template against every slot value")
    if len(text) > _MAX_OUTPUT:
        raise TemplateProblem(f"template renders {len(text)} characters (limit {_MAX_OUTPUT})", "shorten the template")
    return " ".join(text.split())
