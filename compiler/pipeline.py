"""The only module that chains stages. Each function here is one CLI verb.

Stages pass typed values, and write their artifacts to disk so any of them can be
re-run alone: compile → build/<name>/, train → runs/<id>/adapter, evaluate →
runs/<id>/eval/*.json, gate → runs/<id>/verdict.json + reports.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from .errors import Problem
from .outcomes import CompileResult, DiffResult, EvalResult, GateResult, RunResult, TrainOverrides

if TYPE_CHECKING:  # pragma: no cover
    from .build.stats import BuildStats
    from .build.read import Build
    from .spec.loader import LoadedSpec
    from .sweep.record import SweepOutcome, WorkerOutcome


def validate(spec_path: Path) -> tuple[Problem, ...]:
    """spec file → its warnings; raises SpecError listing every error, the lessons' lint and the
    sweep: section's trials and objective included."""
    from .compilation.chain import check_lessons
    from .spec.loader import load_spec
    from .sweep.check import check_sweep

    return check_sweep(check_lessons(load_spec(spec_path))).warnings


def compile_spec(spec_path: Path, out: Path | None = None, echo: Callable[[str], None] = lambda s: None,
                 loaded: "LoadedSpec | None" = None, force: bool = False,
                 warn: Callable[[str], None] | None = None) -> CompileResult:
    """spec file (or the LoadedSpec read from it) → build folder (atomically written); raises
    SpecError / BuildError, or UsageError for an `out` that is not a build unless `force`
    (build.check_out). `echo` receives progress lines, `warn` the spec's warnings (default: echo)."""
    from .build.write import check_out, write_build
    from .compilation.chain import compile_loaded
    from .spec.loader import load_spec

    loaded = loaded if loaded is not None else load_spec(spec_path)
    out = out or Path("build") / loaded.spec.name
    check_out(out, spec_path, force)  # write_build checks again; here a wrong --out fails before the compile
    for warning in loaded.warnings:
        (warn or echo)(warning.render())
    compiled = compile_loaded(loaded, progress=echo)
    path = write_build(compiled, out, force)
    counts = {split: len(rows) for split, rows in compiled.splits.items()}
    if compiled.splits.dev:
        counts.update(dev=len(compiled.splits.dev))
    if compiled.splits.test_general:
        counts.update(train_general=len(compiled.splits.train_general), test_general=len(compiled.splits.test_general))
    return CompileResult(path, counts)


def stats(build_path: Path, n_examples: int) -> "BuildStats":
    """build folder → BuildStats: counts, audit summary, the first examples (.render() / .to_json())."""
    from .build.stats import read_stats

    return read_stats(build_path, n_examples)


def diff(old: Path, new: Path | None, rev: str | None = None, fmt: str = "text", limit: int = 20,
         fail_on: str | None = None, color: bool = False) -> DiffResult:
    """Two builds (or a spec and a git revision) → DiffResult.

    With `rev`, `old` is a spec: its text at REV and its working-tree text are compiled
    into one temporary folder (removed on return, error or not) and diffed old → new."""
    import tempfile

    from .build.read import read_build
    from .diffs.compare import diff_sides, exit_code, read_side
    from .diffs.render import render_diff
    from .errors import SyllabusError, UsageError

    if limit < 0:
        raise UsageError(f"--limit {limit}: give 0 or more details per group")
    if rev is None:
        if new is None:
            hint = " with --against REV" if Path(old).is_file() else ""
            raise UsageError(f"diff needs two builds (OLD NEW), or a spec{hint} and --against REV; got only {old}")
        d = diff_sides(read_side(read_build(old)), read_side(read_build(new)))
        return DiffResult(d, render_diff(d, fmt, limit, color), exit_code(d, fail_on))
    from .diffs.gitrev import spec_at_revision

    if new is not None:
        raise UsageError(f"--against {rev} diffs one spec against its past; give SPEC only, not also {new}")
    if not Path(old).is_file():
        what = "a folder, not a spec file" if Path(old).is_dir() else "no such spec file in the working tree"
        raise UsageError(f"{old}: {what}; --against REV takes a spec path (syllabus diff specs/x.yaml --against HEAD)")
    with spec_at_revision(old, rev) as past, tempfile.TemporaryDirectory(prefix="syllabus-diff-") as tmp:
        try:
            before = compile_spec(past.path, Path(tmp) / "old").path
        except SyllabusError as exc:
            raise past.relabel(exc) from None
        after = compile_spec(old, Path(tmp) / "new").path
        d = diff_sides(read_side(read_build(before), past.label), read_side(read_build(after), str(old)))
    return DiffResult(d, render_diff(d, fmt, limit, color), exit_code(d, fail_on))


