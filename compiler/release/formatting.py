"""The wording every report shares: numbers and table cells (Verdict → "0.900 [0.84, 0.94] n=100"),
the summary line, the general-drift line, the notes that explain the arms, readings and drift,
and the build's lines. Pure: (Verdict, ReportContext) → strings.
"""

from __future__ import annotations

import math

from ..names import READINGS, SCORED_SPLITS
from .context import ReportContext
from .verdict import GeneralRow, TableRow, Verdict

MARK = {True: "✓", False: "✗", None: "⚠"}
HEAD = {"pass": "✅ PASS", "fail": "❌ FAIL", "incomplete": "⚠️ INCOMPLETE"}

def fmt(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}" if isinstance(x, (int, float)) and math.isfinite(x) else "—"


def table_row(verdict: Verdict, arm: str, split: str, reading: str) -> TableRow | None:
    return next((r for r in verdict.table if (r.arm, r.split, r.reading) == (arm, split, reading)), None)


def cell(verdict: Verdict, arm: str, split: str, reading: str) -> str:
    row = table_row(verdict, arm, split, reading)
    if row is None:
        return "—"
    return f"{fmt(row.acc)} [{fmt(row.wilson_low, 2)}, {fmt(row.wilson_high, 2)}] n={row.n}"


def score_keys(verdict: Verdict) -> list[tuple[str, str]]:
    seen = {(r.split, r.reading) for r in verdict.table}
    known = [(s, r) for s in SCORED_SPLITS for r in READINGS if (s, r) in seen]
    return known + sorted(seen - set(known))


def summary_line(verdict: Verdict) -> str:
    n = len(verdict.checks)
    ok = sum(c.passed is True for c in verdict.checks)
    return f"{ok} of {n} checks passed" + ("" if verdict.status != "incomplete" else "; the gate fails closed")


def general_line(g: GeneralRow) -> str:
    """A drift row → 'test_general: drift 0.123 ± 0.020 nats/token · collapsed 1 of 20 (0.050) · words base 38.1, tuned 30.2'."""
    return (f"{g.split}: drift {fmt(g.drift)} ± {fmt(g.drift_stderr)} nats/token · collapsed {g.collapsed} of {g.n} "
            f"({fmt(g.collapsed_share)}) · words per reply base {fmt(g.base_words, 1)}, tuned {fmt(g.tuned_words, 1)}")


GENERAL_NOTE = ("Held-out general prompts (writing, lists, arithmetic, translation, code, …): drift is how much "
                 "less likely the base model's own greedy replies became under the tuned model, in nats per token "
                 "(0 = unchanged; ± standard error); a reply collapsed when the tuned model wrote ≤ 3 words where the "
                 "base wrote ≥ 8.")


def cut(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def fmt_opt(x: float | None) -> str:
    return "–" if x is None else fmt(x)


# What the columns are; the constant arm is no model, so say what it does.
ARMS_NOTE = ("base: the model as it is · prompted: base with the rules as a system prompt · constant: no model, "
              "every item answered with the rule's value (yes/no: train's majority verdict) · tuned: base + the adapter. "
              "Readings: mc = multiple-choice log-likelihood, gen = greedy reply.")


REFUSED_NOTE = ("The gate refused before deciding: it could not verify what this run trained and scored, so no "
                "verdict.json was written and no score in this folder counts. Fix what the reasons name, then run "
                "`syllabus gate` again.")


def reading_note(primary: str) -> str:
    why = "its rules' answers are explained" if primary == "gen" else "no rule's answers are explained"
    return f"A check that names no reading uses the spec's primary reading, {primary} ({why})."


def provenance(context: ReportContext) -> list[tuple[str, str]]:
    """What pins a report's numbers → (what, value) rows: the base model and its weights' sha256,
    the adapter's sha256, the build, when it was trained, and which syllabus gated it."""
    unknown = "not known"
    model, base = context.model, context.base
    if base is not None and base.name_or_path != model:  # "default" → the hub id it stands for
        model += f" = {base.name_or_path}"
    if base is not None and base.gguf is not None:
        model += f" (dequantized from {base.gguf.file}, {base.gguf.quantization})"
    model += f" · weights sha256 {context.model_sha256}" if context.model_sha256 else ""
    return [
        ("base model", model),
        ("adapter sha256", context.adapter_sha256 or unknown),
        ("build", f"{context.build.name} · manifest sha256 {context.build.sha256 or unknown}"),
        ("run", context.run_id + (f" · trained {context.trained_at}" if context.trained_at else "")),
        ("gated with", f"{context.created_with} · git commit {context.syllabus_commit or unknown}"),
    ]


def build_lines(context: ReportContext, code: str) -> list[str]:
    model_sha = f", weights sha256 {code}{context.model_sha256}{code}" if context.model_sha256 else ""
    lines = [
        f"build {code}{context.build.name}{code}, manifest sha256 {code}{context.build.sha256}{code}",
        f"spec sha256 {code}{context.spec_sha256}{code}",
        f"base model {code}{context.model}{code}{model_sha}; run {code}{context.run_id}{code}",
    ]
    if context.adapter_sha256:
        lines.append(f"adapter sha256 {code}{context.adapter_sha256}{code}"
                     + (f", trained {context.trained_at}" if context.trained_at else ""))
    if context.counts:
        lines.append("examples: " + ", ".join(f"{k} {v}" for k, v in context.counts))
    lines += [f"rule {code}{r.id}{code}: {r.statement}" for r in context.rules]
    commit = f" (git commit {code}{context.syllabus_commit}{code})" if context.syllabus_commit else ""
    lines.append(f"created with {context.created_with}{commit}")
    return lines
