"""Verdict → the files a person and a CI system read, in runs/<id>/.

  report.md          verdict line first, checks ✓/✗, accuracy per arm (base, prompted, constant,
                     tuned) and reading with Wilson 95 % intervals, memorization gap, general
                     behaviour (drift and collapsed replies on held-out general prompts, a few
                     base vs tuned replies side by side), accuracy per question form, the build
                     (fits a job summary / PR comment)
  report.html        self-contained (html_report): the same content plus a header pinning the numbers
                     (model and adapter sha256, date, git commit), the accuracy chart with the checks'
                     thresholds and the loss curve (inline SVG), each arm's lm_eval command, and every
                     held-out item with each arm's reply and verdict, filterable
  verdict.json       stable schema (ci_files.SCHEMA), deterministic; the next release's --baseline
  junit.xml          one testcase per check: a miss is a <failure>, not evaluated an <error>; an
                     incomplete verdict's reasons that no check carries are <error>s too
  adapter/README.md  Hugging Face model card (only when the run has an adapter/ folder)

A gate that refuses before deciding (exit 3: a run it cannot verify, training unfinished, never
evaluated) writes `refuse`'s files instead: junit.xml with the reason as an <error>, and report.md /
report.html saying INCOMPLETE and why; never verdict.json (a CI must not read a stale PASS, nor
take a refusal for a baseline). Only into a run folder syllabus made (run.json or eval/<arm>.json
in it): a gate pointed at some other folder writes nothing there.

Every file is written atomically (temp file in the same folder, then rename). The renderers:
text_report (terminal, Markdown), html_report, ci_files (verdict.json, junit.xml), model_card.
"""

from __future__ import annotations

import json
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SyllabusError, UsageError
from ..integrity import write_atomic
from ..names import ARMS
from ..training.record import read_record
from .ci_files import render_junit, verdict_document
from .context import ReportContext
from .html_report import render_html, render_refusal_html
from .model_card import render_model_card
from .source import syllabus_commit
from .text_report import render_markdown, render_refusal_markdown
from .verdict import EXIT, BuildRef, Verdict

if TYPE_CHECKING:  # pragma: no cover
    from .judge import Judgement

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


def made_by_syllabus(run_dir: Path) -> bool:
    """Whether run_dir is a run folder syllabus made: `train` writes run.json into the folder it
    creates, `eval` writes eval/<arm>.json. Anything else is the user's, and gets no file."""
    run_dir = Path(run_dir)
    return (run_dir / "run.json").is_file() or any((run_dir / "eval" / f"{arm}.json").is_file() for arm in ARMS)


def _refusal_context(run_dir: Path) -> ReportContext:
    """A run folder the gate could not verify → what its report can still say: the run, and the
    build and base model run.json names (when it can be read), nothing vouched for."""
    run_id = Path(run_dir).resolve().name
    try:
        record = read_record(run_dir)
    except (UsageError, OSError):
        return ReportContext(run_id, BuildRef(run_id, ""), "", (), "not known", syllabus_commit=syllabus_commit())
    build = Path(record.build_path).name if record.build_path else run_id
    return ReportContext(run_id, BuildRef(build, record.build_sha256), "", (), record.model.name,
                         base=record.base, model_sha256=record.model.sha256, trained_at=record.finished_at or "",
                         syllabus_commit=syllabus_commit())


def refuse(run_dir: Path, error: SyllabusError) -> dict[str, Path]:
    """A gate that refused with `error` → the verdict files of an earlier gate removed (clear_verdict);
    on an incomplete refusal (exit 3) in a run folder syllabus made, junit.xml, report.md and
    report.html saying INCOMPLETE with the error as the reason → {"markdown", "html", "junit": path}.
    A file that cannot be written is skipped: the refusal's own error is what the caller reports."""
    clear_verdict(run_dir)
    if error.exit_code != EXIT["incomplete"] or not Path(run_dir).is_dir() or not made_by_syllabus(run_dir):
        return {}
    verdict = Verdict("incomplete", EXIT["incomplete"], (), (str(error),), (), ())
    context = _refusal_context(run_dir)
    written = {}
    for key, name, render in (("junit", "junit.xml", render_junit), ("markdown", "report.md", render_refusal_markdown),
                              ("html", "report.html", render_refusal_html)):
        with suppress(OSError):
            written[key] = write_atomic(Path(run_dir) / name, render(verdict, context))
    return written


def gate_run(run_dir: Path, baseline: Path | None = None) -> tuple["Judgement", dict[str, Path]]:
    """runs/<id>/ (+ --baseline) → (the judgement, the report files written): verify the run folder
    (verify.py) → judge it (judge.py: its eval/ files, the decision, the report context) → write
    the reports. When it refuses before deciding (exit 2 or 3), the verdict files an earlier gate
    wrote are removed, and on exit 3 a run folder syllabus made gets `refuse`'s files."""
    from .judge import judge
    from .verify import verify_run

    try:
        run = verify_run(run_dir)
        judged = judge(run, baseline)
        paths = write_reports(judged.verdict, judged.context, run.run_dir)
    except SyllabusError as exc:
        refuse(run_dir, exc)
        raise
    return judged, paths
