"""BuildDiff → text (a terminal, optionally ANSI-coloured), Markdown (a pull-request
comment) or JSON (tools; the schema is documented in diffs/compare.py).

Every format starts with the summary (deltas per split), then the audit deltas and the
groups that changed, then the details: answer changes first, at most `limit` examples
per group with "… and N more".
"""

from __future__ import annotations

import json
from dataclasses import asdict
from itertools import groupby
from typing import Callable, Iterable

from ..markdown import md_escape
from .compare import SCHEMA_VERSION, AuditDelta, BuildDiff, Counts, Entry
from .sides import Side

SECTION_TITLES = {
    "answer": "Answer changes",
    "leak": "Leakage risks: moved from a test split into train",
    "changed": "Changed text",
    "moved": "Moved between splits",
    "renamed": "Renamed (same text, new provenance)",
    "added": "Added",
    "removed": "Removed",
}
_ANSI = {"added": "32", "removed": "31", "changed": "33", "moved": "36", "renamed": "35", "leak": "1;31",
         "answer": "1;33", "head": "1", "dim": "2"}
# GitHub refuses a comment over 65,536 characters; details stop before this many,
# leaving room for the note that says so and for a CI job's own header.
MARKDOWN_BUDGET = 60_000
_MAX_TEXT = 90  # characters of a prompt or value shown in text/markdown; JSON has them whole

_COUNT_HEAD = ("old", "new", "+added", "−removed", "~changed", "↔in", "↔out", "renamed")


def render_diff(d: BuildDiff, fmt: str, limit: int, color: bool = False) -> str:
    """BuildDiff, 'text' | 'json' | 'markdown', details per group, ANSI colour → output."""
    if fmt == "json":
        return json.dumps(diff_to_json(d), indent=2, sort_keys=True, ensure_ascii=False)
    if fmt == "markdown":
        return _markdown(d, max(limit, 0))
    return _text(d, max(limit, 0), color)


# ---------------------------------------------------------------- shared pieces

def _short(text: str, width: int = _MAX_TEXT) -> str:
    text = " ".join(text.split())  # newlines would break a table row
    return text if len(text) <= width else text[: width - 1] + "…"


def _n(value: int, sign: str = "") -> str:
    return "·" if value == 0 else f"{sign}{value}"


def _count_cells(c: Counts) -> list[str]:
    return [str(c.old), str(c.new), _n(c.added, "+"), _n(c.removed, "−"), _n(c.changed, "~"),
            _n(c.moved_in, "+"), _n(c.moved_out, "−"), _n(c.renamed)]


def _num(x: float | None) -> str:
    if x is None:
        return "—"
    return str(int(x)) if float(x).is_integer() else f"{x:.4g}"


def _audit_cells(a: AuditDelta) -> list[str]:
    delta = a.delta
    sign = "+" if delta and delta > 0 else ""
    return [a.split, a.metric, _num(a.old), _num(a.new), "—" if delta is None else sign + _num(delta)]


def _headline(d: BuildDiff) -> str:
    t = dict(d.splits)["total"]
    moved = t.moved_in  # every move is counted once in and once out
    return (f"+{t.added} added, −{t.removed} removed, ~{t.changed} changed, ↔{moved} moved, "
            f"{t.renamed} renamed ({t.old} → {t.new} examples)")


def _leak_lines(d: BuildDiff) -> list[str]:
    lines = []
    if d.leaks:
        by_split: dict[str, int] = {}
        for e in d.leaks:
            by_split[e.old_split] = by_split.get(e.old_split, 0) + 1
        parts = ", ".join(f"{n} from {s}" for s, n in by_split.items())
        n = len(d.leaks)
        lines.append(f"leakage risk: {n} example{'s' if n != 1 else ''} moved from a test split into train ({parts})")
    for a in d.audit_increases:
        lines.append(f"leakage risk: audit {a.split} {a.metric} rose {_num(a.old)} → {_num(a.new)}")
    return lines


def _details(d: BuildDiff) -> Iterable[tuple[str, str, list[Entry]]]:
    """entries → (section, group title, entries) in the entries' (section) order."""
    def key(e: Entry) -> tuple:
        p = e.provenance
        return (e.section, e.split_label, p.rule, p.form, p.family)

    for (section, split, rule, form, family), group in groupby(d.entries, key=key):
        yield section, f"{split} · {rule} · {form} · {family}", list(group)


