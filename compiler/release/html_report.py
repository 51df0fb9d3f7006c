"""Verdict + ReportContext → report.html: self-contained, the content of report.md plus a chart
of accuracy per split and arm with Wilson 95 % intervals (inline PNG drawn with Agg).
"""

from __future__ import annotations

import base64
import html
import io
import math

from ..names import READINGS, REPORT_ARMS, SCORED_SPLITS
from .context import ReportContext
from .formatting import (ARMS_NOTE, GENERAL_NOTE, HEAD, MARK, build_lines, cell, cut, fmt, fmt_opt, reading_note,
                         score_keys, summary_line, table_row)
from .verdict import Verdict

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


def _chart_png(verdict: Verdict) -> bytes | None:
    """Grouped bars (base / prompted / constant / tuned) per split with Wilson error bars, one panel per reading."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # Agg: no display, no global pyplot state
    from matplotlib.figure import Figure

    readings = [rd for rd in READINGS if any(r.reading == rd for r in verdict.table)]
    if not readings:
        return None
    fig = Figure(figsize=(4.2 * len(readings) + 0.6, 3.4), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(readings), squeeze=False)[0]
    colors = {"base": "#9aa5b1", "prompted": "#f0b429", "constant": "#c3a6e8", "tuned": "#2f80ed"}
    width = 0.8 / len(REPORT_ARMS)
    for ax, reading in zip(axes, readings):
        splits = [s for s in SCORED_SPLITS if any(r.split == s and r.reading == reading for r in verdict.table)]
        for i, arm in enumerate(REPORT_ARMS):
            xs, ys, lo, hi = [], [], [], []
            for j, split in enumerate(splits):
                row = table_row(verdict, arm, split, reading)
                if row is None or not all(math.isfinite(v) for v in (row.acc, row.wilson_low, row.wilson_high)):
                    continue
                xs.append(j + (i - (len(REPORT_ARMS) - 1) / 2) * width)  # the arms' bars centred on the split
                ys.append(row.acc)
                lo.append(max(0.0, row.acc - row.wilson_low))
                hi.append(max(0.0, row.wilson_high - row.acc))
            ax.bar(xs, ys, width=width, color=colors[arm], label=arm, yerr=[lo, hi], capsize=3)
        ax.set_xticks(range(len(splits)), [s.replace("test_", "") for s in splits])
        ax.set_ylim(0, 1.05)
        ax.set_title(f"accuracy ({reading})")
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(REPORT_ARMS), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.92))  # leave the top strip to the legend, clear of the bars
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})  # no version stamp: same verdict, same bytes
    return buf.getvalue()


def render_html(verdict: Verdict, context: ReportContext) -> str:
    e = html.escape
    png = _chart_png(verdict)
    chart = (
        f'<img alt="accuracy per split: base, prompted, constant, tuned with Wilson 95% intervals" '
        f'src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'
        if png else "<p>No scores to chart.</p>"
    )
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
    reasons = "".join(f"<li>{e(r)}</li>" for r in verdict.reasons)
    note = f"<p>{e(reading_note(context.primary_reading))}</p>" if context.primary_reading else ""
    build = "".join(f"<li>{e(line)}</li>" for line in build_lines(context, code=""))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>syllabus gate: {e(context.build.name)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1f2933}}
table{{border-collapse:collapse;margin:.5rem 0 1.5rem}}td,th{{border:1px solid #cbd2d9;padding:.3rem .6rem;text-align:left}}
tr.ok td:first-child{{color:#18794e}}tr.bad td:first-child{{color:#c62828}}tr.na td:first-child{{color:#b7791f}}
.verdict-pass{{color:#18794e}}.verdict-fail{{color:#c62828}}.verdict-incomplete{{color:#b7791f}}</style></head>
<body>
<h1 class="verdict-{verdict.status}">{e(HEAD[verdict.status])}: syllabus gate for {e(context.build.name)} (exit {verdict.exit_code})</h1>
<p>{e(summary_line(verdict))}.</p><ul>{reasons}</ul>
<h2>Checks</h2>{note}<table><tr><th></th><th>check</th><th>observed</th><th>threshold</th><th>detail</th></tr>{rows}</table>
<h2>Accuracy per split (Wilson 95% interval)</h2>{chart}<p>{e(ARMS_NOTE)}</p>
<table><tr><th>split</th><th>reading</th>{"".join(f"<th>{a}</th>" for a in REPORT_ARMS)}</tr>{scores}</table>
<h2>Memorization gap (tuned: train_sample − split)</h2>
<table><tr><th>split</th><th>reading</th><th>train_sample</th><th>split</th><th>gap</th></tr>{gaps}</table>
{_html_general(verdict, context)}
{extra}
<h2>Build</h2><ul>{build}</ul>
</body></html>
"""