def train(build_path: Path, overrides: TrainOverrides = TrainOverrides(), resume: Path | None = None,
          runs_root: Path = Path("runs")) -> Path:
    """build → runs/<id>/ with adapter/, run.json, train_log.jsonl. `resume` continues that run
    from its last complete checkpoint (same build and settings; --device may change)."""
    from .build.read import read_build, read_split
    from .model.load import load_model
    from .release.model_card import write_train_card
    from .training.lora import TrainSettings, check_resume, new_run_dir, train_lora
    from .training.ranks import ranks
    from .training.record import read_record
    from .training.replies import general_replies

    build = read_build(build_path)
    o = overrides
    settings = TrainSettings.from_spec(build.spec.train, build.spec.seed, model=o.model, epochs=o.epochs, lr=o.lr,
                                       rank=o.rank, batch_size=o.batch_size, device=o.device)
    examples = read_split(build, "train")
    if resume is not None:  # before the model load: a wrong --resume fails in a second
        check_resume(Path(resume), build.manifest.sha256, settings)
    loaded = load_model(settings.model, settings.device)
    with loaded.compute(loaded.model):
        retain = general_replies(build, loaded, settings.device, with_test=False)
    run_dir = Path(resume) if resume is not None else new_run_dir(runs_root, build.manifest.name)
    result = train_lora(loaded, examples, settings, run_dir, build_sha256=build.manifest.sha256, build_path=build.path,
                        resume=resume is not None, retain=retain, retain_by=_retain_by(build, loaded.name))
    if ranks().main:  # under torchrun, rank 0 alone writes the run folder
        write_train_card(result.adapter_dir, read_record(run_dir))
    return run_dir


def _retain_by(build: "Build", base_name: str) -> str | None:
    """Who wrote the retain lessons' replies, for run.json: the teacher, or the base model."""
    settings = build.spec.retain.general
    return None if settings is None else (settings.teacher or base_name)


def evaluate(build_path: Path, adapter: Path | None = None, model: str | None = None, device: str | None = None,
             out: Path | None = None, limit: int | None = None) -> EvalResult:
    """build (+ adapter) → runs/<id>/eval/{base,prompted,tuned}.json (+ general.json: the drift on
    test_general, with an adapter and retain.general); returns the run folder and the arms' results.

    With an adapter (runs/<id>/adapter): the run folder is its parent unless --out, the base
    model is run.json's unless --model, and all three arms are scored on one loaded model
    (base and prompted with the adapter disabled). Without one: base and prompted only, into
    --out or runs/eval-<build name>-<manifest sha256[:8]>."""
    from .build.read import read_build
    from .errors import UsageError
    from .evaluation.arms import evaluate_arms
    from .evaluation.drift import write_run_drift
    from .evaluation.engines import check_engine
    from .integrity import adapter_sha256, read_json
    from .model.load import load_model

    build = read_build(build_path)
    run_dir = Path(out) if out is not None else None
    name = model
    if adapter is not None:
        adapter = Path(adapter)
        if not (adapter / "adapter_config.json").is_file():
            raise UsageError(f"{adapter}: not a PEFT adapter folder (no adapter_config.json); pass runs/<id>/adapter")
        run_dir = run_dir or adapter.parent
        run_json = adapter.parent / "run.json"
        if name is None and run_json.is_file():
            recorded = read_json(run_json, "pass --model to name the base model").get("model")
            name = recorded.get("name") if isinstance(recorded, dict) else recorded
    if run_dir is None:
        run_dir = Path("runs") / f"eval-{build.manifest.name}-{build.manifest.sha256[:8]}"
    name = name or build.spec.train.model
    check_engine(build.spec, build.path / "spec.json")  # vllm asked for, not installed: before the model loads
    loaded = load_model(name, device)
    arms: tuple[str, ...] = ("base", "prompted")
    target, adapter_sha = loaded.model, ""
    if adapter is not None:
        adapter_sha = adapter_sha256(adapter)  # the bytes about to be loaded: what the tuned arm scores
        target = loaded.with_adapter(adapter)
        arms += ("tuned",)
    with loaded.compute(target):
        scored = evaluate_arms(target, loaded.tokenizer, build, arms, run_dir, model_name=loaded.name, limit=limit,
                               adapter_sha256=adapter_sha, adapter=adapter)
        if adapter is not None:
            write_run_drift(build, loaded, target, run_dir, adapter_sha)
    return EvalResult(run_dir, tuple(scored[a] for a in arms))


