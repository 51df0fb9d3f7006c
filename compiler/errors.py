"""Errors meant for users.

Every error syllabus raises on purpose derives from `SyllabusError`; the CLI turns
it into a clean message and an exit code, never a traceback. `SpecError` carries
*all* problems found in a spec at once (collect-all-then-raise), each located as
`file:line:col: field: message` with a hint on how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass


class SyllabusError(Exception):
    """Root of every error that is the user's to fix. `exit_code` is what the CLI exits with."""

    exit_code = 2

    def user_message(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Problem:
    """One located problem in a user's file. line/col are 1-based; 0 means unknown."""

    file: str
    line: int
    col: int
    field: str
    message: str
    hint: str = ""
    severity: str = "error"  # "error" | "warning"

    def render(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        text = f"{where}:{field} {self.message}"
        if self.severity == "warning":
            text = f"{where}: warning:{field} {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def to_json(self) -> dict:
        """→ {file, line, col, field, message, hint, severity} (docs/cli-json.md)."""
        return {"file": self.file, "line": self.line, "col": self.col, "field": self.field,
                "message": self.message, "hint": self.hint, "severity": self.severity}


class SpecError(SyllabusError):
    """A spec (or template pack) has one or more errors; `problems` lists them all."""

    exit_code = 2

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.col, p.field, p.message))
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} found"
        super().__init__(head + ":\n" + "\n".join(p.render() for p in self.problems))


class UsageError(SyllabusError):
    """Bad command-line arguments or a path that is not what the command needs."""

    exit_code = 2


class StorageError(SyllabusError):
    """A file syllabus cannot write or read (disk full, permission denied, a read-only file
    system): the machine's to fix, so exit 2 like bad input, naming the path."""

    exit_code = 2

    @classmethod
    def from_os(cls, exc: OSError) -> "StorageError":
        where = f"{exc.filename}: " if exc.filename else ""
        return cls(f"{where}{exc.strerror or exc}; check the free disk space and the permissions there")


class ModelError(SyllabusError):
    """A model that cannot be found or loaded; the message says how to get it."""

    exit_code = 2


class BuildError(SyllabusError):
    """A compile that cannot produce a sound build (e.g. the leakage audit refused it)."""

    exit_code = 1


class EvalIncomplete(SyllabusError):
    """Evaluation missing, NaN or unfinished: the gate fails closed with exit 3."""

    exit_code = 3


class TrainingInterrupted(SyllabusError):
    """SIGTERM / Ctrl-C during training; the run can be resumed."""

    exit_code = 130


class SweepInterrupted(SyllabusError):
    """Ctrl-C / SIGTERM during a sweep's trial: the finished trials are kept; the same command continues."""

    exit_code = 130


class DevScoringFailed(SyllabusError):
    """lm-eval could not score the dev split: the trial cannot be ranked (exit 3, like an incomplete evaluation)."""

    exit_code = 3


class PushFailed(SyllabusError):
    """The export was written, but the upload to the Hub did not happen: the job is incomplete."""

    exit_code = 3

