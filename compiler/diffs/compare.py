"""Semantic diff of two builds: what a spec change does to the datasets.

Side (old), Side (new) (sides.py reads them) → `diff_sides` → BuildDiff (pure) → `render_diff` → text | json | markdown.

Matching is linear (dicts and sets keyed by id and by content sha, never all pairs):
  1. by `id`, the hash of the provenance, which survives text edits:
       same split, same content  → unchanged (not reported)
       same split, other content → changed (the fields that differ, old → new)
       other split               → moved (with its changed fields, if any)
  2. the ids left over, by `content_sha` (what the model sees): same text under a new
     provenance (a renamed family, a re-ordered template list) is `renamed`, or `moved`
     when its split differs too, never removed + added. Why: to the model nothing
     changed, and a removed + added pair would hide the one thing a reviewer must see,
     test text reaching train under a new name.
  3. the ids still left, by *slot*: the provenance without `asked`. yes/no and
     either-or questions name their options in the provenance, so changing the rule's
     value (blue → green) gives "Blue or red?" a new id; it is the same question slot
     with other options, reported as changed (field `asked` old → new), not removed + added.
  4. whatever is left: added / removed.
Several candidates for one key pair within a split first, then across splits, in
(asked, id) order, so the result does not depend on file order.
A move from any test split into train is a *leakage risk*.

Counting keeps one identity per split and per group (split, rule, form, family):
new = old + added − removed + moved_in − moved_out. `changed` and `renamed` count
examples that stay (a moved example whose text also changed counts in both).

JSON (`--format json`, schema_version 1; keys sorted, lists in a fixed order; every
entry is listed, `--limit` only shortens text and markdown):
  schema          "syllabus.diff/1" (the name every --format json document carries: docs/cli-json.md)
  schema_version  1
  old, new        {label, name, spec_sha256, counts: {split: n}}
  summary         [{split, old, new, added, removed, changed, moved_in, moved_out, renamed}]
                  in split order, then {split: "total", ...}
  groups          [{split, rule, form, family, old, new, added, …}] groups with a delta only
  audit           [{split, metric, old, new, delta}] every audit count of a test split
                  (old/new null when one build lacks it)
  leaks           {moved_into_train: n, audit_increases: [{split, metric, old, new, delta}]}
  entries         [{kind, section, id, old_id, old_split, new_split, leakage_risk, prompt,
                    provenance: {rule, form, form_kind, family, template, scope, subject,
                    asked, operators}, fields: [{field, old, new}]}]
                  kind: changed | moved | renamed | added | removed; ordered by section
                  (answer, leak, changed, moved, renamed, added, removed), split, rule,
                  form, family, template, subject, id
  empty           true when nothing was added, removed, changed, moved or renamed
  old/new.integrity  [sentence] each build file that is not what its manifest.json records
                  (altered, missing, unlisted): [] for a build as compiled

Integrity: a build whose files do not match its manifest is still diffed (the diff then shows
what the bytes on disk hold: often what someone altered), never refused; text and Markdown
open with one `warning:` line per mismatch, JSON lists them under old/new.integrity. Only
the gate refuses such a build (exit 3). A file that cannot be read at all (a bad JSONL line,
a row without a key, a manifest that is no object) is exit 2, `file:line: what is wrong`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Literal

from ..records import Example, Provenance
from ..names import SPLITS, TEST_SPLITS
# A build as the diff sees it, and reading one: sides.py (re-exported: pipeline and tests import them from here).
from .sides import Side, read_audit as read_audit, read_side as read_side

Kind = Literal["changed", "moved", "renamed", "added", "removed"]
SCHEMA_VERSION = 1
FIELDS = ("prompt", "answer", "reply", "choices", "label")
SECTIONS = ("answer", "leak", "changed", "moved", "renamed", "added", "removed")
COUNT_KEYS = ("added", "removed", "changed", "moved_in", "moved_out", "renamed")
_SPLIT_RANK = {s: i for i, s in enumerate(SPLITS)}


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class Entry:
    """One example that differs. `id`/`provenance`/`prompt` are the new side's (the old
    side's for a removed one); `old_id` differs from `id` when matched by content or slot."""

    kind: Kind
    id: str
    old_id: str
    old_split: str  # "" when added
    new_split: str  # "" when removed
    provenance: Provenance
    prompt: str
    fields: tuple[FieldChange, ...] = ()

    @property
    def leakage_risk(self) -> bool:
        return self.old_split in TEST_SPLITS and self.new_split == "train"

    @property
    def section(self) -> str:
        if any(f.field == "answer" for f in self.fields):
            return "answer"
        return "leak" if self.leakage_risk else self.kind

    @property
    def split_label(self) -> str:
        if self.old_split and self.new_split and self.old_split != self.new_split:
            return f"{self.old_split} → {self.new_split}"
        return self.new_split or self.old_split


