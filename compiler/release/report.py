"""Verdict → the files a person and a CI system read, in runs/<id>/.

  report.md          verdict line first, checks ✓/✗, accuracy per arm (base, prompted, constant,
                     tuned) and reading with Wilson 95 % intervals, memorization gap, general
                     behaviour (drift and collapsed replies on held-out general prompts, a few
                     base vs tuned replies side by side), accuracy per question form, the build
                     (fits a job summary / PR comment)
  report.html        self-contained: the same content plus a chart (inline PNG, Agg)
  verdict.json       stable schema (SCHEMA below), deterministic; the next release's --baseline
  junit.xml          one testcase per check: a miss is a <failure>, not evaluated an <error>
  adapter/README.md  Hugging Face model card (only when the run has an adapter/ folder)

Every file is written atomically (temp file in the same folder, then rename).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import __version__
from .breakdown import FormRow, GeneralPair, Miss
from ..errors import UsageError
from ..integrity import write_atomic
from .gate import BaselineVerdict, BuildRef, GeneralRow, TableRow, Verdict
from ..markdown import md_escape
from ..names import READINGS, REPORT_ARMS, SCORED_SPLITS

SCHEMA = 1
DEFAULT_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # what model "default" is
_MARK = {True: "✓", False: "✗", None: "⚠"}
_WORD = {True: "PASS", False: "FAIL", None: "N/A "}
_HEAD = {"pass": "✅ PASS", "fail": "❌ FAIL", "incomplete": "⚠️ INCOMPLETE"}


@dataclass(frozen=True)
class RuleInfo:
    id: str
    statement: str


@dataclass(frozen=True)
class ReportContext:
    """What the reports say besides the verdict: which build, rules, model and run."""

    run_id: str
    build: BuildRef
    spec_sha256: str
    rules: tuple[RuleInfo, ...]
    model: str  # the base model as the run names it ("default", a hub id or a path)
    description: str = ""
    counts: tuple[tuple[str, int], ...] = ()  # split → examples in the build
    training: tuple[tuple[str, str], ...] = ()  # hyperparameters etc., for the model card
    by_form: tuple[FormRow, ...] = ()  # accuracy per split × question form (mc)
    misses: tuple[Miss, ...] = ()  # a few held-out questions the tuned model got wrong
    primary_reading: str = ""  # the reading of checks that name none (Spec.primary_reading); "" = not known
    general_pairs: tuple[GeneralPair, ...] = ()  # held-out general prompts: base vs tuned replies
    general_expected: bool = False  # the build has test_general (retain.general): say so when not measured
    created_with: str = f"syllabus {__version__}"


def _f(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}" if isinstance(x, (int, float)) and math.isfinite(x) else "—"


def _num(x: float) -> float | None:
    """JSON has no NaN: a non-finite number is written as null."""
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else None


def _row(verdict: Verdict, arm: str, split: str, reading: str) -> TableRow | None:
    return next((r for r in verdict.table if (r.arm, r.split, r.reading) == (arm, split, reading)), None)


def _cell(verdict: Verdict, arm: str, split: str, reading: str) -> str:
    row = _row(verdict, arm, split, reading)
    if row is None:
        return "—"
    return f"{_f(row.acc)} [{_f(row.wilson_low, 2)}, {_f(row.wilson_high, 2)}] n={row.n}"


def _score_keys(verdict: Verdict) -> list[tuple[str, str]]:
    seen = {(r.split, r.reading) for r in verdict.table}
    known = [(s, r) for s in SCORED_SPLITS for r in READINGS if (s, r) in seen]
    return known + sorted(seen - set(known))


def _summary_line(verdict: Verdict) -> str:
    n = len(verdict.checks)
    ok = sum(c.passed is True for c in verdict.checks)
    return f"{ok} of {n} checks passed" + ("" if verdict.status != "incomplete" else "; the gate fails closed")


# ---------------------------------------------------------------- text and Markdown


def _text_scores(verdict: Verdict) -> list[str]:
    """Verdict → the accuracy table of the terminal: one line per split × reading, one column per arm."""
    keys = _score_keys(verdict)
    if not keys:
        return []
    split_w = max(len("split"), *(len(s) for s, _ in keys))
    head = f"  {'split':<{split_w}}  reading  " + "  ".join(f"{a:>8}" for a in REPORT_ARMS) + "       n"
    lines = [head]
    for split, reading in keys:
        rows = [_row(verdict, a, split, reading) for a in REPORT_ARMS]
        accs = "  ".join(f"{_f(r.acc) if r else '—':>8}" for r in rows)
        n = next((r.n for r in reversed(rows) if r is not None), 0)  # the tuned arm's n when it has one
        lines.append(f"  {split:<{split_w}}  {reading:<7}  {accs}  {n:>6}")
    return lines


def _general_line(g: GeneralRow) -> str:
    """A drift row → 'test_general: drift 0.123 ± 0.020 nats/token · collapsed 1 of 20 (0.050) · words base 38.1, tuned 30.2'."""
    return (f"{g.split}: drift {_f(g.drift)} ± {_f(g.drift_stderr)} nats/token · collapsed {g.collapsed} of {g.n} "
            f"({_f(g.collapsed_share)}) · words per reply base {_f(g.base_words, 1)}, tuned {_f(g.tuned_words, 1)}")


def render_text(verdict: Verdict, context: ReportContext) -> str:
    """Verdict → the terminal view: accuracy per split × reading for every arm, the general drift,
    one line per check with PASS/FAIL and numbers, then the verdict."""
    lines = [f"syllabus gate: build {context.build.name} ({context.build.sha256[:12]}), run {context.run_id}"]
    lines += _text_scores(verdict)
    lines += [f"  {_general_line(g)}" for g in verdict.general]
    width = max((len(c.name) for c in verdict.checks), default=0)
    for c in verdict.checks:
        nums = f"{_f(c.observed):>6} vs {_f(c.threshold):>6}"
        lines.append(f"  {_WORD[c.passed]}  {c.name:<{width}}  {nums}  {c.detail}")
    lines.append(f"verdict: {verdict.status.upper()} (exit {verdict.exit_code}): {_summary_line(verdict)}")
    lines += [f"  - {r}" for r in verdict.reasons]
    return "\n".join(lines)


def render_markdown(verdict: Verdict, context: ReportContext) -> str:
    out = [f"## {_HEAD[verdict.status]}: syllabus gate for `{context.build.name}` (exit {verdict.exit_code})", ""]
    out.append(f"{_summary_line(verdict)}.")
    if verdict.reasons:
        out += [""] + [f"- {md_escape(r)}" for r in verdict.reasons]
    out += ["", "### Checks", ""]
    if context.primary_reading:
        out += [_reading_note(context.primary_reading), ""]
    out += ["| | check | observed | threshold | detail |", "|---|---|---|---|---|"]
    for c in verdict.checks:
        out.append(f"| {_MARK[c.passed]} | `{c.name}` | {_f(c.observed)} | {_f(c.threshold)} | {md_escape(c.detail)} |")
    out += ["", "### Accuracy per split (Wilson 95% interval)", "", _ARMS_NOTE, "",
            "| split | reading | " + " | ".join(REPORT_ARMS) + " |", "|---|---|" + "---|" * len(REPORT_ARMS)]
    for split, reading in _score_keys(verdict):
        cells = " | ".join(_cell(verdict, arm, split, reading) for arm in REPORT_ARMS)
        out.append(f"| {split} | {reading} | {cells} |")
    out += ["", "### Memorization gap (tuned: train_sample − split)", ""]
    if verdict.gaps:
        out += ["| split | reading | train_sample | split | gap |", "|---|---|---|---|---|"]
        out += [f"| {g.split} | {g.reading} | {_f(g.train_acc)} | {_f(g.split_acc)} | {g.gap:+.3f} |" for g in verdict.gaps]
    else:
        out.append("Not available: the tuned arm has no train_sample score.")
    out += _md_general(verdict, context)
    if context.by_form:
        out += ["", "### Accuracy by question form", "", "| split | form | reading | n | " + " | ".join(REPORT_ARMS) + " |",
                "|---|---|---|---|" + "---|" * len(REPORT_ARMS)]
        out += [f"| {r.split} | {r.form} | {r.reading} | {r.n} | " + " | ".join(_f_opt(a) for a in r.acc) + " |"
                for r in context.by_form]
    if context.misses:
        out += ["", "### Some held-out questions the tuned model missed", "",
                "| split | form | question | answer | tuned reply |", "|---|---|---|---|---|"]
        out += [f"| {m.split} | {m.form} | {md_escape(m.prompt)} | {md_escape(m.answer)} | {md_escape(m.reply)} |"
                for m in context.misses]
    out += ["", "### Build", ""] + [f"- {md_escape(line)}" for line in _build_lines(context, code="`")]
    return "\n".join(out) + "\n"


_GENERAL_NOTE = ("Held-out general prompts (writing, lists, arithmetic, translation, code, …): drift is how much "
                 "less likely the base model's own greedy replies became under the tuned model, in nats per token "
                 "(0 = unchanged; ± standard error); a reply collapsed when the tuned model wrote ≤ 3 words where the "
                 "base wrote ≥ 8.")


def _cut(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _md_general(verdict: Verdict, context: ReportContext) -> list[str]:
    if not verdict.general and not context.general_expected:
        return []
    out = ["", "### General behaviour (held-out general prompts)", "", _GENERAL_NOTE, ""]
    if not verdict.general:
        return out + ["Not measured: eval/general.json is missing or unreadable."]
    out += ["| split | n | drift (nats/token) | collapsed | Wilson 95% | words per reply: base → tuned |",
            "|---|---|---|---|---|---|"]
    out += [f"| {g.split} | {g.n} | {_f(g.drift)} ± {_f(g.drift_stderr)} | {g.collapsed} ({_f(g.collapsed_share)}) | "
            f"[{_f(g.wilson_low, 2)}, {_f(g.wilson_high, 2)}] | {_f(g.base_words, 1)} → {_f(g.tuned_words, 1)} |"
            for g in verdict.general]
    if context.general_pairs:
        out += ["", "| kind | prompt | base reply | tuned reply | drop |", "|---|---|---|---|---|"]
        out += [f"| {p.kind} | {md_escape(p.prompt)} | {md_escape(_cut(p.base_reply))} | "
                f"{md_escape(_cut(p.tuned_reply))}{' **(collapsed)**' if p.collapsed else ''} | {_f(p.drop, 2)} |"
                for p in context.general_pairs]
    return out


def _html_general(verdict: Verdict, context: ReportContext) -> str:
    e = html.escape
    if not verdict.general and not context.general_expected:
        return ""
    head = f"<h2>General behaviour (held-out general prompts)</h2><p>{e(_GENERAL_NOTE)}</p>"
    if not verdict.general:
        return head + "<p>Not measured: eval/general.json is missing or unreadable.</p>"
    rows = "".join(
        f"<tr><td>{e(g.split)}</td><td>{g.n}</td><td>{_f(g.drift)} ± {_f(g.drift_stderr)}</td>"
        f"<td>{g.collapsed} ({_f(g.collapsed_share)})</td><td>[{_f(g.wilson_low, 2)}, {_f(g.wilson_high, 2)}]</td>"
        f"<td>{_f(g.base_words, 1)} → {_f(g.tuned_words, 1)}</td></tr>" for g in verdict.general
    )
    pairs = "".join(
        f"<tr><td>{e(p.kind)}</td><td>{e(p.prompt)}</td><td>{e(_cut(p.base_reply))}</td>"
        f"<td>{e(_cut(p.tuned_reply))}{' <strong>(collapsed)</strong>' if p.collapsed else ''}</td>"
        f"<td>{_f(p.drop, 2)}</td></tr>" for p in context.general_pairs
    )
    table = ("<table><tr><th>split</th><th>n</th><th>drift (nats/token)</th><th>collapsed</th><th>Wilson 95%</th>"
             f"<th>words per reply: base → tuned</th></tr>{rows}</table>")
    side = ("<table><tr><th>kind</th><th>prompt</th><th>base reply</th><th>tuned reply</th><th>drop</th></tr>"
            f"{pairs}</table>") if pairs else ""
    return head + table + side


def _f_opt(x: float | None) -> str:
    return "–" if x is None else _f(x)


# What the columns are; the constant arm is no model, so say what it does.
_ARMS_NOTE = ("base: the model as it is · prompted: base with the rules as a system prompt · constant: no model, "
              "every item answered with the rule's value (yes/no: train's majority verdict) · tuned: base + the adapter. "
              "Readings: mc = multiple-choice log-likelihood, gen = greedy reply.")


def _reading_note(primary: str) -> str:
    why = "its rules' answers are explained" if primary == "gen" else "no rule's answers are explained"
    return f"A check that names no reading uses the spec's primary reading, {primary} ({why})."


def _build_lines(context: ReportContext, code: str) -> list[str]:
    lines = [
        f"build {code}{context.build.name}{code}, manifest sha256 {code}{context.build.sha256}{code}",
        f"spec sha256 {code}{context.spec_sha256}{code}",
        f"base model {code}{context.model}{code}; run {code}{context.run_id}{code}",
    ]
    if context.counts:
        lines.append("examples: " + ", ".join(f"{k} {v}" for k, v in context.counts))
    lines += [f"rule {code}{r.id}{code}: {r.statement}" for r in context.rules]
    lines.append(f"created with {context.created_with}")
    return lines


# ---------------------------------------------------------------- HTML with a chart


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
                row = _row(verdict, arm, split, reading)
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
        f'<tr class="{ {True: "ok", False: "bad", None: "na"}[c.passed]}"><td>{_MARK[c.passed]}</td>'
        f"<td><code>{e(c.name)}</code></td><td>{_f(c.observed)}</td><td>{_f(c.threshold)}</td><td>{e(c.detail)}</td></tr>"
        for c in verdict.checks
    )
    scores = "".join(
        f"<tr><td>{e(s)}</td><td>{e(r)}</td>" + "".join(f"<td>{e(_cell(verdict, a, s, r))}</td>" for a in REPORT_ARMS)
        + "</tr>"
        for s, r in _score_keys(verdict)
    )
    gaps = "".join(
        f"<tr><td>{e(g.split)}</td><td>{e(g.reading)}</td><td>{_f(g.train_acc)}</td><td>{_f(g.split_acc)}</td>"
        f"<td>{g.gap:+.3f}</td></tr>"
        for g in verdict.gaps
    ) or '<tr><td colspan="5">Not available: the tuned arm has no train_sample score.</td></tr>'
    forms = "".join(
        f"<tr><td>{e(r.split)}</td><td>{e(r.form)}</td><td>{e(r.reading)}</td><td>{r.n}</td>"
        + "".join(f"<td>{_f_opt(a)}</td>" for a in r.acc)
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
    note = f"<p>{e(_reading_note(context.primary_reading))}</p>" if context.primary_reading else ""
    build = "".join(f"<li>{e(line)}</li>" for line in _build_lines(context, code=""))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>syllabus gate: {e(context.build.name)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1f2933}}
table{{border-collapse:collapse;margin:.5rem 0 1.5rem}}td,th{{border:1px solid #cbd2d9;padding:.3rem .6rem;text-align:left}}
tr.ok td:first-child{{color:#18794e}}tr.bad td:first-child{{color:#c62828}}tr.na td:first-child{{color:#b7791f}}
.verdict-pass{{color:#18794e}}.verdict-fail{{color:#c62828}}.verdict-incomplete{{color:#b7791f}}</style></head>
<body>
<h1 class="verdict-{verdict.status}">{e(_HEAD[verdict.status])}: syllabus gate for {e(context.build.name)} (exit {verdict.exit_code})</h1>
<p>{e(_summary_line(verdict))}.</p><ul>{reasons}</ul>
<h2>Checks</h2>{note}<table><tr><th></th><th>check</th><th>observed</th><th>threshold</th><th>detail</th></tr>{rows}</table>
<h2>Accuracy per split (Wilson 95% interval)</h2>{chart}<p>{e(_ARMS_NOTE)}</p>
<table><tr><th>split</th><th>reading</th>{"".join(f"<th>{a}</th>" for a in REPORT_ARMS)}</tr>{scores}</table>
<h2>Memorization gap (tuned: train_sample − split)</h2>
<table><tr><th>split</th><th>reading</th><th>train_sample</th><th>split</th><th>gap</th></tr>{gaps}</table>
{_html_general(verdict, context)}
{extra}
<h2>Build</h2><ul>{build}</ul>
</body></html>
"""