def _change_parts(e: Entry, quote: Callable[[str], str]) -> list[str]:
    """Entry → one line per change: the move, the rename, each field old → new."""
    if e.kind in ("added", "removed"):
        return [e.kind]
    parts = []
    if e.old_split != e.new_split:
        parts.append(f"moved {e.old_split} → {e.new_split}" + (" (leakage risk)" if e.leakage_risk else ""))
    if e.old_id != e.id and not e.fields:
        parts.append(f"renamed from {e.old_id[:10]}")
    parts += [f"{f.field}: {quote(_short(f.old, 60))} → {quote(_short(f.new, 60))}" for f in e.fields]
    return parts


def _table(head: list[str], rows: list[list[str]], right_from: int) -> list[str]:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i >= right_from else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return [line(head), *(line(r) for r in rows)]


# ---------------------------------------------------------------- text

def _text(d: BuildDiff, limit: int, color: bool) -> str:
    def paint(style: str, s: str) -> str:
        return f"\x1b[{_ANSI[style]}m{s}\x1b[0m" if color else s

    out = [paint("head", f"syllabus diff {d.old.label} → {d.new.label}"), _spec_line(d.old, d.new)]
    out += [paint("leak", f"warning: {w}") for w in d.warnings]
    if d.empty:
        total = dict(d.splits)["total"]
        out += ["", f"no differences: the same {total.new} examples in the same splits"]
        out += [paint("leak", line) for line in _leak_lines(d)]
        return "\n".join(out)
    out += ["", _headline(d), ""]
    out += _table(["split", *_COUNT_HEAD], [[s, *_count_cells(c)] for s, c in d.splits], 1)
    leaks = _leak_lines(d)
    out += [""] * bool(leaks) + [paint("leak", line) for line in leaks]
    if any(a.delta for a in d.audit):
        out += ["", paint("head", "audit (leakage.json)")]
        out += _table(["split", "metric", "old", "new", "Δ"], [_audit_cells(a) for a in d.audit if a.delta != 0], 2)
    out += ["", paint("head", "groups (split · rule · form · family)")]
    rows = [[f"{k[0]} · {k[1]} · {k[2]} · {k[3]}", *_count_cells(c)] for k, c in d.groups]
    out += _table(["group", *_COUNT_HEAD], rows, 1)
    current = ""
    for section, title, entries in _details(d):
        if section != current:
            current = section
            n = sum(1 for e in d.entries if e.section == section)
            out += ["", paint(section if section in _ANSI else "head", f"{SECTION_TITLES[section]} ({n})")]
        out.append(f"  {title} ({len(entries)})")
        for e in entries[:limit]:
            mark = {"added": "+", "removed": "−", "changed": "~", "moved": "↔", "renamed": "="}[e.kind]
            style = "leak" if e.leakage_risk else e.kind
            out.append(f"    {paint(style, mark)} {e.id[:10]}  {_short(e.prompt)}")
            if e.kind not in ("added", "removed"):
                out += [f"        {paint('dim', part)}" for part in _change_parts(e, repr)]
        if len(entries) > limit:
            out.append(f"    … and {len(entries) - limit} more")
    return "\n".join(out)


def _spec_line(old: Side, new: Side) -> str:
    names = old.name if old.name == new.name else f"{old.name} → {new.name}"
    sha = old.spec_sha256[:12] if old.spec_sha256 == new.spec_sha256 else f"{old.spec_sha256[:12]} → {new.spec_sha256[:12]}"
    return f"build {names}, spec sha256 {sha}"


# ---------------------------------------------------------------- markdown

def _md(text: str) -> str:
    return md_escape(_short(text))


def _code(text: str) -> str:
    # Inside a code span only `|` needs escaping (tables split cells first); entities and
    # backslashes would show literally. A backtick inside would end the span: double the fence.
    text = " ".join(text.split()).replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _md_table(head: list[str], rows: list[list[str]], right_from: int) -> list[str]:
    align = ["---" if i < right_from else "--:" for i in range(len(head))]
    return ["| " + " | ".join(r) + " |" for r in (head, align, *rows)]


def _fit(lines: list[str], budget: int) -> int:
    """How many of `lines` fit in `budget` characters (newlines included)."""
    size = 0
    for n, line in enumerate(lines):
        size += len(line) + 1
        if size > budget:
            return n
    return len(lines)


