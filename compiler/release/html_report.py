"""Verdict + ReportContext → report.html: one self-contained file, nothing fetched, readable
without script. The content of report.md plus: a header pinning the numbers (base model and its
sha256, adapter sha256, build, date, syllabus's git commit); the accuracy chart with every check's
threshold and the prompted / constant baselines marked, and the training loss curve (svg.py,
inline SVG); the lm_eval command that reproduces each arm; every held-out item with each arm's
reply and verdict, filterable (html_items.py).

render_refusal_html: the page of a gate that refused before deciding (exit 3): INCOMPLETE and why.
"""

from __future__ import annotations

import html

from ..names import REPORT_ARMS
from .context import ReportContext
from .formatting import (ARMS_NOTE, GENERAL_NOTE, HEAD, MARK, REFUSED_NOTE, build_lines, cell, cut, fmt, fmt_opt,
                         provenance, reading_note, score_keys, summary_line)
from .html_items import STYLE as ITEMS_STYLE, render_items
from .svg import accuracy_chart, loss_curve
from .verdict import Verdict

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#1f2933}"
          "table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #cbd2d9;padding:.3rem .6rem;"
          "text-align:left}tr.ok td:first-child{color:#18794e}tr.bad td:first-child{color:#c62828}"
          "tr.na td:first-child{color:#b7791f}.verdict-pass{color:#18794e}.verdict-fail{color:#c62828}"
          ".verdict-incomplete{color:#b7791f}table.prov td{border:0;padding:.1rem .6rem .1rem 0;font-size:.9rem}"
          "table.prov td:first-child{color:#52606d}li.reason{white-space:pre-wrap}"
          "pre{background:#f5f7fa;padding:.5rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}"
          + ITEMS_STYLE)

def _html_general(verdict: Verdict, context: ReportContext) -> str:
    e = html.escape
    if not verdict.general and not context.general_expected:
        return ""
    head = f"<h2>General behaviour (held-out general prompts)</h2><p>{e(GENERAL_NOTE)}</p>"
    if not verdict.general:
        return head + "<p>Not measured: eval/general.json is missing or unreadable.</p>"
    rows = "".join(
        f"<tr><td>{e(g.split)}</td><td>{g.n}</td><td>{fmt(g.drift)} ± {fmt(g.drift_stderr)}</td>"
        f"<td>{g.collapsed} ({fmt(g.collapsed_share)})</td><td>[{fmt(g.wilson_low, 2)}, {fmt(g.wilson_high, 2)}]</td>"
        f"<td>{fmt(g.base_words, 1)} → {fmt(g.tuned_words, 1)}</td></tr>" for g in verdict.general
    )
    pairs = "".join(
        f"<tr><td>{e(p.kind)}</td><td>{e(p.prompt)}</td><td>{e(cut(p.base_reply))}</td>"
        f"<td>{e(cut(p.tuned_reply))}{' <strong>(collapsed)</strong>' if p.collapsed else ''}</td>"
        f"<td>{fmt(p.drop, 2)}</td></tr>" for p in context.general_pairs
    )
    table = ("<table><tr><th>split</th><th>n</th><th>drift (nats/token)</th><th>collapsed</th><th>Wilson 95%</th>"
             f"<th>words per reply: base → tuned</th></tr>{rows}</table>")
    side = ("<table><tr><th>kind</th><th>prompt</th><th>base reply</th><th>tuned reply</th><th>drop</th></tr>"
            f"{pairs}</table>") if pairs else ""
    return head + table + side


def _header(verdict: Verdict, context: ReportContext, title: str) -> str:
    """The page's head, verdict line, provenance table and reasons."""
    e = html.escape
    prov = "".join(f"<tr><td>{e(k)}</td><td><code>{e(v)}</code></td></tr>" for k, v in provenance(context))
    reasons = "".join(f'<li class="reason">{e(r)}</li>' for r in verdict.reasons)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>syllabus gate: {e(title)}</title>