# ---------------------------------------------------------------- JSON, JUnit, model card


def verdict_document(verdict: Verdict, context: ReportContext) -> dict:
    """Verdict → the verdict.json document (schema SCHEMA); keys in a fixed order."""
    scores: dict = {}
    for r in verdict.table:
        scores.setdefault(r.arm, {}).setdefault(r.split, {})[r.reading] = {
            "acc": _num(r.acc), "n": r.n, "wilson_low": _num(r.wilson_low), "wilson_high": _num(r.wilson_high)
        }
    return {
        "schema": SCHEMA,
        "status": verdict.status,
        "exit_code": verdict.exit_code,
        "build": {"name": context.build.name, "sha256": context.build.sha256, "spec_sha256": context.spec_sha256},
        "run": context.run_id,
        "model": context.model,
        "checks": [
            {"name": c.name, "kind": c.kind, "split": c.split, "reading": c.reading, "passed": c.passed,
             "observed": _num(c.observed), "threshold": _num(c.threshold), "detail": c.detail}
            for c in verdict.checks
        ],
        "reasons": list(verdict.reasons),
        "scores": scores,
        "gaps": [{"split": g.split, "reading": g.reading, "train_acc": _num(g.train_acc),
                  "split_acc": _num(g.split_acc), "gap": _num(g.gap)} for g in verdict.gaps],
        "general": [{"split": g.split, "n": g.n, "drift": _num(g.drift), "drift_stderr": _num(g.drift_stderr),
                     "collapsed": g.collapsed, "collapsed_share": _num(g.collapsed_share),
                     "wilson_low": _num(g.wilson_low), "wilson_high": _num(g.wilson_high),
                     "base_words": _num(g.base_words), "tuned_words": _num(g.tuned_words)} for g in verdict.general],
        "created_with": context.created_with,
    }


