"""The one Jinja2 environment every spec and library template renders through.

Sandboxed (`ImmutableSandboxedEnvironment`), `StrictUndefined`, no loader (a template
cannot include a file), and each source compiled once and cached. Question templates
are one sentence: expressions, `if` and filters only. Loops, macros, blocks, includes,
unsafe attributes and the `attr` filter are refused by `check_template` before
anything renders, and arithmetic that could blow up memory is refused while rendering.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

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
_FORBIDDEN_FILTERS = {"attr", "map", "select", "reject", "selectattr", "rejectattr", "batch", "slice", "groupby"}
_MAX_OUTPUT = 2000  # characters: a question is a sentence, not a document
_MAX_CONST = 1000  # the largest integer literal a template may hold


class TemplateProblem(Exception):
    """A template that cannot be used; `message` is for the user, `hint` says the fix."""

    def __init__(self, message: str, hint: str = "", line: int = 0):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.line = line


class _Env(ImmutableSandboxedEnvironment):
    # `'ab' * 10**9` or `9**9**9` would allocate or spin before any check ran.
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**":
            raise SecurityError("the power operator is not allowed in templates")
        if isinstance(left, (str, list, tuple)) or isinstance(right, (str, list, tuple)):
            n = right if isinstance(left, (str, list, tuple)) else left
            if not isinstance(n, int) or n > 100:
                raise SecurityError("repeating text more than 100 times is not allowed in templates")
        return operator.mul(left, right)


_ENV = _Env(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


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
    template = compiled(source)
    try:
        # Jinja's documented low-level API, new_context + root_render_func, is what
        # Template.render runs too — after copying the environment's globals (range, lipsum,
        # dict, …) into every context, half of a one-sentence render's time (13 → 6 µs).
        # shared=True leaves them out: check_template refuses any name but the spec's slots,
        # so no template can use them. The sandbox is unchanged: its checks are compiled
        # into the template and call the environment, not the context.
        text = "".join(template.root_render_func(template.new_context(dict(variables), shared=True)))
    except (UndefinedError, SecurityError) as exc:
        raise TemplateProblem(str(exc), "check the template's variables and fields")
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"template syntax error: {exc.message}", "", exc.lineno)
    except Exception as exc:  # a value the trial renders did not reach: 1/0, a bad filter argument …
        raise TemplateProblem(f"template failed to render: {exc}", "check the template against every slot value")
    if len(text) > _MAX_OUTPUT:
        raise TemplateProblem(f"template renders {len(text)} characters (limit {_MAX_OUTPUT})", "shorten the template")
    return " ".join(text.split())
