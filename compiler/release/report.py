"""Verdict → the files a person and a CI system read, in runs/<id>/.

  report.md          verdict line first, checks ✓/✗, accuracy per arm (base, prompted, constant,
                     tuned) and reading with Wilson 95 % intervals, memorization gap, general
                     behaviour (drift and collapsed replies on held-out general prompts, a few
                     base vs tuned replies side by side), accuracy per question form, the build
                     (fits a job summary / PR comment)
  report.html        self-contained: the same content plus a chart (inline PNG, Agg)
  verdict.json       stable schema (ci_files.SCHEMA), deterministic; the next release's --baseline
  junit.xml          one testcase per check: a miss is a <failure>, not evaluated an <error>
  adapter/README.md  Hugging Face model card (only when the run has an adapter/ folder)

Every file is written atomically (temp file in the same folder, then rename). The renderers:
text_report (terminal, Markdown), html_report, ci_files (verdict.json, junit.xml), model_card.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..integrity import write_atomic
from .ci_files import render_junit, verdict_document
from .context import ReportContext
from .html_report import render_html
from .model_card import render_model_card
from .text_report import render_markdown
from .verdict import Verdict

# What a gate writes that a CI reads: a refused gate must not leave an earlier verdict behind.
VERDICT_FILES = ("verdict.json", "junit.xml")

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

def clear_verdict(run_dir: Path) -> None:
    """runs/<id>/ → the verdict files (VERDICT_FILES) an earlier gate wrote there removed: for a
    gate that refuses before deciding, so a CI reading verdict.json does not find a stale PASS."""
    if Path(run_dir).is_dir():
        for name in VERDICT_FILES:
            stale = Path(run_dir) / name
            if stale.is_file():
                stale.unlink()