def render_junit(verdict: Verdict, context: ReportContext) -> str:
    failures = sum(c.passed is False for c in verdict.checks)
    errors = sum(c.passed is None for c in verdict.checks)
    suites = ET.Element("testsuites", name="syllabus gate")
    suite = ET.SubElement(suites, "testsuite", name=f"syllabus-gate.{context.build.name}",
                          tests=str(len(verdict.checks)), failures=str(failures), errors=str(errors), skipped="0")
    props = ET.SubElement(suite, "properties")
    for key, value in (("status", verdict.status), ("exit_code", str(verdict.exit_code)),
                       ("build_sha256", context.build.sha256), ("run", context.run_id)):
        ET.SubElement(props, "property", name=key, value=value)
    for c in verdict.checks:
        case = ET.SubElement(suite, "testcase", classname=f"syllabus.gate.{context.build.name}", name=c.name, time="0")
        if c.passed is False:
            ET.SubElement(case, "failure", message=c.detail, type=c.kind).text = c.detail
        elif c.passed is None:
            ET.SubElement(case, "error", message=c.detail, type="incomplete").text = c.detail
    if verdict.reasons:  # arm-level problems belong to no single check
        ET.SubElement(suite, "system-err").text = "\n".join(verdict.reasons)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _hub_id(model: str) -> str | None:
    """A name the Hub metadata accepts as base_model: 'default' → its hub id; a local path → None."""
    if model == "default":
        return DEFAULT_HUB_ID
    parts = model.split("/")
    if model.startswith((".", "/", "~")) or len(parts) > 2 or os.sep in model.replace("/", ""):
        return None
    return model


