"""`syllabus stats`: a build → BuildStats (counts per split / rule / form, the audit summary, a
few examples of each split, and each file that is not what its manifest records) → plain text
(`render`) or the `syllabus.stats/1` JSON document (`to_json`, docs/cli-json.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Union

from ..integrity import build_problems
from ..names import GENERAL_SPLITS
from ..records import Example, GeneralPrompt
from .read import Build, read_build, read_general, read_split

SCHEMA = "syllabus.stats/1"


@dataclass(frozen=True)
class BuildStats:
    """What `stats` shows of a build: the build as read, the integrity problems found (shown,
    not refused: stats describes the bytes on disk; only the gate refuses), and the first
    examples of each split but train_sample."""

    build: Build
    integrity: tuple[str, ...]
    examples: tuple[tuple[str, tuple[Union[Example, GeneralPrompt], ...]], ...]  # (split, its first rows)

    def render(self) -> str:
        """→ a plain-text report (counts tables, audit lines, sample questions)."""
        m = self.build.manifest
        lines = [f"build {m.name}  (spec sha256 {m.spec_sha256[:12]}, seed {m.seed})"]
        lines += [f"warning: does not match its manifest.json: {p}" for p in self.integrity] + [""]
        lines += _table("split", {s: {"examples": n} for s, n in m.counts.items()}) + [""]
        for title, counts in m.breakdown.items():
            lines += _table(title, counts) + [""]
        for a in m.audit.splits:
            lines.append(f"audit {a.split}: exact {a.exact}, shared {m.audit.ngram}-grams {a.ngram} "
                         f"({a.ngram_share:.1%}), structural {a.structural}")
        for split, rows in self.examples:
            lines += ["", f"{split}:"]
            for row in rows:
                if isinstance(row, GeneralPrompt):  # no answer of its own: the model writes its reply
                    what = ("reply written at train time" if split == "train_general"
                            else "scored as drift from the base's reply")
                    lines.append(f"  [{row.kind}/{row.family}] {row.prompt}  → ({what})")
                else:
                    p = row.provenance
                    lines.append(f"  [{p.form}/{p.family}] {row.prompt}  → {row.answer}   choices: {', '.join(row.choices)}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        """→ the `syllabus.stats/1` document (docs/cli-json.md)."""
        m = self.build.manifest
        return {
            "schema": SCHEMA,
            "exit_code": 0,
            "build": str(self.build.path),
            "name": m.name,
            "spec_sha256": m.spec_sha256,
            "seed": m.seed,
            "integrity": list(self.integrity),
            "counts": dict(m.counts),
            "breakdown": {title: {s: dict(c) for s, c in per.items()} for title, per in m.breakdown.items()},
            "audit": m.audit.summary(),
            "examples": {split: [_row_json(r) for r in rows] for split, rows in self.examples},
        }


def read_stats(build_path: Path, n_examples: int = 2) -> BuildStats:
    """build folder → BuildStats with the first `n_examples` rows of each split but train_sample."""
    build = read_build(build_path)
    m = build.manifest
    examples = []
    for split in m.counts:
        if split == "train_sample" or n_examples <= 0:
            continue
        rows = read_general(build, split) if split in GENERAL_SPLITS else read_split(build, split)
        examples.append((split, tuple(rows[:n_examples])))
    return BuildStats(build, tuple(build_problems(build.path, m.files, m.spec_sha256)), tuple(examples))


def render_stats(build_path: Path, n_examples: int = 2) -> str:
    """build folder → the plain-text report (read_stats(…).render())."""
    return read_stats(build_path, n_examples).render()


def _row_json(row: Example | GeneralPrompt) -> dict:
    if isinstance(row, GeneralPrompt):
        return {"id": row.id, "question": row.prompt, "kind": row.kind, "family": row.family}
    p = row.provenance
    return {"id": row.id, "question": row.prompt, "answer": row.answer, "choices": list(row.choices),
            "rule": p.rule, "form": p.form, "family": p.family, "scope": p.scope}


def _table(title: str, counts: dict[str, dict[str, int]]) -> list[str]:
    keys = sorted({k for per in counts.values() for k in per})
    splits = list(counts)
    width = max([len(title)] + [len(k) for k in keys])
    head = f"{title:<{width}}  " + "  ".join(f"{s:>15}" for s in splits)
    lines = [head, "-" * len(head)]
    for k in keys:
        lines.append(f"{k:<{width}}  " + "  ".join(f"{counts[s].get(k, 0):>15}" for s in splits))
    return lines
