"""The `syllabus` command: parses arguments, calls `pipeline`, turns errors into messages.

Exit codes: 0 pass · 1 a threshold missed / refused build · 2 bad input ·
3 evaluation incomplete (or an internal error). No traceback reaches the user unless
SYLLABUS_DEBUG=1.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
from pathlib import Path

import click

from . import __version__, pipeline
from .errors import StorageError, SyllabusError

_PATH = click.Path(path_type=Path)


def _fail(exc: SyllabusError) -> None:
    click.echo(f"error: {exc.user_message()}", err=True)
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
            _fail(exc)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own: it prints them
        except Exception as exc:  # the last-resort net: a bug, or a failure no stage named
            if os.environ.get("SYLLABUS_DEBUG") == "1":
                raise
            if isinstance(exc, OSError) and exc.errno is not None:  # disk full, permission denied …
                _fail(StorageError.from_os(exc))
            click.echo(f"error: internal error: {type(exc).__name__}: {exc}\n"
                       "    hint: set SYLLABUS_DEBUG=1 to see the traceback", err=True)
            sys.exit(3)  # like an incomplete evaluation: a CI cannot trust a job that crashed
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="syllabus")
def main() -> None:
    """syllabus: compile a rule spec into lessons and an exam, train, grade, gate."""


@main.command()
@click.argument("spec", type=_PATH)
def validate(spec: Path) -> None:
    """Check SPEC; print located errors (exit 2) and warnings, or nothing."""
    for warning in pipeline.validate(spec):
        click.echo(warning.render(), err=True)


@main.command("compile")
@click.argument("spec", type=_PATH)
@click.option("--out", type=_PATH, default=None, help="Build folder (default: build/<name>).")
@click.option("--force", is_flag=True, help="Replace --out even when it is not a syllabus build (or holds files "
              "the build did not write).")
def compile_(spec: Path, out: Path | None, force: bool) -> None:
    """Compile SPEC into build/<name>/ (train + held-out splits, lm-eval tasks, manifest)."""
    result = pipeline.compile_spec(spec, out, echo=lambda s: click.echo(s, err=True), force=force)
    click.echo(result.summary())


@main.command()
@click.argument("build", type=_PATH)
@click.option("--examples", "n_examples", type=int, default=2, show_default=True, help="Examples shown per split.")
def stats(build: Path, n_examples: int) -> None:
    """Counts per split / rule / form of BUILD, with a few examples each."""
    click.echo(pipeline.stats(build, n_examples))


@main.command()
def schema() -> None:
    """Print the spec's JSON Schema (for editor completion)."""
    from .spec.model import spec_json_schema

    click.echo(json.dumps(spec_json_schema(), indent=2, sort_keys=True))


@main.command()
@click.argument("old", type=_PATH)
@click.argument("new", type=_PATH, required=False)
@click.option("--against", "rev", default=None, help="Diff a spec against itself at this git revision.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--limit", type=int, default=20, show_default=True, help="Details shown per group.")
@click.option("--fail-on", type=click.Choice(["changes", "leaks"]), default=None, help="Exit 1 when triggered.")
@click.option("--color/--no-color", default=None, help="Colour (default: when writing to a terminal).")
def diff(old: Path, new: Path | None, rev: str | None, fmt: str, limit: int, fail_on: str | None, color: bool | None) -> None:
    """Diff two builds (OLD NEW), or a spec against a git revision (SPEC --against REV)."""
    use_color = sys.stdout.isatty() if color is None else color
    result = pipeline.diff(old, new, rev, fmt, limit, fail_on, use_color)
    click.echo(result.text)
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
def train(build: Path, model, epochs, lr, rank, batch_size, device, resume, runs) -> None:
    """LoRA fine-tune on BUILD's train split → runs/<id>/adapter."""
    overrides = pipeline.TrainOverrides(model=model, epochs=epochs, lr=lr, rank=rank, batch_size=batch_size, device=device)
    run_dir = pipeline.train(build, overrides, resume=resume, runs_root=runs)
    click.echo(str(run_dir))


@main.command("eval")
@click.argument("build", type=_PATH)
@click.option("--adapter", type=_PATH, default=None, help="A PEFT adapter folder (runs/<id>/adapter).")
@click.option("--model", default=None, help="Base model (default: the one the adapter was trained from).")
@click.option("--device", default=None)
@click.option("--out", type=_PATH, default=None, help="Run folder to write eval/ into (default: the adapter's run).")
@click.option("--limit", type=int, default=None, help="Score at most N items per split (a quick look).")
def eval_(build: Path, adapter: Path | None, model: str | None, device: str | None, out: Path | None, limit: int | None) -> None:
    """Score base, prompted and tuned arms on BUILD's held-out tasks (lm-eval)."""
    run_dir = pipeline.evaluate(build, adapter=adapter, model=model, device=device, out=out, limit=limit)
    click.echo(str(run_dir))


@main.command()
@click.argument("run", type=_PATH)
@click.option("--baseline", type=_PATH, default=None, help="verdict.json of the last release, to block regressions.")
def gate(run: Path, baseline: Path | None) -> None:
    """Turn RUN's scores into a verdict and reports; exit 0 pass, 1 fail, 3 incomplete."""
    result = pipeline.gate(run, baseline)
    click.echo(result.render())
    sys.exit(result.exit_code)


@main.command()
@click.argument("spec", type=_PATH)
@click.option("--device", default=None)
@click.option("--runs", type=_PATH, default=Path("runs"), show_default=True)
@click.option("--baseline", type=_PATH, default=None, help="verdict.json of the last release.")
def run(spec: Path, device: str | None, runs: Path, baseline: Path | None) -> None:
    """The main job: compile → eval base & prompted → train → eval tuned → gate → report."""
    result = pipeline.run(spec, device=device, runs_root=runs, baseline=baseline)
    click.echo(result.render())
    sys.exit(result.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
