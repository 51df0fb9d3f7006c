"""Compile a rule spec with the Python API and look inside the build.

    python examples/api/compile_and_inspect.py                       # specs/blue_products.yaml
    python examples/api/compile_and_inspect.py SPEC --out DIR -n 5

Spec file → build folder (compiler.compile) → read back (compiler.read_build /
compiler.read_split) → counts per split, and a few held-out questions with their answers.
The same calls the `syllabus compile` and `syllabus stats` commands make, through the public
API alone (`compiler.__all__`).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import compiler

ROOT = Path(__file__).resolve().parents[2]
HELD_OUT = ("test_paraphrase", "test_form", "test_locality")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path, nargs="?", default=ROOT / "specs" / "blue_products.yaml")
    parser.add_argument("--out", type=Path, default=None, help="build folder (default: build/<name>)")
    parser.add_argument("-n", type=int, default=3, help="held-out questions shown per split")
    args = parser.parse_args(argv)

    try:
        # Warnings (e.g. a small split) arrive through `echo`; errors are SyllabusErrors
        # whose message names the file, line and field.
        result = compiler.compile(args.spec, args.out, echo=lambda w: print(w, file=sys.stderr))
    except compiler.SyllabusError as exc:
        print(f"error: {exc.user_message()}", file=sys.stderr)
        return exc.exit_code

    build = compiler.read_build(result.path)
    m = build.manifest
    print(f"build {m.name} at {build.path}")
    print(f"  manifest sha256 {m.sha256[:12]}  spec sha256 {m.spec_sha256[:12]}  seed {m.seed}")
    for rule in build.spec.rules:
        print(f"  rule {rule.id}: {rule.statement}")
    print()
    print("examples per split:")
    order = ("train", "train_sample", *HELD_OUT)
    for split, n in sorted(m.counts.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0])):
        print(f"  {split:<16} {n:>5}")

    train = compiler.read_split(build, "train")
    forms = Counter(e.provenance.form for e in train)
    print("train by form: " + ", ".join(f"{form} {n}" for form, n in sorted(forms.items())))

    for split in HELD_OUT:
        examples = compiler.read_split(build, split)
        print(f"\n{split} ({len(examples)}), first {min(args.n, len(examples))}:")
        for ex in examples[: args.n]:
            p = ex.provenance
            print(f"  [{p.form}/{p.family}] {ex.prompt}")
            print(f"      answer {ex.answer!r} of {', '.join(ex.choices)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