@dataclass(frozen=True)
class Counts:
    """Example counts of one split or group in both builds, and the deltas between them."""

    old: int = 0
    new: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0
    moved_in: int = 0
    moved_out: int = 0
    renamed: int = 0

    @property
    def any_delta(self) -> bool:
        return any(getattr(self, k) for k in COUNT_KEYS)


@dataclass(frozen=True)
class AuditDelta:
    split: str
    metric: str
    old: float | None
    new: float | None

    @property
    def delta(self) -> float | None:
        return None if self.old is None or self.new is None else self.new - self.old

    @property
    def increased(self) -> bool:
        """A leak count went up. Shares are not counts: with the same leaking examples a
        smaller split has a larger share (2/10 → 2/8), which is no new leak."""
        return not self.metric.endswith("share") and (self.new or 0) > (self.old or 0)


GroupKey = tuple[str, str, str, str]  # split, rule, form, family


@dataclass(frozen=True)
class BuildDiff:
    old: Side
    new: Side
    entries: tuple[Entry, ...]  # in section order, see the module docstring
    splits: tuple[tuple[str, Counts], ...]  # SPLITS order, then ("total", …)
    groups: tuple[tuple[GroupKey, Counts], ...]  # groups with a delta, sorted
    audit: tuple[AuditDelta, ...]

    @property
    def empty(self) -> bool:
        return not self.entries

    @property
    def leaks(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.leakage_risk)

    @property
    def audit_increases(self) -> tuple[AuditDelta, ...]:
        return tuple(a for a in self.audit if a.increased)

    @property
    def warnings(self) -> tuple[str, ...]:
        """One line per build file, on either side, that is not what its manifest records."""
        return tuple(f"{which} build {side.label} does not match its manifest.json: {problem}"
                     for which, side in (("old", self.old), ("new", self.new)) for problem in side.integrity)


# ---------------------------------------------------------------- the diff (pure)

def _show(ex: Example, name: str) -> str:
    value = getattr(ex, name)
    return " | ".join(value) if isinstance(value, tuple) else str(value)


def _field_changes(old: Example, new: Example) -> tuple[FieldChange, ...]:
    """The fields that differ, old → new. `label` only when choices and answer did not
    change (otherwise it just follows them), `asked` when a slot match changed it."""
    names = [f for f in FIELDS if getattr(old, f) != getattr(new, f)]
    if "label" in names and ("choices" in names or "answer" in names):
        names.remove("label")
    out = [FieldChange(f, _show(old, f), _show(new, f)) for f in names]
    if old.provenance.asked != new.provenance.asked:
        out.append(FieldChange("asked", " | ".join(old.provenance.asked), " | ".join(new.provenance.asked)))
    return tuple(out)


def _index(side: Side) -> dict[str, tuple[str, Example]]:
    by_id: dict[str, tuple[str, Example]] = {}
    for split in SPLITS:
        for ex in side.splits.get(split, ()):
            by_id.setdefault(ex.id, (split, ex))  # an id twice in one build: first wins
    return by_id


def _same(a: Example, b: Example) -> bool:
    # Field by field, not content_sha: comparing strings is cheaper than hashing them,
    # and most examples of two builds are unchanged.
    return a.prompt == b.prompt and a.answer == b.answer and a.reply == b.reply and a.choices == b.choices \
        and a.label == b.label


def _by_content(ex: Example) -> tuple:
    return (ex.content_sha,)


def _by_slot(ex: Example) -> tuple:
    """The provenance without `asked`: the same question slot (rule, form, family,
    template, subject, paraphrase) asking about other options."""
    p = ex.provenance
    return (p.rule, p.form, p.family, p.template, p.scope, p.subject, p.operators)


def _pair(gone: set[str], came: set[str], old: dict, new: dict, key) -> list[tuple[str, str]]:
    """Unmatched old ids, unmatched new ids → (old id, new id) pairs with equal `key`;
    pairs within a split first (so duplicates invent no moves), then across splits;
    candidates in (asked, id) order, so the result does not depend on file order. Pairs
    are taken out of `gone` and `came`."""
    order = lambda index: lambda i: (index[i][1].provenance.asked, i)  # noqa: E731
    olds: dict[tuple, list[str]] = defaultdict(list)
    for i in sorted(gone, key=order(old)):
        olds[key(old[i][1])].append(i)
    news: dict[tuple, list[str]] = defaultdict(list)
    for j in sorted(came, key=order(new)):
        k = key(new[j][1])
        if k in olds:
            news[k].append(j)
    pairs: list[tuple[str, str]] = []
    for k, js in news.items():
        for same_split in (True, False):
            for j in list(js):
                i = next((i for i in olds[k] if not same_split or old[i][0] == new[j][0]), None)
                if i is not None:
                    pairs.append((i, j))
                    olds[k].remove(i)
                    js.remove(j)
    for i, j in pairs:
        gone.discard(i)
        came.discard(j)
    return pairs


