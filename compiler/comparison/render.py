"""ComparisonResult → text (a terminal), Markdown (a pull-request comment), JSON (tools) or HTML
(self-contained: the tables and an inline SVG chart).

Text, Markdown and HTML lay out the same blocks (a heading, a sentence, a table, notes): the
runs, the recipe settings that differ, then one accuracy table per split × reading with its
pairwise McNemar tests. JSON holds every number unrounded (NaN as null) under
"schema": "syllabus.compare/1", with "on": "test" or "dev" (sweep trials on their dev split).
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass

from ..integrity import is_sha256
from ..markdown import md_escape
from ..release.formatting import fmt
from .chart import svg_chart
from .compare import ALPHA, ComparisonResult, PairTest, RecipeDiff, RunInfo, Table

SCHEMA = "syllabus.compare/1"
FORMATS = ("text", "json", "markdown", "html")


@dataclass(frozen=True)
class Block:
    """One piece of a report: a heading (level 2 or 3; "" for none), a lead sentence, a table
    (head + rows of cells; columns from `right_from` on are numbers, aligned right) and notes."""

    title: str
    level: int
    lead: str
    head: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    right_from: int = 1
    notes: tuple[str, ...] = ()


def render(result: ComparisonResult, fmt_name: str) -> str:
    """ComparisonResult + 'text' | 'json' | 'markdown' | 'html' → the output, ending in a newline."""
    if fmt_name == "json":
        return json.dumps(to_json(result), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
    blocks = _blocks(result)
    if fmt_name == "markdown":
        return _markdown(result, blocks)
    if fmt_name == "html":
        return _html(result, blocks)
    return _text(result, blocks)


# ---------------------------------------------------------------- numbers and cells


def _p(p: float) -> str:
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def _value(v: object) -> str:
    """A recipe value as run.json holds it → a cell: lists joined, sha256 cut to 12, None as —."""
    if v is None:
        return "—"
    if isinstance(v, list):
        return ", ".join(_value(x) for x in v)
    if is_sha256(v):
        return str(v)[:12]
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _headline(r: ComparisonResult) -> str:
    b = r.runs[0].build
    where = (f"one build: {b.name} (manifest sha256 {b.sha256[:12]})" if r.same_build
             else f"{len({i.build.sha256 for i in r.runs})} different builds, compared on the items they share by id")
    scores = f"{r.arm} arm on the dev split (sweep trials)" if r.on == "dev" else f"{r.arm} arm"
    return f"syllabus compare: {len(r.runs)} runs, {scores}, {where}"


# ---------------------------------------------------------------- the blocks every layout shares


def _blocks(r: ComparisonResult) -> list[Block]:
    blocks = [_runs_block(r), _recipe_block(r)]
    for t in r.tables:
        blocks += _table_blocks(r, t)
    if r.unshared:
        blocks.append(Block("Not compared", 2, "Not every run scored these, so they are left out:",
                            notes=r.unshared))
    return blocks


def _runs_block(r: ComparisonResult) -> Block:
    """The runs' facts; the run id and build columns only where they say more than the label and
    the headline (a run folder is usually named by its id; one build is named above)."""
    def drift(i: RunInfo) -> str:
        if i.drift is None:
            return "—"
        return f"{fmt(i.drift)} ± {fmt(i.drift_stderr if i.drift_stderr is not None else math.nan)}"

    ids = any(i.run_id != i.label for i in r.runs)
    builds = not r.same_build
    head = ("run", *(("run id",) if ids else ()), *(("build",) if builds else ()), "model", "train s", "tokens/s",
            "eval s", "drift (nats/token)", "collapsed")
    rows = tuple(
        (i.label, *((i.run_id,) if ids else ()), *((f"{i.build.name} {i.build.sha256[:12]}",) if builds else ()),
         i.model, fmt(i.train_wall_s, 1), "—" if i.tokens_per_s is None else fmt(i.tokens_per_s, 0),
         fmt(i.eval_wall_s, 1), drift(i), "—" if i.collapsed is None else f"{i.collapsed} of {i.general_n}")
        for i in r.runs
    )
    notes = ("train s, tokens/s: training, as run.json records it · eval s: evaluating the compared arm · "
             "drift: how much less likely the base model's own replies to held-out general prompts became "
             "(nats/token ± standard error; — not measured)",)
    return Block("Runs", 2, "", head, rows, right_from=head.index("model") + 1, notes=notes)


def _recipe_block(r: ComparisonResult) -> Block:
    if not r.recipe:
        return Block("Recipe differences", 2, "None: every run records the same training settings, device, "
                     "base weights and versions.")
    head = ("setting", *(i.label for i in r.runs))
    rows = tuple((d.setting, *(_value(v) for v in d.values)) for d in r.recipe)
    return Block("Recipe differences", 2, "The training settings (and device, base weights, versions) whose "
                 "values are not the same in every run:", head, rows, right_from=len(head))


def _table_blocks(r: ComparisonResult, t: Table) -> list[Block]:
    left_out = any(row.left_out for row in t.rows)
    head = ("run", "accuracy", "Wilson 95%", "correct", "n") + (("left out",) if left_out else ())
    rows = tuple(
        (row.label, fmt(row.acc), f"[{fmt(row.wilson_low, 2)}, {fmt(row.wilson_high, 2)}]", str(row.correct),
         str(row.n)) + ((str(row.left_out),) if left_out else ())
        for row in t.rows
    )
    what = "items" if r.same_build and not left_out else "items shared by every run"
    lead = "left out: the items a run scored that not every run did" if left_out else ""
    blocks = [Block(f"{t.split} ({t.reading}): {t.shared} {what}", 3, lead, head, rows)]
    if t.tests:
        m = len(t.tests)
        tests = tuple(_test_row(x) for x in t.tests)
        blocks.append(Block(
            "", 3,
            f"McNemar (exact, two-sided) on the {t.shared} shared items, Holm-adjusted over {m} "
            f"test{'s' if m != 1 else ''}; * p (Holm) < {ALPHA}",
            ("pair", "only first right", "only second right", "Δ (second − first)", "p", "p (Holm)", ""), tests))
    elif t.shared == 0:
        blocks.append(Block("", 3, "No item is shared by every run: nothing to test."))
    return blocks


def _test_row(x: PairTest) -> tuple[str, ...]:
    return (f"{x.a} vs {x.b}", str(x.only_a), str(x.only_b), f"{x.delta:+.3f}", _p(x.p), _p(x.p_holm),
            "*" if x.significant else "")


# ---------------------------------------------------------------- text


def _grid(head: tuple[str, ...], rows: tuple[tuple[str, ...], ...], right_from: int) -> list[str]:
    widths = [max(len(c) for c in col) for col in zip(head, *rows)]

    def line(cells: tuple[str, ...]) -> str:
        out = [c.rjust(w) if j >= right_from else c.ljust(w) for j, (c, w) in enumerate(zip(cells, widths))]
        return "  " + "  ".join(out).rstrip()

    return [line(head), *(line(r) for r in rows)]


def _text(r: ComparisonResult, blocks: list[Block]) -> str:
    lines = [_headline(r)]
    for b in blocks:
        if b.title:
            lines += ["", b.title]
        if b.lead:
            lines.append("  " + b.lead)
        if b.head:
            lines += _grid(b.head, b.rows, b.right_from)
        lines += [f"  {n}" for n in b.notes]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- Markdown


def _md_table(b: Block) -> list[str]:
    align = ["---:" if j >= b.right_from else "---" for j in range(len(b.head))]
    row = lambda cells: "| " + " | ".join(md_escape(c) if c else " " for c in cells) + " |"  # noqa: E731
    return [row(b.head), "| " + " | ".join(align) + " |", *(row(r) for r in b.rows)]


def _markdown(r: ComparisonResult, blocks: list[Block]) -> str:
    lines = [f"## {md_escape(_headline(r))}"]
    for b in blocks:
        if b.title:
            lines += ["", f"{'#' * (b.level + 1)} {md_escape(b.title)}"]
        if b.lead:
            lines += ["", md_escape(b.lead)]
        if b.head:
            lines += [""] + _md_table(b)
        if b.notes:
            lines += [""] + [f"- {md_escape(n)}" for n in b.notes]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- HTML

_STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1f2933}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #cbd2d9;padding:.3rem .6rem;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}svg{max-width:100%;height:auto}"""