def gate(run_dir: Path, baseline: Path | None = None) -> GateResult:
    """runs/<id>/ → eval/constant.json, verdict.json + reports; GateResult (release/report.gate_run:
    verify → judge → write the reports; a refusal before deciding leaves no stale verdict)."""
    from .release.report import gate_run
    from .release.text_report import render_text

    judged, paths = gate_run(run_dir, baseline)
    return GateResult(judged.verdict, render_text(judged.verdict, judged.context), dict(paths), judged.context)


def report(run_dir: Path, fmt: str = "markdown", baseline: Path | None = None) -> str:
    """runs/<id>/ → the gate's report as "text", "markdown" or "html", written nowhere: verify →
    judge → render, as `gate` does, without its verdict files (a look at a run, or a page for an
    API user). Raises what `gate` raises; ValueError for another format."""
    from .release.html_report import render_html
    from .release.judge import judge
    from .release.text_report import render_markdown, render_text
    from .release.verify import verify_run

    renderers = {"text": render_text, "markdown": render_markdown, "html": render_html}
    if fmt not in renderers:
        raise ValueError(f"report format {fmt!r}: expected one of {', '.join(renderers)}")
    judged = judge(verify_run(run_dir), baseline)
    return renderers[fmt](judged.verdict, judged.context)


def sweep(spec_path: Path, grid: Sequence[str] = (), *, runs_root: Path = Path("runs"), out: Path | None = None,
          device: str | None = None, worker: str | None = None) -> "SweepOutcome | WorkerOutcome":
    """spec (+ --grid NAME=V1,V2 …) → SweepOutcome: compile it (a spec without splits.dev: with the
    sweep's default dev share, into build/<name>-sweep), run its trials on dev in one process with
    one model load, examine the chosen one on the test splits and gate it (sweep/run.py). With
    `worker` 'I/N' (or under torchrun / accelerate launch) → WorkerOutcome: that worker's share
    of the trials, into the same sweep folder; a plain sweep afterwards chooses and examines."""
    from .progress import say
    from .sweep.run import sweep as run_sweep
    from .sweep.workers import parse_worker

    shard = parse_worker(worker) if worker is not None else None  # a bad --worker fails before any work

    def compile_(loaded: "LoadedSpec", build_out: Path) -> Path:
        return compile_spec(spec_path, build_out, echo=say, loaded=loaded).path

    return run_sweep(spec_path, grid, compile_, runs_root=runs_root, out=out, device=device, worker=shard, echo=say)