def _entry_key(e: Entry) -> tuple:
    split = e.new_split or e.old_split
    p = e.provenance
    return (SECTIONS.index(e.section), _SPLIT_RANK.get(split, 9), e.split_label, p.rule, p.form, p.family,
            p.template, p.subject, p.asked, p.operators, e.id)


def diff_sides(old: Side, new: Side) -> BuildDiff:
    """old Side, new Side → BuildDiff: entries, counts per split and group, audit deltas."""
    o, n = _index(old), _index(new)
    entries: list[Entry] = []
    for i in o.keys() & n.keys():
        (os_, oe), (ns, ne) = o[i], n[i]
        if os_ == ns and _same(oe, ne):
            continue
        fields = _field_changes(oe, ne)
        entries.append(Entry("moved" if os_ != ns else "changed", i, i, os_, ns, ne.provenance, ne.prompt, fields))
    gone, came = o.keys() - n.keys(), n.keys() - o.keys()
    for i, j in _pair(gone, came, o, n, _by_content):
        kind = "moved" if o[i][0] != n[j][0] else "renamed"
        entries.append(Entry(kind, j, i, o[i][0], n[j][0], n[j][1].provenance, n[j][1].prompt))
    for i, j in _pair(gone, came, o, n, _by_slot):
        kind = "moved" if o[i][0] != n[j][0] else "changed"
        fields = _field_changes(o[i][1], n[j][1])
        entries.append(Entry(kind, j, i, o[i][0], n[j][0], n[j][1].provenance, n[j][1].prompt, fields))
    entries += [Entry("added", j, j, "", n[j][0], n[j][1].provenance, n[j][1].prompt) for j in came]
    entries += [Entry("removed", i, i, o[i][0], "", o[i][1].provenance, o[i][1].prompt) for i in gone]
    entries.sort(key=_entry_key)
    split_counts, group_counts = _count(o, n, entries)
    return BuildDiff(old, new, tuple(entries), split_counts, group_counts, _audit_deltas(old, new))


def _count(o: dict, n: dict, entries: list[Entry]):
    """Counts per split and per (split, rule, form, family) from the two indexes + entries."""
    tallies: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def gkey(split: str, p: Provenance) -> GroupKey:
        return (split, p.rule, p.form, p.family)

    for side, index in (("old", o), ("new", n)):
        # Counter counts in C; one pass over each build, then per split from the groups
        sizes = Counter(gkey(split, ex.provenance) for split, ex in index.values())
        for k, size in sizes.items():
            tallies[k][side] = size
            tallies[(k[0],)][side] += size
    for e in entries:
        old_p = o[e.old_id][1].provenance if e.old_split else None
        keys_old = ((e.old_split,), gkey(e.old_split, old_p)) if old_p else ()
        keys_new = ((e.new_split,), gkey(e.new_split, e.provenance)) if e.new_split else ()
        if e.kind == "added":
            for k in keys_new:
                tallies[k]["added"] += 1
            continue
        if e.kind == "removed":
            for k in keys_old:
                tallies[k]["removed"] += 1
            continue
        for ko, kn in zip(keys_old, keys_new):
            if ko != kn:
                tallies[ko]["moved_out"] += 1
                tallies[kn]["moved_in"] += 1
            if e.fields:
                tallies[kn]["changed"] += 1
            if e.old_id != e.id and not e.fields:
                tallies[kn]["renamed"] += 1
    freeze = lambda t: Counts(**t)  # noqa: E731
    splits = [(s, freeze(tallies[(s,)])) for s in SPLITS]
    total = {k: sum(getattr(c, k) for _, c in splits) for k in ("old", "new", *COUNT_KEYS)}
    splits.append(("total", Counts(**total)))
    groups = sorted(
        ((k, freeze(t)) for k, t in tallies.items() if len(k) == 4),
        key=lambda kc: (_SPLIT_RANK.get(kc[0][0], 9), kc[0]),
    )
    return tuple(splits), tuple((k, c) for k, c in groups if c.any_delta)


def _audit_deltas(old: Side, new: Side) -> tuple[AuditDelta, ...]:
    out = []
    for split in TEST_SPLITS:
        a, b = old.audit.get(split, {}), new.audit.get(split, {})
        out += [AuditDelta(split, m, a.get(m), b.get(m)) for m in sorted(a.keys() | b.keys())]
    return tuple(out)


def exit_code(d: BuildDiff, fail_on: str | None) -> int:
    """BuildDiff, --fail-on → 0, or 1 when the named condition holds."""
    if fail_on == "changes":
        return int(not d.empty)
    if fail_on == "leaks":
        return int(bool(d.leaks) or bool(d.audit_increases))
    return 0
