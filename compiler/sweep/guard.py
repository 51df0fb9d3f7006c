"""The exam guard: while a sweep chooses, only the dev split may be scored.

Every scoring call of a sweep names its splits to the guard first. In the search phase
the guard allows `dev` and nothing else; `open_exam()` ends the search (once: a second
opening is refused, so the test splits are read once per sweep) and then allows the
test splits, for the chosen trial only. A refusal is a bug in syllabus, not the user's
input: ExamPeek exits 3 like any internal error, before a single test item is scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from ..errors import SyllabusError
from ..names import DEV_SPLIT


class ExamPeek(SyllabusError):
    """A sweep asked to score a split it may not read now (a test split while choosing)."""

    exit_code = 3


@dataclass
class ExamGuard:
    """Phase 'search' (dev only) → 'exam' (after the choice: the test splits, for one trial)."""

    phase: str = "search"
    examined: str | None = None  # the trial the exam is for
    reads: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (phase, splits) of every allowed call

    def allow(self, splits: Iterable[str]) -> None:
        """Splits about to be scored → None, or ExamPeek when this phase may not read one of them."""
        splits = tuple(splits)
        if self.phase == "search":
            barred = [s for s in splits if s != DEV_SPLIT]
            if barred:
                raise ExamPeek(f"the sweep asked to score {', '.join(barred)} while choosing a trial; only "
                               f"{DEV_SPLIT} may be read before the choice (a bug: nothing was scored)")
        self.reads.append((self.phase, splits))

    def open_exam(self, trial: str) -> None:
        """The choice is made: the test splits may now be read, for `trial` alone, once."""
        if self.phase != "search":
            raise ExamPeek(f"the exam was opened already (for {self.examined}); the test splits are read once "
                           "per sweep")
        self.phase, self.examined = "exam", trial

    @property
    def searched_dev_only(self) -> bool:
        """True when every read before the exam was of the dev split alone."""
        return all(set(splits) <= {DEV_SPLIT} for phase, splits in self.reads if phase == "search")