def run(spec_path: Path, device: str | None = None, runs_root: Path = Path("runs"),
        baseline: Path | None = None) -> RunResult:
    """The main job: compile → eval base & prompted → general replies → train → eval tuned
    (+ drift on test_general) → gate → report.

    One process, one model load: the base arms are scored on the loaded model, the base
    model writes the general replies (retain lessons, and its test_general replies for the
    drift), the LoRA adapter is trained on that same model, and the tuned arm is scored on
    the result — nothing is reloaded between train and evaluate (a `teacher` is loaded for
    its replies only)."""
    import time

    from .build.read import read_build, read_split
    from .evaluation.arms import evaluate_arms
    from .evaluation.drift import write_run_drift
    from .evaluation.engines import check_engine
    from .integrity import adapter_sha256
    from .model.load import load_model
    from .progress import say, warn
    from .spec.loader import load_spec
    from .release.model_card import write_train_card
    from .training.lora import TrainSettings, adapted_layers, new_run_dir, train_lora
    from .training.record import read_record
    from .training.replies import general_replies

    started = time.perf_counter()
    spec = load_spec(spec_path)
    stage = _Stages(6 if spec.spec.retain.general is None else 7)  # general replies: a stage of their own
    stage("compile", str(spec_path))
    compiled = compile_spec(spec_path, echo=say, warn=warn, loaded=spec)
    build = read_build(compiled.path)
    general = build.spec.retain.general
    settings = TrainSettings.from_spec(build.spec.train, build.spec.seed, device=device)
    check_engine(build.spec, spec_path)  # vllm asked for, not installed: before the model loads
    stage("load model", settings.model)
    loaded = load_model(settings.model, settings.device)
    run_dir = new_run_dir(runs_root, build.manifest.name)
    n_readings = len(build.spec.eval.readings)
    stage("evaluate base, prompted", f"{len(build.manifest.tasks)} splits × {n_readings} reading{'s' * (n_readings > 1)}")
    with loaded.compute(loaded.model):
        evaluate_arms(loaded.model, loaded.tokenizer, build, ("base", "prompted"), run_dir, model_name=loaded.name)
    retain: tuple = ()
    if general is not None:
        writer = general.teacher or f"{loaded.name} (self-distillation)"
        stage("general replies", f"{build.manifest.counts['train_general']} retain lessons by {writer}, "
                                 f"{build.manifest.counts['test_general']} test_general by {loaded.name}")
        with loaded.compute(loaded.model):
            retain = general_replies(build, loaded, device, with_test=True)
    layers = adapted_layers(loaded.model.config.num_hidden_layers, *settings.lora_layers)
    lessons = f"{build.manifest.counts['train']} lessons" + (f" + {len(retain)} general retain lessons" if retain else "")
    stage("train", f"{lessons}, LoRA r={settings.lora_r} on {', '.join(settings.lora_targets)} of layers "
                   f"{layers[0]}-{layers[-1]}")
    trained = train_lora(
        loaded, read_split(build, "train"), settings, run_dir, build_sha256=build.manifest.sha256, build_path=build.path,
        retain=retain, retain_by=_retain_by(build, loaded.name),
    )
    write_train_card(trained.adapter_dir, read_record(run_dir))  # the gate completes it
    stage("evaluate tuned", "the same items, adapter on" + (", and the drift on test_general" if general else ""))
    adapter_sha = adapter_sha256(trained.adapter_dir)  # the saved form of the weights scored next
    with loaded.compute(trained.model):
        evaluate_arms(trained.model, loaded.tokenizer, build, ("tuned",), run_dir, model_name=loaded.name,
                      adapter_sha256=adapter_sha)
        write_run_drift(build, loaded, trained.model, run_dir, adapter_sha)
    stage("gate", str(run_dir))
    return RunResult(run_dir, gate(run_dir, baseline), time.perf_counter() - started)


class _Stages:
    """`[3/6] train …` lines on stderr: where a long run is, at a glance."""

    def __init__(self, total: int):
        self.total, self.n, self.t0 = total, 0, None

    def __call__(self, name: str, detail: str) -> None:
        import time

        from .progress import say

        now = time.perf_counter()
        took = f" (previous stage {now - self.t0:.1f} s)" if self.t0 is not None else ""
        self.n, self.t0 = self.n + 1, now
        say(f"[{self.n}/{self.total}] {name}: {detail}{took}")
