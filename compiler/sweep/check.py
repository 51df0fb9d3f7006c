"""The sweep: section at validate time: a loaded spec → the same spec, or SpecError (located) for
trials that are no valid train: section or an objective naming a metric the spec does not score.
Apart from run.py, so `syllabus validate` (pipeline.validate) reads it without the sweep's chain,
which itself calls the pipeline's verbs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .grid import trials
from .objective import resolve

if TYPE_CHECKING:  # pragma: no cover
    from ..spec.loader import LoadedSpec


def check_sweep(loaded: "LoadedSpec") -> "LoadedSpec":
    """A loaded spec → the same, once its sweep: section's trials (each a valid train: section) and
    objective (metrics the spec scores) pass; SpecError, located, otherwise. No sweep: section: as is."""
    if loaded.spec.sweep is not None and (loaded.spec.sweep.grid or loaded.spec.sweep.trials):
        trials(loaded)
    if loaded.spec.sweep is not None:
        resolve(loaded.spec.sweep.objective, loaded.spec, loaded.locate, str(loaded.path))
    return loaded
