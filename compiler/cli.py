"""The `syllabus` command: parses arguments, calls `pipeline`, turns errors into messages.

Exit codes: 0 pass · 1 a threshold missed / refused build · 2 bad input ·
3 evaluation incomplete (or an internal error). No traceback reaches the user unless
SYLLABUS_DEBUG=1.

For scripts: `--format json` on every command that prints a result writes one JSON document to
stdout, `"schema": "syllabus.<verb>/1"` (docs/cli-json.md); an error under it is a
`syllabus.error/1` document on stdout as well as the message on stderr. `-q` / `-v` /
`--no-progress` belong to the group (`syllabus -q run …`), so every command has them; how much
is said and whether bars are drawn is decided in progress.py. `-h` is `--help` everywhere.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from . import __version__, pipeline, progress
from .errors import StorageError, SyllabusError

_PATH = click.Path(path_type=Path)
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}  # subcommands inherit it
_FORMAT, _STDOUT = "syllabus.format", "syllabus.stdout"  # ctx.meta keys (meta is shared by every context)
ERROR_SCHEMA = "syllabus.error/1"


def _use_format(ctx: click.Context, param, value: str) -> str:
    """--format → itself, remembered for the error handler. Under json, what anything else would
    print to stdout (a library's print) goes to stderr until the command ends: stdout holds one
    JSON document."""
    ctx.meta[_FORMAT] = value
    if value == "json" and _STDOUT not in ctx.meta:
        ctx.meta[_STDOUT] = sys.stdout
        ctx.with_resource(contextlib.redirect_stdout(sys.stderr))
    return value


def format_option(*more: str):
    """The --format option of a command that prints a result: text (the default), json, and `more`
    formats of its own. Use it on a new command so its json output and errors follow docs/cli-json.md;
    print the result with `_print` / `_emit`, or `click.echo(…, file=_stdout())` (under json a plain
    click.echo goes to stderr)."""
    return click.option("--format", "fmt", type=click.Choice(["text", "json", *more]), default="text",
                        show_default=True, is_eager=True, callback=_use_format,
                        help="json: one document on stdout, schema in docs/cli-json.md.")


def _stdout():
    """→ where a result goes: stdout as it was before --format json sent other output to stderr."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(_STDOUT, sys.stdout) if ctx is not None else sys.stdout


def _finite(x: Any) -> Any:
    """JSON has no NaN or infinity: a non-finite number becomes null, at any depth."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def _emit(doc: dict) -> None:
    click.echo(json.dumps(_finite(doc), indent=2, ensure_ascii=False, allow_nan=False), file=_stdout())


def _print(fmt: str, result, text: str | None = None) -> None:
    """A command's result → stdout: its text (`result.render()` unless `text`), or under
    --format json its `to_json()` document."""
    if fmt == "json":
        _emit(result.to_json())
    else:
        click.echo(result.render() if text is None else text)


def _json_error(ctx: click.Context | None, exit_code: int, kind: str, message: str, problems=()) -> None:
    """Under --format json: the error as a `syllabus.error/1` document on stdout too."""
    if ctx is None or ctx.meta.get(_FORMAT) != "json":
        return
    _emit({"schema": ERROR_SCHEMA, "exit_code": exit_code,
           "error": {"type": kind, "message": message, "problems": [p.to_json() for p in problems]}})


def _fail(exc: SyllabusError, ctx: click.Context | None = None) -> None:
    click.echo(f"error: {exc.user_message()}", err=True)
    _json_error(ctx, exc.exit_code, type(exc).__name__, exc.user_message(), getattr(exc, "problems", ()))
    sys.exit(exc.exit_code)


class _Group(click.Group):
    """Routes every SyllabusError raised by a command to a clean message + exit code; SIGTERM
    (a CI job cancelled, `kill`) interrupts like Ctrl-C, so the same clean-up runs."""

    def invoke(self, ctx: click.Context):  # noqa: D401
        main_thread = threading.current_thread() is threading.main_thread()  # signal handlers live there only
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler) if main_thread else None
        try:
            return super().invoke(ctx)
        except SyllabusError as exc:
            _fail(exc, ctx)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            _json_error(ctx, 130, "Interrupted", "interrupted")
            sys.exit(130)
        except click.ClickException as exc:  # click's own (a bad option value …): it prints them
            _json_error(ctx, exc.exit_code, type(exc).__name__, exc.format_message())
            raise
        except (click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # the last-resort net: a bug, or a failure no stage named
            if os.environ.get("SYLLABUS_DEBUG") == "1":
                raise
            if isinstance(exc, OSError) and exc.errno is not None:  # disk full, permission denied …
                _fail(StorageError.from_os(exc), ctx)
            click.echo(f"error: internal error: {type(exc).__name__}: {exc}\n"
                       "    hint: set SYLLABUS_DEBUG=1 to see the traceback", err=True)
            _json_error(ctx, 3, "InternalError", f"{type(exc).__name__}: {exc}")
            sys.exit(3)  # like an incomplete evaluation: a CI cannot trust a job that crashed
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


@click.group(cls=_Group, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="syllabus")
@click.option("-q", "--quiet", is_flag=True, help="Print only the result, warnings and errors: no progress.")
@click.option("-v", "--verbose", is_flag=True,
              help="Also library warnings (transformers, peft, datasets, lm-eval), their bars, and debug detail.")
@click.option("--no-progress", is_flag=True, help="No progress bars (drawn only when stderr is a terminal).")
@click.pass_context
def main(ctx: click.Context, quiet: bool, verbose: bool, no_progress: bool) -> None:
    """syllabus: compile a rule spec into lessons and an exam, train, grade, gate.

    Colour follows NO_COLOR; --format json output is documented in docs/cli-json.md."""
    if quiet and verbose:
        raise click.UsageError("-q/--quiet and -v/--verbose ask for opposite things: give one")
    level = progress.QUIET if quiet else progress.VERBOSE if verbose else progress.NORMAL
    ctx.with_resource(progress.configured(level, bars=not no_progress))


@main.command()
@click.argument("spec", type=_PATH)
@format_option()
def validate(spec: Path, fmt: str) -> None:
    """Check SPEC; print located errors (exit 2) and warnings, or nothing."""
    warnings = pipeline.validate(spec)
    for warning in warnings:  # the result in text; on stderr under json as well, for a person reading the log
        click.echo(warning.render(), err=True)
    if fmt == "json":
        _emit({"schema": "syllabus.validate/1", "exit_code": 0, "spec": str(spec),
               "warnings": [w.to_json() for w in warnings]})


@main.command("compile")
@click.argument("spec", type=_PATH)
@click.option("--out", type=_PATH, default=None, help="Build folder (default: build/<name>).")
@click.option("--force", is_flag=True, help="Replace --out even when it is not a syllabus build (or holds files "
              "the build did not write).")
@format_option()
def compile_(spec: Path, out: Path | None, force: bool, fmt: str) -> None:
    """Compile SPEC into build/<name>/ (train + held-out splits, lm-eval tasks, manifest)."""
    result = pipeline.compile_spec(spec, out, echo=progress.say, force=force, warn=progress.warn)
    _print(fmt, result, result.summary())


@main.command()
@click.argument("build", type=_PATH)
@click.option("--examples", "n_examples", type=int, default=2, show_default=True, help="Examples shown per split.")
@format_option()
def stats(build: Path, n_examples: int, fmt: str) -> None:
    """Counts per split / rule / form of BUILD, with a few examples each."""
    _print(fmt, pipeline.stats(build, n_examples))


@main.command()
def schema() -> None:
    """Print the spec's JSON Schema (for editor completion)."""
    from .spec.model import spec_json_schema

    click.echo(json.dumps(spec_json_schema(), indent=2, sort_keys=True))


@main.command()
@click.argument("old", type=_PATH)
@click.argument("new", type=_PATH, required=False)
@click.option("--against", "rev", default=None, help="Diff a spec against itself at this git revision.")
@format_option("markdown")
@click.option("--limit", type=int, default=20, show_default=True, help="Details shown per group.")
@click.option("--fail-on", type=click.Choice(["changes", "leaks"]), default=None, help="Exit 1 when triggered.")
@click.option("--color/--no-color", default=None, help="Colour (default: on a terminal, unless NO_COLOR is set).")
def diff(old: Path, new: Path | None, rev: str | None, fmt: str, limit: int, fail_on: str | None, color: bool | None) -> None:
    """Diff two builds (OLD NEW), or a spec against a git revision (SPEC --against REV)."""
    use_color = fmt == "text" and progress.use_color(_stdout(), color)
    result = pipeline.diff(old, new, rev, fmt, limit, fail_on, use_color)
    click.echo(result.text, file=_stdout(), color=use_color)  # color=: click strips escapes off a terminal
    sys.exit(result.exit_code)


def _positive(ctx, param, value):
    """A training override → itself when it is a finite number > 0 (inf and nan would train forever or on nothing)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"{value!r}: give a finite number greater than 0")
    return value


@main.command()
@click.argument("build", type=_PATH)
@click.option("--model", default=None, help="'default', a Hugging Face id or a local path.")
@click.option("--epochs", type=float, default=None, callback=_positive)
@click.option("--lr", type=float, default=None, callback=_positive)
@click.option("--rank", type=int, default=None, callback=_positive, help="LoRA rank r.")
@click.option("--batch-size", type=int, default=None, callback=_positive)
@click.option("--device", default=None, help="cpu, cuda, cuda:1 … (default: cuda when available).")
@click.option("--resume", type=_PATH, default=None, help="Continue runs/<id> from its last complete checkpoint.")
@click.option("--runs", type=_PATH, default=Path("runs"), show_default=True, help="Where runs/<id>/ go.")
@format_option()
def train(build: Path, model, epochs, lr, rank, batch_size, device, resume, runs, fmt: str) -> None:
    """LoRA fine-tune on BUILD's train split → runs/<id>/adapter."""
    overrides = pipeline.TrainOverrides(model=model, epochs=epochs, lr=lr, rank=rank, batch_size=batch_size, device=device)
    run_dir = pipeline.train(build, overrides, resume=resume, runs_root=runs)
    if fmt == "json":
        from .training.record import read_record

        _emit({"schema": "syllabus.train/1", "exit_code": 0, "run_dir": str(run_dir),
               "adapter": str(run_dir / "adapter"), "run": read_record(run_dir).to_json()})
    else:
        click.echo(str(run_dir))


@main.command("eval")
@click.argument("build", type=_PATH)
@click.option("--adapter", type=_PATH, default=None, help="A PEFT adapter folder (runs/<id>/adapter).")
@click.option("--model", default=None, help="Base model (default: the one the adapter was trained from).")
@click.option("--device", default=None)
@click.option("--out", type=_PATH, default=None, help="Run folder to write eval/ into (default: the adapter's run).")
@click.option("--limit", type=int, default=None, help="Score at most N items per split (a quick look).")
@format_option()
def eval_(build: Path, adapter: Path | None, model: str | None, device: str | None, out: Path | None, limit: int | None,
          fmt: str) -> None:
    """Score base, prompted and tuned arms on BUILD's held-out tasks (lm-eval)."""
    _print(fmt, pipeline.evaluate(build, adapter=adapter, model=model, device=device, out=out, limit=limit))


@main.command()
@click.argument("run", type=_PATH)
@click.option("--baseline", type=_PATH, default=None, help="verdict.json of the last release, to block regressions.")
@format_option()
def gate(run: Path, baseline: Path | None, fmt: str) -> None:
    """Turn RUN's scores into a verdict and reports; exit 0 pass, 1 fail, 3 incomplete."""
    result = pipeline.gate(run, baseline)
    _print(fmt, result)
    sys.exit(result.exit_code)


@main.command()
@click.argument("runs", nargs=-1, type=_PATH)
@click.option("--arm", type=click.Choice(["base", "prompted", "tuned"]), default="tuned", show_default=True,
              help="The arm compared across the runs.")
@format_option("markdown", "html")
@click.option("--out", type=_PATH, default=None, help="Write the comparison to this file (e.g. compare.html).")
@click.option("--allow-different-builds", is_flag=True, help="Compare runs of different builds on the items they "
              "share by id.")
@click.option("--on", type=click.Choice(["test", "dev"]), default=None, help="The scores compared: test (each run's "
              "eval/<arm>.json) or dev (sweep trials' eval/dev.json, the tuned arm). Default: dev when every RUN is "
              "a sweep trial (runs/sweep-…/trial-…/), else test.")
def compare(runs: tuple[Path, ...], arm: str, fmt: str, out: Path | None, allow_different_builds: bool,
            on: str | None) -> None:
    """Compare finished RUNS (two or more runs/<id>/, or a sweep's trial folders): accuracy per split with
    Wilson 95% intervals, pairwise exact McNemar tests (Holm-adjusted), and the training settings that differ.
    Reads only: every run is verified first (build, adapter sha256), nothing is scored."""
    from .comparison.command import compare_command

    click.echo(compare_command(runs, arm=arm, fmt=fmt, out=out, allow_different_builds=allow_different_builds,
                               on=on), file=_stdout())


@main.command()
@click.argument("spec", type=_PATH)
@click.option("--device", default=None)
@click.option("--runs", type=_PATH, default=Path("runs"), show_default=True)
@click.option("--baseline", type=_PATH, default=None, help="verdict.json of the last release.")
@format_option()
def run(spec: Path, device: str | None, runs: Path, baseline: Path | None, fmt: str) -> None:
    """The main job: compile → eval base & prompted → train → eval tuned → gate → report."""
    result = pipeline.run(spec, device=device, runs_root=runs, baseline=baseline)
    _print(fmt, result)
    sys.exit(result.exit_code)


@main.command("export")
@click.argument("source", type=_PATH, metavar="BUILD|RUN")
@click.argument("dest", type=_PATH)
@click.option("--merged", is_flag=True, help="A RUN: also write DEST/merged/, the base model with the adapter merged in.")
@click.option("--push", "repo", default=None, metavar="REPO", help="Then upload DEST to this Hugging Face repo (needs "
              "huggingface_hub, a network and a token).")
@format_option()
def export_(source: Path, dest: Path, merged: bool, repo: str | None, fmt: str) -> None:
    """Write BUILD's dataset or RUN's adapter into DEST (new or empty), a folder the Hub takes as it is."""
    from .export import export

    _print(fmt, export(source, dest, merged=merged, push=repo))


@main.command("sweep")
@click.argument("spec", type=_PATH)
@click.option("--grid", multiple=True, metavar="NAME=V1,V2", help="Values of a train: field to try (lr, epochs, "
              "lora.r, lora.target_modules=q_proj+v_proj, …); repeat for a grid. Replaces the spec's sweep: trials.")
@click.option("--device", default=None)
@click.option("--runs", type=_PATH, default=Path("runs"), show_default=True)
@click.option("--out", type=_PATH, default=None, help="Sweep folder (default: runs/sweep-<name>-<id>; the same "
              "command again resumes it).")
@click.option("--worker", default=None, metavar="I/N", help="Run only this worker's share of the trials (worker "
              "0/2: trials 1, 3, 5, …; 1/2: trials 2, 4, …) into the sweep folder, then stop: no choice, no exam. Under torchrun / accelerate launch each "
              "process is worker RANK/WORLD_SIZE by itself. Afterwards a plain `syllabus sweep SPEC` reads every "
              "finished trial, chooses and examines.")
@format_option()
def sweep_(spec: Path, grid: tuple[str, ...], device: str | None, runs: Path, out: Path | None, worker: str | None,
           fmt: str) -> None:
    """Train SPEC's recipes, score each on the dev split only, examine the best once on the test splits, gate it.
    A spec without splits.dev is swept on build/<name>-sweep, compiled with dev 0.2."""
    result = pipeline.sweep(spec, grid, runs_root=runs, out=out, device=device, worker=worker)
    _print(fmt, result)
    sys.exit(result.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
