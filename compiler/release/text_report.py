"""Verdict + ReportContext → the text a person reads: the terminal view (render_text) and
report.md (render_markdown: fits a job summary or a PR comment).
"""

from __future__ import annotations

from ..markdown import md_escape, md_fence
from ..names import REPORT_ARMS
from .context import ReportContext
from .formatting import (ARMS_NOTE, GENERAL_NOTE, HEAD, MARK, REFUSED_NOTE, build_lines, cell, cut, fmt, fmt_opt,
                         general_line, provenance, reading_note, score_keys, summary_line, table_row)
from .verdict import Verdict

_WORD = {True: "PASS", False: "FAIL", None: "N/A "}

def _text_scores(verdict: Verdict) -> list[str]:
    """Verdict → the accuracy table of the terminal: one line per split × reading, one column per arm."""
    keys = score_keys(verdict)
    if not keys:
        return []
    split_w = max(len("split"), *(len(s) for s, _ in keys))
    head = f"  {'split':<{split_w}}  reading  " + "  ".join(f"{a:>8}" for a in REPORT_ARMS) + "       n"
    lines = [head]
    for split, reading in keys:
        rows = [table_row(verdict, a, split, reading) for a in REPORT_ARMS]
        accs = "  ".join(f"{fmt(r.acc) if r else '—':>8}" for r in rows)
        n = next((r.n for r in reversed(rows) if r is not None), 0)  # the tuned arm's n when it has one
        lines.append(f"  {split:<{split_w}}  {reading:<7}  {accs}  {n:>6}")
    return lines


def render_text(verdict: Verdict, context: ReportContext) -> str:
    """Verdict → the terminal view: accuracy per split × reading for every arm, the general drift,
    one line per check with PASS/FAIL and numbers, then the verdict."""
    lines = [f"syllabus gate: build {context.build.name} ({context.build.sha256[:12]}), run {context.run_id}"]
    lines += _text_scores(verdict)
    lines += [f"  {general_line(g)}" for g in verdict.general]
    width = max((len(c.name) for c in verdict.checks), default=0)
    for c in verdict.checks:
        nums = f"{fmt(c.observed):>6} vs {fmt(c.threshold):>6}"
        lines.append(f"  {_WORD[c.passed]}  {c.name:<{width}}  {nums}  {c.detail}")
    lines.append(f"verdict: {verdict.status.upper()} (exit {verdict.exit_code}): {summary_line(verdict)}")
    lines += [f"  - {r}" for r in verdict.reasons]
    return "\n".join(lines)


def render_markdown(verdict: Verdict, context: ReportContext) -> str:
    out = [f"## {HEAD[verdict.status]}: syllabus gate for `{context.build.name}` (exit {verdict.exit_code})", ""]
    out.append(f"{summary_line(verdict)}.")
    if verdict.reasons:
        out += [""] + [f"- {md_escape(r)}" for r in verdict.reasons]
    out += ["", "### Checks", ""]
    if context.primary_reading:
        out += [reading_note(context.primary_reading), ""]
    out += ["| | check | observed | threshold | detail |", "|---|---|---|---|---|"]
    for c in verdict.checks:
        out.append(f"| {MARK[c.passed]} | `{c.name}` | {fmt(c.observed)} | {fmt(c.threshold)} | {md_escape(c.detail)} |")
    out += ["", "### Accuracy per split (Wilson 95% interval)", "", ARMS_NOTE, "",
            "| split | reading | " + " | ".join(REPORT_ARMS) + " |", "|---|---|" + "---|" * len(REPORT_ARMS)]
    for split, reading in score_keys(verdict):
        cells = " | ".join(cell(verdict, arm, split, reading) for arm in REPORT_ARMS)
        out.append(f"| {split} | {reading} | {cells} |")
    out += ["", "### Memorization gap (tuned: train_sample − split)", ""]
    if verdict.gaps:
        out += ["| split | reading | train_sample | split | gap |", "|---|---|---|---|---|"]
        out += [f"| {g.split} | {g.reading} | {fmt(g.train_acc)} | {fmt(g.split_acc)} | {g.gap:+.3f} |" for g in verdict.gaps]
    else:
        out.append("Not available: the tuned arm has no train_sample score.")
    out += _md_general(verdict, context)
    if context.by_form:
        out += ["", "### Accuracy by question form", "", "| split | form | reading | n | " + " | ".join(REPORT_ARMS) + " |",
                "|---|---|---|---|" + "---|" * len(REPORT_ARMS)]
        out += [f"| {r.split} | {r.form} | {r.reading} | {r.n} | " + " | ".join(fmt_opt(a) for a in r.acc) + " |"
                for r in context.by_form]
    if context.misses:
        out += ["", "### Some held-out questions the tuned model missed", "",
                "| split | form | question | answer | tuned reply |", "|---|---|---|---|---|"]
        out += [f"| {m.split} | {m.form} | {md_escape(m.prompt)} | {md_escape(m.answer)} | {md_escape(m.reply)} |"
                for m in context.misses]
    commands = [(arm, cmd) for arm, cmd in context.lm_eval_commands if cmd]
    if commands:  # a fence longer than any backtick run in the command, so none closes it early
        out += ["", "### Reproduce with lm-eval"]
        for arm, cmd in commands:
            out += ["", f"{arm}:", "", md_fence(cmd, "sh")]
    out += ["", "### Build", ""] + [f"- {md_escape(line)}" for line in build_lines(context, code="`")]
    return "\n".join(out) + "\n"


def _md_general(verdict: Verdict, context: ReportContext) -> list[str]:
    if not verdict.general and not context.general_expected:
        return []
    out = ["", "### General behaviour (held-out general prompts)", "", GENERAL_NOTE, ""]
    if not verdict.general:
        return out + ["Not measured: eval/general.json is missing or unreadable."]
    out += ["| split | n | drift (nats/token) | collapsed | Wilson 95% | words per reply: base → tuned |",
            "|---|---|---|---|---|---|"]
    out += [f"| {g.split} | {g.n} | {fmt(g.drift)} ± {fmt(g.drift_stderr)} | {g.collapsed} ({fmt(g.collapsed_share)}) | "
            f"[{fmt(g.wilson_low, 2)}, {fmt(g.wilson_high, 2)}] | {fmt(g.base_words, 1)} → {fmt(g.tuned_words, 1)} |"
            for g in verdict.general]
    if context.general_pairs:
        out += ["", "| kind | prompt | base reply | tuned reply | drop |", "|---|---|---|---|---|"]
        out += [f"| {p.kind} | {md_escape(p.prompt)} | {md_escape(cut(p.base_reply))} | "
                f"{md_escape(cut(p.tuned_reply))}{' **(collapsed)**' if p.collapsed else ''} | {fmt(p.drop, 2)} |"
                for p in context.general_pairs]
    return out


def render_refusal_markdown(verdict: Verdict, context: ReportContext) -> str:
    """A gate that refused before deciding (verdict: incomplete, no checks, the reasons) → report.md."""
    out = [f"## {HEAD[verdict.status]}: syllabus gate for `{context.build.name}` (exit {verdict.exit_code})", "",
           REFUSED_NOTE, ""]
    out += [f"- {md_escape(r)}" for r in verdict.reasons]
    out += ["", "### Run", ""] + [f"- {k}: {md_escape(v)}" for k, v in provenance(context)]
    return "\n".join(out) + "\n"