<style>{_STYLE}</style></head>
<body>
<h1 class="verdict-{verdict.status}">{e(HEAD[verdict.status])}: syllabus gate for {e(title)} (exit {verdict.exit_code})</h1>
<table class="prov">{prov}</table>
<p>{e(summary_line(verdict))}.</p><ul>{reasons}</ul>
"""


def _training(context: ReportContext) -> str:
    picture = loss_curve(context.loss_curve)
    if not picture:
        return ""
    (s0, l0), (s1, l1) = context.loss_curve[0], context.loss_curve[-1]
    return (f"<h2>Training loss</h2>{picture}<p>{len(context.loss_curve)} logged optimizer steps "
            f"(run.json loss_curve): step {s0} loss {fmt(l0)} → step {s1} loss {fmt(l1)}.</p>")


def _reproduce(context: ReportContext) -> str:
    """Per arm, the lm_eval command line that reproduces its numbers (H4's lm_eval_command)."""
    e = html.escape
    blocks = "".join(f"<h3>{e(arm)}</h3><pre>{e(command)}</pre>" for arm, command in context.lm_eval_commands if command)
    return f"<h2>Reproduce with lm-eval</h2>{blocks}" if blocks else ""


def render_html(verdict: Verdict, context: ReportContext) -> str:
    """(Verdict, ReportContext) → report.html's text, as the module says."""
    e = html.escape
    svg = accuracy_chart(verdict)
    chart = svg or "<p>No scores to chart.</p>"
    rows = "".join(
        f'<tr class="{ {True: "ok", False: "bad", None: "na"}[c.passed]}"><td>{MARK[c.passed]}</td>'
        f"<td><code>{e(c.name)}</code></td><td>{fmt(c.observed)}</td><td>{fmt(c.threshold)}</td><td>{e(c.detail)}</td></tr>"
        for c in verdict.checks
    )
    scores = "".join(
        f"<tr><td>{e(s)}</td><td>{e(r)}</td>" + "".join(f"<td>{e(cell(verdict, a, s, r))}</td>" for a in REPORT_ARMS)
        + "</tr>"
        for s, r in score_keys(verdict)
    )
    gaps = "".join(
        f"<tr><td>{e(g.split)}</td><td>{e(g.reading)}</td><td>{fmt(g.train_acc)}</td><td>{fmt(g.split_acc)}</td>"
        f"<td>{g.gap:+.3f}</td></tr>"
        for g in verdict.gaps
    ) or '<tr><td colspan="5">Not available: the tuned arm has no train_sample score.</td></tr>'
    forms = "".join(
        f"<tr><td>{e(r.split)}</td><td>{e(r.form)}</td><td>{e(r.reading)}</td><td>{r.n}</td>"
        + "".join(f"<td>{fmt_opt(a)}</td>" for a in r.acc)
        + "</tr>" for r in context.by_form
    )
    missed = "".join(
        f"<tr><td>{e(m.split)}</td><td>{e(m.form)}</td><td>{e(m.prompt)}</td><td>{e(m.answer)}</td><td>{e(m.reply)}</td></tr>"
        for m in context.misses
    )
    extra = (
        (f"<h2>Accuracy by question form</h2><table><tr><th>split</th><th>form</th><th>reading</th><th>n</th>"
         f'{"".join(f"<th>{a}</th>" for a in REPORT_ARMS)}</tr>{forms}</table>' if forms else "")
        + ("<h2>Some held-out questions the tuned model missed</h2><table><tr><th>split</th><th>form</th>"
           f"<th>question</th><th>answer</th><th>tuned reply</th></tr>{missed}</table>" if missed else "")
    )
    note = f"<p>{e(reading_note(context.primary_reading))}</p>" if context.primary_reading else ""
    build = "".join(f"<li>{e(line)}</li>" for line in build_lines(context, code=""))
    items = render_items(context.items, context.primary_reading or "gen")
    return _header(verdict, context, context.build.name) + f"""<h2>Checks</h2>{note}<table><tr><th></th><th>check</th><th>observed</th><th>threshold</th><th>detail</th></tr>{rows}</table>
<h2>Accuracy per split (Wilson 95% interval)</h2>{chart}<p>{e(ARMS_NOTE)}</p>
<table><tr><th>split</th><th>reading</th>{"".join(f"<th>{a}</th>" for a in REPORT_ARMS)}</tr>{scores}</table>
<h2>Memorization gap (tuned: train_sample − split)</h2>
<table><tr><th>split</th><th>reading</th><th>train_sample</th><th>split</th><th>gap</th></tr>{gaps}</table>
{_training(context)}
{_html_general(verdict, context)}
{extra}
{_reproduce(context)}
{items}
<h2>Build</h2><ul>{build}</ul>
</body></html>
"""


def render_refusal_html(verdict: Verdict, context: ReportContext) -> str:
    """A gate that refused before deciding (verdict: incomplete, no checks, the reasons) → report.html."""
    return _header(verdict, context, context.build.name) + f"<p>{html.escape(REFUSED_NOTE)}</p>\n</body></html>\n"
