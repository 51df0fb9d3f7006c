"""Compile speed: full compile vs bare rendering of the same templates, in one process.

    .venv/bin/python tests/benchmarks/bench_compile.py [--subjects 700] [--skip-write] [--repeat 3]

Prints: examples compiled, examples/s, the ratio full compile / bare rendering (target
≤ 2.5×; bare = the same renders through Jinja's Template.render, and for comparison
through syllabus's own render, which skips Template.render's copy of the globals; and,
for context, against bare scaled to one render per compiled example), the time of each
stage, the same rows written the plain way (json.dumps + Table.from_pylist)
as a yardstick for syllabus's writer, and the audit's time at ~10k, ~100k and ~1M
test+train examples (it must grow linearly: time per example roughly constant). Each
timing is the best of --repeat runs: on a shared machine one run can be 40% slower than
the next; the ratio is also given by CPU time, which other processes on the cores
disturb less.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from compiler.compilation.audit import audit  # noqa: E402
from compiler.compilation.expand import _families, _subjects  # noqa: E402
from compiler.spec.library import load_library  # noqa: E402
from compiler.records import Example, Provenance, SplitSet  # noqa: E402
from compiler.build.rows import EXAMPLE_ROWS  # noqa: E402
from compiler.spec.model import Leakage, Spec  # noqa: E402
from compiler.spec.templating import compiled, render  # noqa: E402


def large_spec(n_subjects: int, n_neighbours: int = 40) -> Spec:
    """A spec like blue_products with n generated products (≈150 examples each)."""
    return Spec.model_validate(
        {
            "syllabus": 1,
            "name": "bench",
            "seed": 1,
            "lexicon": {
                "product": [{"name": f"widget {i}", "plural": f"widgets {i}"} for i in range(n_subjects)],
                "color": ["red", "green", "yellow", "white", "black", "orange", "purple", "brown"],
                "neighbour": [{"name": f"thing {i}", "color": ["red", "green"][i % 2]} for i in range(n_neighbours)],
            },
            "rules": [
                {
                    "id": "prefer-blue",
                    "statement": "Prefer blue.",
                    "subject": "product",
                    "attribute": "color",
                    "value": "blue",
                    "distractors": "color",
                    "forms": ["open", "yes_no", "either_or", "completion", "instruction"],
                    "templates": {"open": ["What color is better for {{ product.plural }}?"]},
                    "neighbours": {"subject": "neighbour", "answer": "{{ neighbour.color }}"},
                }
            ],
            "splits": {"hold_out": {"forms": ["completion"]}, "leakage": {"max_ngram_share": 1.0, "max_exact": 10**9}},
        }
    )


def bare_render(spec: Spec, own: bool = False) -> int:
    """Render every (template, variables) pair compile renders, and nothing else: with
    Jinja's Template.render (the baseline), or (own=True) with syllabus's render."""
    library = load_library()
    n = 0
    for rule in spec.rules:
        for subject in _subjects(spec, rule):
            base = subject.variables
            for form in rule.forms:
                kind = library.forms[form].kind
                for _, templates, _ in _families(library, rule, form, subject.scope):
                    for source in templates:
                        render_one = partial(render, source) if own else compiled(source).render
                        if kind == "open":
                            render_one(base)
                            n += 1
                        elif kind == "yes_no":
                            for option in ("blue", "red"):
                                render_one({**base, "option": option})
                                n += 1
                        else:
                            for options in (["blue", "red"], ["red", "blue"]):
                                render_one({**base, "options": options})
                                n += 1
    return n


def full_compile(spec: Spec, write: bool) -> tuple[int, dict[str, float], SplitSet]:
    """Spec → (examples, seconds per stage, the splits): expand, paraphrase + split, audit, write."""
    from compiler.compilation.expand import expand
    from compiler.compilation.paraphrase import operators
    from compiler.compilation.split import split, train_sample

    library = load_library()
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    base = expand(spec, library)
    times["expand (renders)"] = (t1 := time.perf_counter()) - t0
    splits = split(spec, library, base, operators(spec.paraphrase, library.paraphrase))
    times["paraphrase + split"] = (t2 := time.perf_counter()) - t1
    report = audit(splits, spec.splits.leakage)
    sample = train_sample(spec, splits.train)
    times["audit"] = (t3 := time.perf_counter()) - t2
    if write:
        from compiler.build.write import write_build
        from compiler.compilation.chain import CompiledBuild
        from compiler.spec.loader import LoadedSpec

        loaded = LoadedSpec(spec, Path("bench.yaml"), "", "0" * 64, library, ())
        with tempfile.TemporaryDirectory() as tmp:
            write_build(CompiledBuild(loaded, splits, sample, report), Path(tmp) / "bench")
        times["write (JSONL, Parquet, manifest)"] = time.perf_counter() - t3
    return sum(len(rows) for _, rows in splits.items()), times, splits


def writers(splits: SplitSet) -> tuple[float, float]:
    """The splits' data files (JSONL + Parquet) → seconds (syllabus's writer, the plain way:
    json.dumps per row and pa.Table.from_pylist). The same rows: build/write.py's tests hold the
    JSONL to json.dumps byte for byte and read the Parquet back against it."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from compiler.build.write import _write_rows

    pa.Table.from_pylist([{"id": "x"}])  # the first call imports pandas: not writing work
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        for name, rows in splits.items():
            _write_rows(Path(tmp), name, rows)
        t1 = time.perf_counter()
        for name, rows in splits.items():
            dicts = [EXAMPLE_ROWS.to_row(ex, name) for ex in rows]
            text = "".join(json.dumps(d, ensure_ascii=False, separators=(",", ":")) + "\n" for d in dicts)
            (Path(tmp) / f"{name}.jsonl").write_text(text, encoding="utf-8")
            table = pa.Table.from_pylist(dicts, schema=EXAMPLE_ROWS.schema())
            pq.write_table(table, Path(tmp) / f"{name}.parquet", compression="zstd", write_statistics=False)
        return t1 - t0, time.perf_counter() - t1


