"""`syllabus stats`: a build → counts per split / rule / form, and a few examples of each split;
a `warning:` line for each file that is not what its manifest records (integrity.build_problems)."""

from __future__ import annotations

from pathlib import Path

from ..names import GENERAL_SPLITS
from .read import read_build, read_general, read_split
from ..integrity import build_problems


def _table(title: str, counts: dict[str, dict[str, int]]) -> list[str]:
    keys = sorted({k for per in counts.values() for k in per})
    splits = list(counts)
    width = max([len(title)] + [len(k) for k in keys])
    head = f"{title:<{width}}  " + "  ".join(f"{s:>15}" for s in splits)
    lines = [head, "-" * len(head)]
    for k in keys:
        lines.append(f"{k:<{width}}  " + "  ".join(f"{counts[s].get(k, 0):>15}" for s in splits))
    return lines


def render_stats(build_path: Path, n_examples: int = 2) -> str:
    """build folder → a plain-text report (counts tables, audit line, sample questions)."""
    build = read_build(build_path)
    m = build.manifest
    lines = [f"build {m.name}  (spec sha256 {m.spec_sha256[:12]}, seed {m.seed})"]
    # shown, not refused: stats describes the bytes on disk; only the gate refuses such a build
    problems = build_problems(build.path, m.files, m.spec_sha256)
    lines += [f"warning: does not match its manifest.json: {p}" for p in problems] + [""]
    lines += _table("split", {s: {"examples": n} for s, n in m.counts.items()}) + [""]
    for title, counts in m.breakdown.items():
        lines += _table(title, counts) + [""]
    for a in m.audit:
        lines.append(f"audit {a.split}: exact {a.exact}, shared {m.audit_ngram}-grams {a.ngram} ({a.ngram_share:.1%}), "
                     f"structural {a.structural}")
    for split in m.counts:
        if split == "train_sample" or n_examples <= 0:
            continue
        lines += ["", f"{split}:"]
        if split in GENERAL_SPLITS:  # general prompts have no answer: the model writes its reply
            what = "reply written at train time" if split == "train_general" else "scored as drift from the base's reply"
            lines += [f"  [{g.kind}/{g.family}] {g.prompt}  → ({what})" for g in read_general(build, split)[:n_examples]]
            continue
        for ex in read_split(build, split)[:n_examples]:
            p = ex.provenance
            lines.append(f"  [{p.form}/{p.family}] {ex.prompt}  → {ex.answer}   choices: {', '.join(ex.choices)}")
    return "\n".join(lines)