def render_model_card(verdict: Verdict, context: ReportContext) -> str:
    tuned = [r for r in verdict.table if r.arm == "tuned" and r.split != "train_sample" and math.isfinite(r.acc)]
    front: dict = {"library_name": "peft"}
    hub = _hub_id(context.model)
    if hub:
        front["base_model"] = hub
    front["tags"] = ["syllabus", "lora", "peft", "rule-tuning", context.build.name]
    front["model-index"] = [{
        "name": f"{context.build.name}-{context.run_id}",
        "results": [
            {"task": {"type": "text-generation", "name": f"rule following ({r.split}, {r.reading})"},
             "dataset": {"name": f"{context.build.name} {r.split}", "type": f"syllabus/{context.build.name}",
                         "split": r.split},
             "metrics": [{"type": "accuracy", "value": round(r.acc, 4), "name": f"accuracy ({r.reading})",
                          "verified": False}]}
            for r in tuned
        ],
    }]
    body = [f"# {context.build.name}: LoRA adapter", ""]
    if context.description:
        body += [md_escape(context.description), ""]
    body += [f"A LoRA adapter for `{hub or context.model}` trained by syllabus to follow "
             f"{'this rule' if len(context.rules) == 1 else 'these rules'}:", ""]
    body += [f"> **{r.id}**: {md_escape(r.statement)}" for r in context.rules]
    body += ["", f"## Evaluation: {verdict.status.upper()} (exit {verdict.exit_code})", "",
             "Accuracy with Wilson 95% interval. The `test_` splits were held out of training "
             "(new phrasings, a new question form, out-of-scope subjects); `train_sample` is a sample "
             "of the lessons, to show memorization.", "", _ARMS_NOTE, "",
             "| split | reading | " + " | ".join(REPORT_ARMS) + " |", "|---|---|" + "---|" * len(REPORT_ARMS)]
    body += [f"| {s} | {r} | " + " | ".join(_cell(verdict, a, s, r) for a in REPORT_ARMS) + " |"
             for s, r in _score_keys(verdict)]
    if verdict.general:
        body += ["", "General behaviour on held-out general prompts (drift of the base model's own replies, "
                 "collapsed replies):", ""] + [f"- {_general_line(g)}" for g in verdict.general]
    body += ["", "Gate checks:", ""] + [f"- {_MARK[c.passed]} `{c.name}`: {c.detail}" for c in verdict.checks]
    if context.training:
        body += ["", "## Training", ""] + [f"- {k}: {v}" for k, v in context.training]
    body += ["", "## Use", "", "```python", "from peft import AutoPeftModelForCausalLM",
             'model = AutoPeftModelForCausalLM.from_pretrained("path/to/this/adapter")', "```", "",
             f"Build `{context.build.name}` (manifest sha256 `{context.build.sha256}`), {context.created_with}.", ""]
    return "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n\n" + "\n".join(body)