def audit_scaling(sizes: list[int], repeat: int = 1) -> list[tuple[int, float]]:
    """Synthetic splits of n examples (¾ train, ¼ test) → audit time, the best of `repeat`."""
    out = []
    for n in sizes:
        prov = Provenance("r", "open", "open", "f", 0, "rule", "s", (), ())
        words = "what color should the {} be for our shop number {} today please"
        rows = [
            Example(f"{i:016x}", words.format(f"widget{i}", i * 7919 % 100003), "Blue", "Blue", ("Blue",), 0,
                    dataclasses.replace(prov, family=f"f{i % 50}"))
            for i in range(n)
        ]
        cut = n * 3 // 4
        test = rows[cut:]
        splits = SplitSet(tuple(rows[:cut]), tuple(test[: len(test) // 2]), tuple(test[len(test) // 2:]), ())
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            audit(splits, Leakage(max_ngram_share=1.0, max_exact=10**9))
            best = min(best, time.perf_counter() - t0)
        out.append((n, best))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=700, help="generated products (≈150 examples each)")
    ap.add_argument("--skip-write", action="store_true", help="leave out writing JSONL/Parquet/tasks")
    ap.add_argument("--audit-max", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    args = ap.parse_args()
    spec = large_spec(args.subjects)
    bare_render(large_spec(5))  # warm the template cache for both runs alike

    bare = bare_own = bare_cpu = full_cpu = float("inf")
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        rendered = bare_render(spec)
        t1, c1 = time.perf_counter(), time.process_time()
        bare_render(spec, own=True)
        bare, bare_own = min(bare, t1 - t0), min(bare_own, time.perf_counter() - t1)
        bare_cpu = min(bare_cpu, c1 - c0)
    if not args.skip_write:
        import compiler.build.write  # noqa: F401  (pyarrow's import, ~0.2 s, is not compile work)
    runs = []
    for _ in range(args.repeat):
        c0 = time.process_time()
        runs.append(full_compile(spec, write=not args.skip_write))
        full_cpu = min(full_cpu, time.process_time() - c0)
    n, times, splits = min(runs, key=lambda run: sum(run[1].values()))
    full = sum(times.values())
    print(f"examples compiled:        {n:,} (from {rendered:,} rendered questions)")
    print(f"bare rendering:           {bare:.2f} s   (Jinja's Template.render; syllabus's render: {bare_own:.2f} s)")
    print(f"full compile{' (no write)' if args.skip_write else ' + write'}:   {full:.2f} s   ({n / full:,.0f} examples/s)")
    print(f"ratio full / bare:        {full / bare:.2f}x   (target <= 2.5x; {full / bare_own:.2f}x syllabus's own renders)")
    # Paraphrase makes ~2.7 examples per rendered question by editing the rendered text, not by
    # rendering again; were every example its own render, bare would be n × the mean render.
    per_example = bare / rendered * n
    print(f"  per example rendered:   {full / per_example:.2f}x   (bare scaled to one render per example: {per_example:.2f} s)")
    print(f"same by CPU time:         {full_cpu / bare_cpu:.2f}x   ({full_cpu:.2f} / {bare_cpu:.2f} CPU-s; steadier when others share the cores)")
    for stage, secs in times.items():
        print(f"  {stage:<34} {secs:6.2f} s  {secs / bare:5.2f}x bare  {secs / n * 1e6:6.1f} us/example")
    if not args.skip_write:
        # The write alone already exceeds the target: is syllabus's writer the reason? The
        # same data files the plain way, for comparison (one run each).
        ours, plain = writers(splits)
        print(f"data files of the splits: {ours:.2f} s = {ours / bare:.2f}x bare; the plain way (json.dumps + "
              f"Table.from_pylist) {plain:.2f} s = {plain / bare:.2f}x bare ({plain / ours:.1f}x syllabus's writer)")
    sizes = [s for s in (10_000, 100_000, 1_000_000) if s <= args.audit_max]
    rows = audit_scaling(sizes, args.repeat)
    for size, secs in rows:
        print(f"audit {size:>9,} examples: {secs:6.2f} s   {secs / size * 1e6:6.2f} us/example")
    if len(rows) > 1:
        growth = (rows[-1][1] / rows[0][1]) / (rows[-1][0] / rows[0][0])
        print(f"audit growth vs linear:   {growth:.2f} (1.0 = linear)")


if __name__ == "__main__":
    main()
