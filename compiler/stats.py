"""`syllabus stats`: a build → counts per split / rule / form, and a few examples of each split."""

from __future__ import annotations

import json
from pathlib import Path

from .buildio import read_build, read_split


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
    raw = json.loads((build.path / "manifest.json").read_text(encoding="utf-8"))
    counts = raw["counts"]
    lines = [f"build {build.manifest.name}  (spec sha256 {build.manifest.spec_sha256[:12]}, seed {build.manifest.seed})", ""]
    lines += _table("split", {s: {"examples": n} for s, n in counts["splits"].items()}) + [""]
    for title, key in (("rule", "by_rule"), ("form", "by_form"), ("scope", "by_scope")):
        lines += _table(title, counts[key]) + [""]
    audit = raw["audit"]
    for name, s in audit["splits"].items():
        lines.append(
            f"audit {name}: exact {s['exact']}, shared {audit['ngram']}-grams {s['ngram']} ({s['ngram_share']:.1%}), structural {s['structural']}"
        )
    for split in counts["splits"]:
        if split == "train_sample" or n_examples <= 0:
            continue
        lines += ["", f"{split}:"]
        for ex in read_split(build, split)[:n_examples]:
            p = ex.provenance
            lines.append(f"  [{p.form}/{p.family}] {ex.prompt}  → {ex.answer}   choices: {', '.join(ex.choices)}")
    return "\n".join(lines)