def _html_block(b: Block) -> str:
    e = html.escape
    out = f"<h{b.level}>{e(b.title)}</h{b.level}>" if b.title else ""
    out += f"<p>{e(b.lead)}</p>" if b.lead else ""
    if b.head:
        head = "".join(f"<th>{e(c)}</th>" for c in b.head)
        body = "".join(
            "<tr>" + "".join(f'<td{" class=num" if j >= b.right_from else ""}>{e(c)}</td>' for j, c in enumerate(row))
            + "</tr>" for row in b.rows)
        out += f"<table><tr>{head}</tr>{body}</table>"
    if b.notes:
        out += "<ul>" + "".join(f"<li>{e(n)}</li>" for n in b.notes) + "</ul>"
    return out


def _html(r: ComparisonResult, blocks: list[Block]) -> str:
    e = html.escape
    svg = svg_chart(r)
    chart = (f"<h2>Accuracy per split (Wilson 95% interval)</h2>{svg}" if svg else "<p>No scores to chart.</p>")
    body = "\n".join(_html_block(b) for b in blocks)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(_headline(r))}</title>
<style>{_STYLE}</style></head>
<body>
<h1>{e(_headline(r))}</h1>
{chart}
{body}
</body></html>
"""


# ---------------------------------------------------------------- JSON


def _num(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _recipe_json(d: RecipeDiff, runs: tuple[RunInfo, ...]) -> dict:
    return {"setting": d.setting, "values": {i.label: v for i, v in zip(runs, d.values)}}


def to_json(r: ComparisonResult) -> dict:
    """ComparisonResult → the JSON document (schema syllabus.compare/1): every number as computed,
    NaN (nothing to measure) as null."""
    return {
        "schema": SCHEMA,
        "exit_code": 0,  # a comparison decides nothing: it either prints or refuses (an error document)
        "arm": r.arm,
        "on": r.on,  # "test": the runs' eval/<arm>.json; "dev": sweep trials' eval/dev.json
        "same_build": r.same_build,
        "alpha": ALPHA,
        "runs": [
            {"label": i.label, "path": i.path, "run_id": i.run_id, "build": {"name": i.build.name, "sha256": i.build.sha256},
             "model": i.model, "adapter_sha256": i.adapter_sha256, "train_wall_s": i.train_wall_s,
             "eval_wall_s": i.eval_wall_s, "tokens_per_s": _num(i.tokens_per_s),
             "general": None if i.drift is None else {"drift": _num(i.drift), "drift_stderr": _num(i.drift_stderr),
                                                       "collapsed": i.collapsed, "n": i.general_n}}
            for i in r.runs
        ],
        "recipe_differences": [_recipe_json(d, r.runs) for d in r.recipe],
        "tables": [
            {"split": t.split, "reading": t.reading, "shared": t.shared,
             "rows": [{"run": x.label, "correct": x.correct, "n": x.n, "acc": _num(x.acc),
                       "wilson_low": _num(x.wilson_low), "wilson_high": _num(x.wilson_high), "scored": x.scored,
                       "left_out": x.left_out} for x in t.rows],
             "tests": [{"a": x.a, "b": x.b, "n": x.n, "only_a": x.only_a, "only_b": x.only_b, "delta": _num(x.delta),
                        "p": x.p, "p_holm": x.p_holm, "significant": x.significant} for x in t.tests]}
            for t in r.tables
        ],
        "not_compared": list(r.unshared),
    }
