"""How much syllabus says on stderr, whether it draws progress bars and colours: one home for
the decision, set once per command by the CLI (`configured`) and asked by every stage.

- `say(line)`: a progress line ("[3/6] train: …", "expanded 1,234 questions …"); hidden by -q.
- `warn(line)`: a `warning:` line about the user's input or a result; shown even under -q.
- `detail(line)`: debug-ish detail; shown only under -v.
- `show_bars()`: draw a tqdm bar? Only when stderr is a terminal, and neither -q nor --no-progress.
- `use_color(stream, flag)`: colour? An explicit --color/--no-color wins; else a terminal and no
  NO_COLOR (https://no-color.org: any non-empty value turns colour off).

Library noise — Python warnings, the transformers / peft / datasets / huggingface_hub /
accelerate / lm-eval loggers, and those libraries' own tqdm bars — is off unless -v. Nothing
heavy is imported here (the CLI imports this module): a library not yet imported is told by the
environment variables it reads when it loads; one already imported (a test process, the Python
API) by its own switch, turned back on when the command ends.

Outside `configured` (the Python API) the defaults hold: every line is said, bars are drawn on a
terminal, and library logging is left as the caller set it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from dataclasses import dataclass
from typing import Iterator, TextIO

QUIET, NORMAL, VERBOSE = -1, 0, 1

# loggers of the libraries a run loads; their WARNING lines (deprecations, "generation flags are
# not valid", lm-eval's task notes) are what floods a CI log
LIBRARY_LOGGERS = ("transformers", "peft", "datasets", "huggingface_hub", "accelerate", "lm_eval", "torch", "filelock")
# read by those libraries when they are imported; a value the user set wins
_QUIET_ENV = {
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "DATASETS_VERBOSITY": "error",
}
_NO_BARS_ENV = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}


@dataclass(frozen=True)
class Settings:
    """What the command line asked for: verbosity (QUIET, NORMAL, VERBOSE) and whether bars may show."""

    verbosity: int = NORMAL
    bars: bool = True


_settings = Settings()


def settings() -> Settings:
    return _settings


def quiet() -> bool:
    return _settings.verbosity <= QUIET


def verbose() -> bool:
    return _settings.verbosity >= VERBOSE


def show_bars(stream: TextIO | None = None) -> bool:
    """→ draw a progress bar on `stream` (stderr)? A terminal only, never under -q or --no-progress:
    a bar redrawn into a CI log is thousands of lines."""
    stream = stream if stream is not None else sys.stderr
    return _settings.bars and not quiet() and _isatty(stream)


def use_color(stream: TextIO | None = None, flag: bool | None = None) -> bool:
    """→ colour the text written to `stream` (stdout)? `flag` (--color / --no-color) wins; else a
    terminal, unless NO_COLOR is set to anything but ''."""
    if flag is not None:
        return flag
    return not os.environ.get("NO_COLOR") and _isatty(stream if stream is not None else sys.stdout)


def say(line: str) -> None:
    """A progress line on stderr, unless -q."""
    if not quiet():
        print(line, file=sys.stderr, flush=True)


def warn(line: str) -> None:
    """A warning line on stderr, always: -q hides progress, not problems."""
    print(line, file=sys.stderr, flush=True)


def detail(line: str) -> None:
    """Debug-ish detail on stderr, only under -v."""
    if verbose():
        print(line, file=sys.stderr, flush=True)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


@contextlib.contextmanager
def configured(verbosity: int = NORMAL, bars: bool = True) -> Iterator[Settings]:
    """(verbosity, bars allowed) → these settings for the duration of the block, library noise
    silenced unless VERBOSE; everything it changed is put back on exit."""
    global _settings
    previous = _settings
    _settings = Settings(verbosity, bars)
    with contextlib.ExitStack() as stack:
        if verbosity >= VERBOSE:
            stack.enter_context(_own_debug_lines())
        else:
            stack.enter_context(_libraries_quiet())
        if not (verbosity >= VERBOSE and show_bars()):
            stack.enter_context(_library_bars_off())
        try:
            yield _settings
        finally:
            _settings = previous


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    """Environment variables set for a while (a value the user set is kept), then restored."""
    added = [k for k in values if k not in os.environ]
    for k in added:
        os.environ[k] = values[k]
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


@contextlib.contextmanager
def _libraries_quiet() -> Iterator[None]:
    """Python warnings ignored, library loggers at ERROR (and told so by their env variables)."""
    levels = {name: logging.getLogger(name).level for name in LIBRARY_LOGGERS}
    with warnings.catch_warnings(), _env(_QUIET_ENV):
        warnings.simplefilter("ignore")
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def _own_debug_lines() -> Iterator[None]:
    """-v: syllabus's own debug log lines (the traceback behind an incomplete arm …) on stderr."""
    logger = logging.getLogger("compiler")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@contextlib.contextmanager
def _library_bars_off() -> Iterator[None]:
    """The bars of huggingface_hub, datasets and transformers off: by env for a library imported
    later (it reads them once, at import), by its switch for one already imported."""
    undo = []
    hub = sys.modules.get("huggingface_hub.utils")
    if hub is not None and not hub.are_progress_bars_disabled():
        hub.disable_progress_bars()
        undo.append(hub.enable_progress_bars)
    data = sys.modules.get("datasets.utils.tqdm")
    if data is not None and not data.are_progress_bars_disabled():
        data.disable_progress_bars()
        undo.append(data.enable_progress_bars)
    tf = sys.modules.get("transformers.utils.logging")
    if tf is not None and tf.is_progress_bar_enabled():
        tf.disable_progress_bar()
        undo.append(tf.enable_progress_bar)
    try:
        with _env(_NO_BARS_ENV):
            yield
    finally:
        for turn_on in undo:
            turn_on()