def write_reports(verdict: Verdict, context: ReportContext, run_dir: Path) -> dict[str, Path]:
    """(verdict, context, runs/<id>/) → {"verdict", "markdown", "html", "junit"[, "model_card"]: path}."""
    run_dir = Path(run_dir)
    doc = json.dumps(verdict_document(verdict, context), indent=2, ensure_ascii=False, allow_nan=False)
    written = {
        "verdict": write_atomic(run_dir / "verdict.json", doc + "\n"),
        "markdown": write_atomic(run_dir / "report.md", render_markdown(verdict, context)),
        "html": write_atomic(run_dir / "report.html", render_html(verdict, context)),
        "junit": write_atomic(run_dir / "junit.xml", render_junit(verdict, context)),
    }
    if (run_dir / "adapter").is_dir():
        written["model_card"] = write_atomic(run_dir / "adapter" / "README.md", render_model_card(verdict, context))
    return written


def read_baseline(path: Path) -> BaselineVerdict:
    """verdict.json of an earlier run → BaselineVerdict; UsageError (exit 2) naming what is wrong."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--baseline {path}: cannot read it ({exc.strerror}); pass the verdict.json of the last release")
    except ValueError as exc:
        raise UsageError(f"--baseline {path}: not JSON ({exc}); pass the verdict.json of the last release")
    try:
        if doc["schema"] != SCHEMA:
            raise UsageError(f"--baseline {path}: verdict schema {doc['schema']!r} is not {SCHEMA}; "
                             "re-run `syllabus gate` on the last release with this version")
        nan = float("nan")

        def num(x: object) -> float:
            return nan if x is None else float(x)  # type: ignore[arg-type]

        tuned = tuple(
            TableRow("tuned", split, reading, num(v["acc"]), int(v["n"]), num(v["wilson_low"]), num(v["wilson_high"]))
            for split, by_reading in doc["scores"].get("tuned", {}).items()
            for reading, v in by_reading.items()
        )
        return BaselineVerdict(str(doc["build"]["name"]), str(doc["build"]["sha256"]), str(doc["status"]), tuned)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"--baseline {path}: not a syllabus verdict.json (bad or missing field {exc}); "
                         "pass the verdict.json that `syllabus gate` wrote for the last release")
