"""Benchmark: `syllabus diff` of two ~100k-example builds that differ in ~3 % of examples.

    .venv/bin/python tests/benchmarks/bench_diff.py [N]

Writes two build folders (their JSONL with rows.EXAMPLE_ROWS, as a compile does), then times
read (buildio + leakage.json) → diff → render (text, markdown, json), and prints
examples/s, by the wall clock and per CPU-second (steadier on a shared machine). Baseline, in the same process: json.loads of every row of both builds,
the least any reader of these files must do; the ratio says what the diff adds.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from compiler.build.rows import EXAMPLE_ROWS  # noqa: E402
from compiler.build.read import read_build  # noqa: E402
from compiler.diffs.compare import diff_sides, exit_code, read_side  # noqa: E402
from compiler.diffs.render import render_diff  # noqa: E402
from compiler.records import Example, Provenance, stable_hash  # noqa: E402
from compiler.names import SPLITS  # noqa: E402
from tests._fakes import fake_manifest  # noqa: E402

FORMS = ("open", "yes_no", "either_or", "instruction", "completion")


def make_examples(n: int) -> dict[str, list[Example]]:
    """n → examples placed in the four splits the way split.py would: by family and form."""
    splits: dict[str, list[Example]] = {s: [] for s in SPLITS}
    for i in range(n):
        form = FORMS[i % 5]
        family = f"fam{(i // 5) % 10}"
        neighbour = i % 11 == 0
        prov = Provenance("prefer-blue", form, "open", family, (i // 50) % 3, "neighbour" if neighbour else "rule",
                          f"subject{i}", (), (f"prefix:{i % 7}",))
        answer = "Red" if neighbour else "Blue"
        ex = Example(stable_hash(prov)[:16], f"Quick question {i % 7}: what colour should the subject{i} be?",
                     answer, f"{answer}.", (answer, "Green"), 0, prov)
        split = ("test_locality" if neighbour else "test_form" if form == "completion"
                 else "test_paraphrase" if family in ("fam7", "fam8") else "train")
        splits[split].append(ex)
    return splits


def change(splits: dict[str, list[Example]], n: int) -> dict[str, list[Example]]:
    """~3 % of n changed: 1 % answers, 0.5 % prompts, 0.5 % removed, 0.5 % added, 0.5 % moved into train."""
    out = {s: list(v) for s, v in splits.items()}
    train = out["train"]
    for k in range(0, len(train), 100):  # 1 % of train, ~0.7 % of all
        train[k] = replace(train[k], answer="Green", reply="Green.", choices=("Green", "Blue"))
    for k in range(50, len(train), 200):
        train[k] = replace(train[k], prompt=train[k].prompt + " Thanks!")
    del out["test_form"][::40]
    moved = out["test_paraphrase"][::20]
    moved_ids = {e.id for e in moved}
    out["test_paraphrase"] = [e for e in out["test_paraphrase"] if e.id not in moved_ids]
    train += moved
    extra = make_examples(n + n // 200)
    train += [e for s in SPLITS for e in extra[s][-(n // 200) // 4 :]]
    return out


def write_build(folder: Path, splits: dict[str, list[Example]]) -> Path:
    (folder / "data").mkdir(parents=True)
    for s in SPLITS:
        rows = tuple(splits[s])
        (folder / "data" / f"{s}.jsonl").write_text(EXAMPLE_ROWS.json_lines(rows, s), encoding="utf-8")
    spec = {"syllabus": 1, "name": "bench", "lexicon": {"product": ["box"]},
            "rules": [{"id": "prefer-blue", "statement": "s", "subject": "product", "attribute": "color",
                       "value": "blue", "distractors": "product", "forms": list(FORMS)}]}
    (folder / "spec.json").write_text(json.dumps(spec))
    manifest = fake_manifest("bench", {s: len(splits[s]) for s in SPLITS}, spec_sha256=stable_hash(folder.name))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    audit = {"ngram": 8, "refused": [], "splits": {s: {"n": len(splits[s]), "exact": 0, "ngram": 0, "ngram_share": 0.0,
                                        "structural": 0, "pairs": []} for s in SPLITS[1:]}}
    (folder / "leakage.json").write_text(json.dumps(audit))
    return folder


def main(n: int = 100_000) -> None:
    with tempfile.TemporaryDirectory(prefix="syllabus-bench-diff-") as tmp:
        base = make_examples(n)
        old = write_build(Path(tmp) / "old", base)
        new = write_build(Path(tmp) / "new", change(base, n))

        t0 = time.perf_counter()
        rows = 0
        for folder in (old, new):
            for s in SPLITS:
                with (folder / "data" / f"{s}.jsonl").open(encoding="utf-8") as fh:
                    rows += sum(1 for line in fh if json.loads(line))
        baseline = time.perf_counter() - t0

        c0 = time.process_time()
        t0 = time.perf_counter()
        a, b = read_side(read_build(old)), read_side(read_build(new))
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        d = diff_sides(a, b)
        t_diff = time.perf_counter() - t0
        t0 = time.perf_counter()
        sizes = {fmt: len(render_diff(d, fmt, 20)) for fmt in ("text", "markdown", "json")}
        t_render = time.perf_counter() - t0
        cpu = time.process_time() - c0

    total = t_read + t_diff + t_render
    t = dict(d.splits)["total"]
    print(f"builds: {t.old} → {t.new} examples; +{t.added} −{t.removed} ~{t.changed} ↔{t.moved_in} "
          f"({len(d.entries)} entries, {len(d.leaks)} leaks, exit --fail-on leaks = {exit_code(d, 'leaks')})")
    print(f"baseline json.loads of {rows} rows: {baseline:.2f} s")
    print(f"read {t_read:.2f} s · diff {t_diff:.2f} s · render text+markdown+json {t_render:.2f} s "
          f"(chars: {sizes})")
    print(f"total {total:.2f} s wall ({cpu:.2f} s CPU: the wall figure grows when other processes share the "
          f"cores) = {total / baseline:.2f}× baseline; {rows / total:,.0f} examples/s ({rows / cpu:,.0f} per CPU-second)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
