"""The only module that chains stages. Each function here is one CLI verb.

Stages pass typed values, and write their artifacts to disk so any of them can be
re-run alone: compile → build/<name>/, train → runs/<id>/adapter, evaluate →
runs/<id>/eval/*.json, gate → runs/<id>/verdict.json + reports.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .errors import Problem

if TYPE_CHECKING:  # pragma: no cover
    from .buildio import Build
    from .loader import LoadedSpec
    from .models import LoadedModel
    from .replies import Reply


def validate(spec_path: Path) -> tuple[Problem, ...]:
    """spec file → its warnings; raises SpecError listing every error, the lessons' lint included."""
    from .compile import check_lessons
    from .loader import load_spec

    return check_lessons(load_spec(spec_path)).warnings


@dataclass(frozen=True)
class CompileResult:
    path: Path
    counts: dict[str, int]

    def summary(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return f"built {self.path}: {parts}"


def compile_spec(spec_path: Path, out: Path | None = None, echo: Callable[[str], None] = lambda s: None,
                 loaded: "LoadedSpec | None" = None) -> CompileResult:
    """spec file (or the LoadedSpec read from it) → build folder (atomically written); raises
    SpecError / BuildError."""
    from .build import write_build
    from .compile import compile_loaded
    from .loader import load_spec

    loaded = loaded if loaded is not None else load_spec(spec_path)
    for warning in loaded.warnings:
        echo(warning.render())
    compiled = compile_loaded(loaded, progress=echo)
    path = write_build(compiled, out or Path("build") / loaded.spec.name)
    counts = {split: len(rows) for split, rows in compiled.splits.items()}
    if compiled.splits.test_general:
        counts.update(train_general=len(compiled.splits.train_general), test_general=len(compiled.splits.test_general))
    return CompileResult(path, counts)


def stats(build_path: Path, n_examples: int) -> str:
    from .stats import render_stats

    return render_stats(build_path, n_examples)


def diff(old: Path, new: Path | None, rev: str | None, fmt: str, limit: int, fail_on: str | None, color: bool) -> tuple[str, int]:
    """Two builds (or a spec and a git revision) → (rendered diff, exit code).

    With `rev`, `old` is a spec: its text at REV and its working-tree text are compiled
    into one temporary folder (removed on return, error or not) and diffed old → new."""
    import tempfile

    from .buildio import read_build
    from .diff import diff_sides, exit_code, read_side
    from .diff_render import render_diff
    from .errors import SyllabusError, UsageError

    if limit < 0:
        raise UsageError(f"--limit {limit}: give 0 or more details per group")
    if rev is None:
        if new is None:
            hint = " with --against REV" if Path(old).is_file() else ""
            raise UsageError(f"diff needs two builds (OLD NEW), or a spec{hint} and --against REV; got only {old}")
        d = diff_sides(read_side(read_build(old)), read_side(read_build(new)))
        return render_diff(d, fmt, limit, color), exit_code(d, fail_on)
    from .gitrev import spec_at_revision

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
    return render_diff(d, fmt, limit, color), exit_code(d, fail_on)


@dataclass(frozen=True)
class TrainOverrides:
    """Command-line flags that override the spec's `train:` block (None = keep)."""

    model: str | None = None
    epochs: float | None = None
    lr: float | None = None
    rank: int | None = None
    batch_size: int | None = None
    device: str | None = None


def _echo(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _general_replies(build: "Build", loaded: "LoadedModel", device: str | None, *,
                     with_test: bool) -> "tuple[Reply, ...]":
    """The general replies a run needs before training: the retain lessons' (the spec's teacher
    or the base model writes them) and, with `with_test`, the base model's test_general replies
    (for drift after training: measured from the cache then). Cached (replies.py); one batched
    call when the base model writes both. → the retain lessons, or () without retain.general."""
    from .buildio import read_general
    from .models import load_model
    from .replies import write_replies, writer_of

    settings = build.spec.retain.general
    if settings is None:
        return ()
    train_prompts = [g.prompt for g in read_general(build, "train_general")]
    test_prompts = [g.prompt for g in read_general(build, "test_general")] if with_test else []
    batch = build.spec.eval.batch_size
    teacher = settings.teacher
    if teacher is None or teacher == loaded.name:
        done = write_replies(writer_of(loaded), train_prompts + test_prompts, settings.max_new_tokens,
                             batch_size=batch, progress=True, label="general replies")
        _echo(f"general replies by {loaded.name}: {len(train_prompts)} retain + {len(test_prompts)} test_general, "
              f"{done.generated} written, {done.cached} from the cache ({done.wall_s:.1f} s)")
        return done.replies[: len(train_prompts)]
    teacher_model = load_model(teacher, device)
    taught = write_replies(writer_of(teacher_model), train_prompts, settings.max_new_tokens, batch_size=batch,
                           progress=True, label="teacher replies")
    del teacher_model  # the teacher's weights are not needed again
    _echo(f"retain replies by teacher {teacher}: {taught.generated} written, {taught.cached} from the cache "
          f"({taught.wall_s:.1f} s)")
    if test_prompts:
        own = write_replies(writer_of(loaded), test_prompts, settings.max_new_tokens, batch_size=batch,
                            progress=True, label="base replies")
        _echo(f"test_general replies by {loaded.name}: {own.generated} written, {own.cached} from the cache "
              f"({own.wall_s:.1f} s)")
    return taught.replies


def _drift(build: "Build", loaded: "LoadedModel", tuned, run_dir: Path) -> None:
    """The tuned model's drift on test_general → run_dir/eval/general.json (when the build has it)."""
    from .buildio import read_general
    from .drift import measure_drift
    from .results import write_drift

    settings = build.spec.retain.general
    if settings is None:
        return
    result = measure_drift(loaded, tuned, read_general(build, "test_general"), max_new_tokens=settings.max_new_tokens,
                           build_sha256=build.manifest.sha256, batch_size=build.spec.eval.batch_size, progress=True)
    write_drift(result, Path(run_dir) / "eval" / "general.json")
    score = result.score("test_general")
    if score is not None and result.complete:
        _echo(f"general: test_general drift {score.drift:.3f} ± {score.drift_stderr:.3f} nats/token, collapsed "
              f"{score.collapsed} of {score.n} ({result.wall_s:.1f} s)")
    else:
        _echo(f"warning: general drift incomplete: {'; '.join(result.problems)}")


def train(build_path: Path, overrides: TrainOverrides, resume: Path | None, runs_root: Path) -> Path:
    """build → runs/<id>/ with adapter/, run.json, train_log.jsonl. `resume` continues that run
    from its last complete checkpoint (same build and settings; --device may change)."""
    from .buildio import read_build, read_split
    from .models import load_model
    from .train import TrainSettings, check_resume, new_run_dir, train_lora

    build = read_build(build_path)
    o = overrides
    settings = TrainSettings.from_spec(build.spec.train, build.spec.seed, model=o.model, epochs=o.epochs, lr=o.lr,
                                       rank=o.rank, batch_size=o.batch_size, device=o.device)
    examples = read_split(build, "train")
    if resume is not None:  # before the model load: a wrong --resume fails in a second
        check_resume(Path(resume), build.manifest.sha256, settings)
    loaded = load_model(settings.model, settings.device)
    with loaded.compute(loaded.model):
        retain = _general_replies(build, loaded, settings.device, with_test=False)
    run_dir = Path(resume) if resume is not None else new_run_dir(runs_root, build.manifest.name)
    train_lora(loaded, examples, settings, run_dir, build_sha256=build.manifest.sha256, build_path=build.path,
               resume=resume is not None, retain=retain, retain_by=_retain_by(build, loaded.name))
    return run_dir


def _retain_by(build: "Build", base_name: str) -> str | None:
    """Who wrote the retain lessons' replies, for run.json: the teacher, or the base model."""
    settings = build.spec.retain.general
    return None if settings is None else (settings.teacher or base_name)


def evaluate(build_path: Path, adapter: Path | None, model: str | None, device: str | None, out: Path | None, limit: int | None) -> Path:
    """build (+ adapter) → runs/<id>/eval/{base,prompted,tuned}.json (+ general.json: the drift on
    test_general, with an adapter and retain.general); returns the run folder.

    With an adapter (runs/<id>/adapter): the run folder is its parent unless --out, the base
    model is run.json's unless --model, and all three arms are scored on one loaded model
    (base and prompted with the adapter disabled). Without one: base and prompted only, into
    --out or runs/eval-<build name>-<manifest sha256[:8]>."""
    import json

    from .buildio import read_build
    from .errors import UsageError
    from .evaluate import evaluate_arms
    from .models import load_model

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
            try:
                recorded = json.loads(run_json.read_text(encoding="utf-8")).get("model")
            except ValueError as exc:
                raise UsageError(f"{run_json}: unreadable ({exc}); pass --model to name the base model")
            name = recorded.get("name") if isinstance(recorded, dict) else recorded
    if run_dir is None:
        run_dir = Path("runs") / f"eval-{build.manifest.name}-{build.manifest.sha256[:8]}"
    name = name or build.spec.train.model
    loaded = load_model(name, device)
    arms: tuple[str, ...] = ("base", "prompted")
    target = loaded.model
    if adapter is not None:
        from peft import PeftModel

        target = PeftModel.from_pretrained(loaded.model, str(adapter)).eval()
        arms += ("tuned",)
    with loaded.compute(target):
        evaluate_arms((target, loaded.tokenizer, loaded.name), build, arms, run_dir, limit=limit)
        if adapter is not None:
            _drift(build, loaded, target, run_dir)
    return run_dir


def _training_facts(meta: dict) -> tuple[tuple[str, str], ...]:
    """run.json (as train.py writes it) → (name, value) lines for the model card: the settings
    that made the adapter (LoRA rank, modules, layers, lr, epochs, seed), then what the run did."""
    settings = meta.get("settings") if isinstance(meta.get("settings"), dict) else {}
    shown = lambda v: ", ".join(map(str, v)) if isinstance(v, list) else str(round(v, 4) if isinstance(v, float) else v)  # noqa: E731
    facts = [(k, shown(v)) for k, v in sorted(settings.items()) if v is not None and k not in ("device", "checkpoint_every")]
    facts += [(k, shown(meta[k])) for k in ("device", "examples", "retain_lessons", "steps", "final_loss", "wall_s",
                                            "tokens_per_s")
              if isinstance(meta.get(k), (str, int, float)) and not (k == "retain_lessons" and not meta[k])]
    retain = meta.get("retain_general")
    if isinstance(retain, dict) and isinstance(retain.get("written_by"), str):
        facts.append(("retain_replies_by", retain["written_by"]))
    return tuple(facts)


def gate(run_dir: Path, baseline: Path | None) -> tuple[str, int]:
    """runs/<id>/ → eval/constant.json, verdict.json + reports; (verdict table, exit code).

    Not a folder, or a run.json without its build → UsageError (2); no eval/ or no
    run.json → EvalIncomplete (3). A missing or unreadable arm file is the gate's to
    judge: the verdict is written and says "incomplete" (3). The constant arm is computed
    here from the build (after its sha256 matched run.json's), never read back."""
    import json

    from .breakdown import by_form, general_pairs, misses
    from .buildio import read_build, read_split
    from .constant import constant_arm
    from .errors import EvalIncomplete, UsageError
    from .gate import BuildRef, decide
    from .report import ReportContext, RuleInfo, read_baseline, render_text, write_reports
    from .results import ARMS, read_arm, read_drift, write_arm
    from .tasks import READINGS, report_order

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: not a run folder (no such directory); pass the runs/<id>/ that `syllabus train` printed")
    if not (run_dir / "eval").is_dir():
        raise EvalIncomplete(f"{run_dir}: no eval/ folder, the run was never evaluated; run `syllabus eval BUILD --adapter {run_dir / 'adapter'}` first")
    run_json = run_dir / "run.json"
    if not run_json.is_file():
        raise EvalIncomplete(f"{run_json}: missing, so training did not finish; re-run `syllabus train` (or `--resume {run_dir}`)")
    try:
        meta = json.loads(run_json.read_text(encoding="utf-8"))
        build_path, want_sha = Path(meta["build_path"]), str(meta["build_sha256"])
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{run_json}: unreadable or without build_path/build_sha256 ({exc}); re-run `syllabus train`")
    if meta.get("status") != "complete":  # interrupted, failed, still running, or not written by train
        raise EvalIncomplete(f"{run_json}: status is {meta.get('status')!r}, not 'complete': training did not finish; "
                             f"continue it with `syllabus train BUILD --resume {run_dir}`")
    if not build_path.is_absolute() and not build_path.exists() and (run_dir / build_path).exists():
        build_path = run_dir / build_path  # a path written relative to the run folder
    build = read_build(build_path)
    if build.manifest.sha256 != want_sha:
        raise UsageError(
            f"{build_path}: the build changed after this run was trained (manifest sha256 {build.manifest.sha256[:12]}, "
            f"run.json says {want_sha[:12]}); recompile the spec the run used, or train and evaluate again"
        )
    arms = {}
    for arm in ARMS:
        try:
            arms[arm] = read_arm(run_dir / "eval" / f"{arm}.json")
        except (OSError, ValueError, KeyError, TypeError):
            arms[arm] = None  # the gate names it and fails closed
    arms["constant"] = constant_arm(build)  # a damaged data file makes it incomplete: its checks fail closed
    write_arm(arms["constant"], run_dir / "eval" / "constant.json")  # so a user can see what each item got
    general = None
    if build.spec.retain.general is not None:
        try:
            general = read_drift(run_dir / "eval" / "general.json")
        except (OSError, ValueError, KeyError, TypeError):
            general = None  # the checks that read it fail closed, naming it
    base = read_baseline(baseline) if baseline is not None else None
    try:  # the per-form breakdown is extra: a damaged data file must not stop the verdict being written
        scored = {split: read_split(build, split) for split in report_order(build.manifest.tasks)}
    except (UsageError, OSError, ValueError, KeyError, TypeError):
        scored = {}
    ref = BuildRef(build.manifest.name, build.manifest.sha256)
    primary = build.spec.primary_reading()
    verdict = decide(build.spec.gate.checks, arms, base, ref, primary, general)
    readings = [r for r in READINGS if r in build.spec.eval.readings]
    missed_in = primary if primary in readings else readings[0]  # the reading the checks mostly use
    tuned = arms.get("tuned")
    named = meta.get("model", {}).get("name") if isinstance(meta.get("model"), dict) else None
    model = named if isinstance(named, str) else (tuned.model if tuned else build.spec.train.model)
    context = ReportContext(
        run_id=run_dir.resolve().name,
        build=ref,
        spec_sha256=build.manifest.spec_sha256,
        rules=tuple(RuleInfo(r.id, r.statement) for r in build.spec.rules),
        model=model,
        description=build.spec.description,
        counts=tuple(build.manifest.counts.items()),
        training=_training_facts(meta),
        by_form=by_form(scored, arms, readings),
        misses=misses({s: rows for s, rows in scored.items() if s != "train_sample"}, arms.get("tuned"), missed_in),
        primary_reading=primary,
        general_pairs=general_pairs(general),
        general_expected=build.spec.retain.general is not None,
    )
    paths = write_reports(verdict, context, run_dir)
    return render_text(verdict, context) + "\nreports: " + ", ".join(str(p) for p in paths.values()), verdict.exit_code


def run(spec_path: Path, device: str | None, runs_root: Path, baseline: Path | None) -> tuple[str, int]:
    """The main job: compile → eval base & prompted → general replies → train → eval tuned
    (+ drift on test_general) → gate → report.

    One process, one model load: the base arms are scored on the loaded model, the base
    model writes the general replies (retain lessons, and its test_general replies for the
    drift), the LoRA adapter is trained on that same model, and the tuned arm is scored on
    the result — nothing is reloaded between train and evaluate (a `teacher` is loaded for
    its replies only)."""
    import time

    from .buildio import read_build, read_split
    from .evaluate import evaluate_arms
    from .models import load_model
    from .loader import load_spec
    from .train import TrainSettings, adapted_layers, new_run_dir, train_lora

    started = time.perf_counter()
    spec = load_spec(spec_path)
    stage = _Stages(6 if spec.spec.retain.general is None else 7)  # general replies: a stage of their own
    stage("compile", str(spec_path))
    compiled = compile_spec(spec_path, echo=lambda s: print(s, file=sys.stderr), loaded=spec)
    build = read_build(compiled.path)
    general = build.spec.retain.general
    settings = TrainSettings.from_spec(build.spec.train, build.spec.seed, device=device)
    stage("load model", settings.model)
    loaded = load_model(settings.model, settings.device)
    run_dir = new_run_dir(runs_root, build.manifest.name)
    n_readings = len(build.spec.eval.readings)
    stage("evaluate base, prompted", f"{len(build.manifest.tasks)} splits × {n_readings} reading{'s' * (n_readings > 1)}")
    with loaded.compute(loaded.model):
        evaluate_arms(loaded, build, ("base", "prompted"), run_dir)
    retain: tuple = ()
    if general is not None:
        writer = general.teacher or f"{loaded.name} (self-distillation)"
        stage("general replies", f"{build.manifest.counts['train_general']} retain lessons by {writer}, "
                                 f"{build.manifest.counts['test_general']} test_general by {loaded.name}")
        with loaded.compute(loaded.model):
            retain = _general_replies(build, loaded, device, with_test=True)
    layers = adapted_layers(loaded.model.config.num_hidden_layers, *settings.lora_layers)
    lessons = f"{build.manifest.counts['train']} lessons" + (f" + {len(retain)} general retain lessons" if retain else "")
    stage("train", f"{lessons}, LoRA r={settings.lora_r} on {', '.join(settings.lora_targets)} of layers "
                   f"{layers[0]}-{layers[-1]}")
    trained = train_lora(
        loaded, read_split(build, "train"), settings, run_dir, build_sha256=build.manifest.sha256, build_path=build.path,
        retain=retain, retain_by=_retain_by(build, loaded.name),
    )
    stage("evaluate tuned", "the same items, adapter on" + (", and the drift on test_general" if general else ""))
    with loaded.compute(trained.model):
        evaluate_arms((trained.model, loaded.tokenizer, loaded.name), build, ("tuned",), run_dir)
        _drift(build, loaded, trained.model, run_dir)
    stage("gate", str(run_dir))
    text, code = gate(run_dir, baseline)
    return f"{text}\nrun {run_dir} in {time.perf_counter() - started:.0f} s", code


class _Stages:
    """`[3/6] train …` lines on stderr: where a long run is, at a glance."""

    def __init__(self, total: int):
        self.total, self.n, self.t0 = total, 0, None

    def __call__(self, name: str, detail: str) -> None:
        import time

        now = time.perf_counter()
        took = f" (previous stage {now - self.t0:.1f} s)" if self.t0 is not None else ""
        self.n, self.t0 = self.n + 1, now
        print(f"[{self.n}/{self.total}] {name}: {detail}{took}", file=sys.stderr, flush=True)
