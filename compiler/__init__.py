"""syllabus: a declarative dataset-and-eval compiler for teaching an LLM a rule.

The public Python API: the verbs the `syllabus` command runs, and the types they return.

    import compiler
    build = compiler.compile("specs/blue_products.yaml")           # → CompileResult (build folder)
    run_dir = compiler.train(build.path)                           # → runs/<id>/ (adapter, run.json)
    compiler.evaluate(build.path, adapter=run_dir / "adapter")     # → EvalResult (runs/<id>/eval/)
    result = compiler.gate(run_dir)                                # → GateResult: verdict + reports written
    raise SystemExit(result.exit_code)

Everything else in the package is private: its modules may change without notice. Names load on
first use (PEP 562), so `import compiler` stays light: torch loads with the first verb that runs
a model.
"""

import os

# How long an idle OpenMP thread spins before it sleeps. torch's libgomp spins 300,000 rounds by
# default: on a CPU shared with another job that made a 2-thread training step of the default
# model 22x slower (23 s instead of 1.0 s). Sleeping at once (OMP_WAIT_POLICY=PASSIVE) made it
# 1.7x slower on an idle CPU (1.72 s), since every one of the ~1,700 products a step wakes the
# second thread. Measured (2 cores, one step, alone | beside a second such job):
#   default 1.03 | 23 s · PASSIVE 1.72 | 1.95 s · GOMP_SPINCOUNT=5000 0.93 | 3.7 s.
# OpenMP reads this once, when torch loads it, so it is set at the package's root, before any
# module imports torch; a user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "5000")

__version__ = "0.1.0"

# public name → (module, attribute): the one map from the API to where each thing lives
_API = {
    # verbs, in the order of the data flow
    "load": ("compiler.spec.loader", "load_spec"),
    "validate": ("compiler.pipeline", "validate"),
    "compile": ("compiler.pipeline", "compile_spec"),
    "read_build": ("compiler.build.read", "read_build"),
    "read_split": ("compiler.build.read", "read_split"),
    "diff": ("compiler.pipeline", "diff"),
    "train": ("compiler.pipeline", "train"),
    "evaluate": ("compiler.pipeline", "evaluate"),
    "gate": ("compiler.pipeline", "gate"),
    "report": ("compiler.pipeline", "report"),
    "run": ("compiler.pipeline", "run"),
    "export": ("compiler.export", "export"),
    "compare": ("compiler.comparison.compare", "compare"),
    "sweep": ("compiler.pipeline", "sweep"),
    # types
    "Spec": ("compiler.spec.model", "Spec"),
    "LoadedSpec": ("compiler.spec.loader", "LoadedSpec"),
    "Build": ("compiler.build.read", "Build"),
    "Example": ("compiler.records", "Example"),
    "CompileResult": ("compiler.outcomes", "CompileResult"),
    "DiffResult": ("compiler.outcomes", "DiffResult"),
    "TrainOverrides": ("compiler.outcomes", "TrainOverrides"),
    "EvalResult": ("compiler.outcomes", "EvalResult"),
    "GateResult": ("compiler.outcomes", "GateResult"),
    "RunResult": ("compiler.outcomes", "RunResult"),
    "Verdict": ("compiler.release.gate", "Verdict"),
    "Problem": ("compiler.errors", "Problem"),
    "SyllabusError": ("compiler.errors", "SyllabusError"),
    "SpecError": ("compiler.errors", "SpecError"),
}

__all__ = [*_API, "__version__"]


def __getattr__(name: str):
    """A public name → the object, imported on first use and kept (PEP 562)."""
    if name not in _API:
        raise AttributeError(f"module 'compiler' has no attribute {name!r}")
    import importlib

    module, attribute = _API[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
