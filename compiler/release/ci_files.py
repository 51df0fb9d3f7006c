"""The files a CI system reads: Verdict + ReportContext → verdict.json (stable schema SCHEMA,
deterministic; the next release's --baseline) and junit.xml (one testcase per check: a miss is a
<failure>, not evaluated an <error>); and back: an earlier verdict.json → BaselineVerdict.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

from ..errors import UsageError
from ..integrity import read_json
from .context import ReportContext
from .verdict import BaselineVerdict, TableRow, Verdict

SCHEMA = 1

def _num(x: float) -> float | None:
    """JSON has no NaN: a non-finite number is written as null."""
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else None

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


def unattributed(verdict: Verdict) -> tuple[str, ...]:
    """The reasons of a verdict that no check carries (an arm missing or unfinished, a gate
    without checks, a run the gate could not verify): decide words a check's own reason
    "<name>: …" or "<name> failed: …"."""
    names = [c.name for c in verdict.checks]
    return tuple(r for r in verdict.reasons if not any(r.startswith((f"{n}: ", f"{n} failed: ")) for n in names))


def render_junit(verdict: Verdict, context: ReportContext) -> str:
    """Verdict → junit.xml: one testcase per check (a miss a <failure>, not evaluated an <error>);
    an incomplete verdict adds one testcase per reason no check carries, as an <error>, so a
    CI test reporter never shows an unverifiable run, or a gate without checks, as all green."""
    failures = sum(c.passed is False for c in verdict.checks)
    extra = unattributed(verdict) if verdict.status == "incomplete" else ()
    errors = sum(c.passed is None for c in verdict.checks) + len(extra)
    suites = ET.Element("testsuites", name="syllabus gate")
    suite = ET.SubElement(suites, "testsuite", name=f"syllabus-gate.{context.build.name}",
                          tests=str(len(verdict.checks) + len(extra)), failures=str(failures), errors=str(errors),
                          skipped="0")
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
    for k, reason in enumerate(extra, 1):
        case = ET.SubElement(suite, "testcase", classname=f"syllabus.gate.{context.build.name}",
                             name="evaluation complete" + (f"#{k}" if k > 1 else ""), time="0")
        ET.SubElement(case, "error", message=reason.splitlines()[0] if reason else "", type="incomplete").text = reason
    if verdict.reasons:  # arm-level problems belong to no single check
        ET.SubElement(suite, "system-err").text = "\n".join(verdict.reasons)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def read_baseline(path: Path) -> BaselineVerdict:
    """verdict.json of an earlier run → BaselineVerdict; UsageError (exit 2) naming what is wrong."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"--baseline {path}: cannot read it (no such file); pass the verdict.json of the last release")
    # not JSON, a folder, nested past the recursion limit, not an object: integrity.read_json names each
    doc = read_json(path, "--baseline: pass the verdict.json of the last release")
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