def _markdown(d: BuildDiff, limit: int) -> str:
    out = [f"### syllabus diff: `{_md(d.old.label)}` → `{_md(d.new.label)}`", "", _spec_line(d.old, d.new), ""]
    for w in d.warnings:  # one quote each, as the leak lines
        out += [f"> ⚠️ **warning:** {md_escape(w)}", ""]
    if d.empty:
        total = dict(d.splits)["total"]
        out.append(f"**No differences**: the same {total.new} examples in the same splits.")
        for line in _leak_lines(d):
            out += ["", f"> ⚠️ {line}"]
        return "\n".join(out) + "\n"
    out += [f"**{_headline(d)}**", ""]
    for line in _leak_lines(d):  # one quote each: adjacent quote lines would merge into one paragraph
        out += [f"> ⚠️ **{line}**", ""]
    out += _md_table(["split", *_COUNT_HEAD], [[s, *_count_cells(c)] for s, c in d.splits], 1)
    if any(a.delta for a in d.audit):
        out += ["", "#### Leakage audit", ""]
        out += _md_table(["split", "metric", "old", "new", "Δ"], [_audit_cells(a) for a in d.audit if a.delta != 0], 2)
    rows = [[_md(k[0]), _md(k[1]), _md(k[2]), _md(k[3]), *_count_cells(c)] for k, c in d.groups]
    table = _md_table(["split", "rule", "form", "family", *_COUNT_HEAD], rows, 4)
    cut = _fit(table, MARKDOWN_BUDGET // 3)  # a third for this table, the rest for the details
    out += ["", f"<details><summary>Groups with changes ({len(rows)})</summary>", "", *table[:cut]]
    if cut < len(table):
        out += ["", f"… and {len(table) - cut} more groups (`--format json` lists them all)"]
    out += ["", "</details>"]
    out += ["", "#### Details"]
    size = sum(len(line) + 1 for line in out)
    groups = list(_details(d))
    for shown, (section, title, entries) in enumerate(groups):
        block = ["", f"<details><summary>{SECTION_TITLES[section]} — {_md(title)} ({len(entries)})</summary>", ""]
        rows = [[f"`{e.id[:10]}`", _md(e.prompt), "<br>".join(_change_parts(e, _code))]
                for e in entries[:limit]]
        block += _md_table(["id", "prompt", "change"], rows, 3)
        if len(entries) > limit:
            block += ["", f"… and {len(entries) - limit} more"]
        block += ["", "</details>"]
        size += sum(len(line) + 1 for line in block)
        if size > MARKDOWN_BUDGET:
            left = len(groups) - shown
            out += ["", f"… {left} more group{'s' if left != 1 else ''} left out to fit a pull-request comment "
                        f"(GitHub takes 65,536 characters); lower `--limit` or use `--format json` for all of it"]
            break
        out += block
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- json

def diff_to_json(d: BuildDiff) -> dict:
    """BuildDiff → the JSON document documented in diffs/compare.py (schema_version 1)."""

    def side(s: Side) -> dict:
        return {"label": s.label, "name": s.name, "spec_sha256": s.spec_sha256,
                "counts": {k: len(v) for k, v in s.splits.items()}, "integrity": list(s.integrity)}

    def audit(a: AuditDelta) -> dict:
        return {"split": a.split, "metric": a.metric, "old": a.old, "new": a.new, "delta": a.delta}

    def entry(e: Entry) -> dict:
        prov = asdict(e.provenance)
        prov["asked"], prov["operators"] = list(e.provenance.asked), list(e.provenance.operators)
        return {"kind": e.kind, "section": e.section, "id": e.id, "old_id": e.old_id,
                "old_split": e.old_split or None, "new_split": e.new_split or None,
                "leakage_risk": e.leakage_risk, "prompt": e.prompt, "provenance": prov,
                "fields": [asdict(f) for f in e.fields]}

    return {
        "schema": f"syllabus.diff/{SCHEMA_VERSION}",  # as every --format json document names itself (docs/cli-json.md)
        "schema_version": SCHEMA_VERSION,
        "old": side(d.old),
        "new": side(d.new),
        "summary": [{"split": s, **asdict(c)} for s, c in d.splits],
        "groups": [dict(zip(("split", "rule", "form", "family"), k), **asdict(c)) for k, c in d.groups],
        "audit": [audit(a) for a in d.audit],
        "leaks": {"moved_into_train": len(d.leaks), "audit_increases": [audit(a) for a in d.audit_increases]},
        "entries": [entry(e) for e in d.entries],
        "empty": d.empty,
    }
