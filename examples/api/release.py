"""Teach a model a rule and gate its release, through the public Python API alone.

    python examples/api/release.py                              # specs/blue_products.yaml, the embedded model
    python examples/api/release.py SPEC --model PATH --epochs 0.5 --runs DIR

spec → compiler.compile → compiler.train → compiler.evaluate → compiler.gate, the stages
`syllabus run` chains. Here each stage is its own call, as in a pipeline that trains on one
machine and evaluates on another: train and evaluate each load the model (`syllabus run` loads
it once). On the 2-core CPU with the embedded model this takes ~6 minutes. The exit code is the
gate's: 0 pass, 1 a check missed, 2 bad input, 3 a result the gate cannot verify.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import compiler

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path, nargs="?", default=ROOT / "specs" / "blue_products.yaml")
    parser.add_argument("--out", type=Path, default=None, help="build folder (default: build/<name>)")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="where runs/<id>/ go")
    parser.add_argument("--model", default=None, help="base model (default: the spec's)")
    parser.add_argument("--epochs", type=float, default=None, help="override the spec's train.epochs")
    parser.add_argument("--device", default=None, help="cpu, cuda … (default: cuda when available)")
    args = parser.parse_args(argv)

    try:
        built = compiler.compile(args.spec, args.out, echo=lambda w: print(w, file=sys.stderr))
        print(built.summary())
        overrides = compiler.TrainOverrides(model=args.model, epochs=args.epochs, device=args.device)
        run_dir = compiler.train(built.path, overrides, runs_root=args.runs)
        print(f"trained {run_dir / 'adapter'}")
        # base, prompted and tuned arms on the held-out tasks, into run_dir/eval/
        compiler.evaluate(built.path, adapter=run_dir / "adapter", model=args.model, device=args.device)
        result = compiler.gate(run_dir)
    except compiler.SyllabusError as exc:
        print(f"error: {exc.user_message()}", file=sys.stderr)
        return exc.exit_code
    verdict = result.verdict  # a typed Verdict: the same record verdict.json holds
    print(f"verdict: {verdict.status} (exit {verdict.exit_code}): "
          f"{sum(c.passed is True for c in verdict.checks)} of {len(verdict.checks)} checks passed")
    for check in verdict.checks:
        mark = {True: "pass", False: "MISS", None: "n/a "}[check.passed]  # None: could not be evaluated
        print(f"  {mark}  {check.name}: {check.detail}")
    print("reports: " + ", ".join(str(p) for p in result.reports.values()))
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
