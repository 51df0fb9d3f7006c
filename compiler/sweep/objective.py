"""Which trial wins: a trial's dev scores → its metrics; the metrics of every trial + the
spec's objective → the chosen one.

Metrics (spec/sweep_section.METRICS): `dev.<reading>` is the accuracy on the dev split,
`dev.<reading>.rule` / `.neighbour` the same on its in-scope / out-of-scope items,
`train.loss` training's final loss. The chosen trial is the best by the objective's
metric among those within its bounds (`at_least`, `at_most`); a tie goes to the trial
listed first, so the same scores always choose the same trial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from ..errors import Problem, SpecError, SyllabusError
from ..names import DEV_SPLIT
from ..spec.model import Objective, Spec
from ..spec.yamlio import field_name

# Fewest dev items a sweep ranks trials on: at 20 items one item moves the accuracy by
# 0.05, at 10 by 0.10, beyond the gaps between the recipes a sweep compares.
MIN_DEV_ITEMS = 20


class NoEligibleTrial(SyllabusError):
    """Every trial misses a bound of the objective: nothing to examine (exit 1, a threshold missed)."""

    exit_code = 1


@dataclass(frozen=True)
class Goal:
    """The objective, resolved: one metric, its direction, and the bounds."""

    metric: str
    maximize: bool
    at_least: Mapping[str, float]
    at_most: Mapping[str, float]

    def describe(self) -> str:
        bounds = [f"{m} >= {v:g}" for m, v in self.at_least.items()] + [f"{m} <= {v:g}" for m, v in self.at_most.items()]
        return f"{'maximize' if self.maximize else 'minimize'} {self.metric}" + (
            f" subject to {', '.join(bounds)}" if bounds else "")


def resolve(objective: Objective | None, spec: Spec, locate: Callable | None = None,
            spec_file: str = "spec") -> Goal:
    """The spec's objective (None: the default) → Goal: maximize dev.<primary reading> by default.
    SpecError, located at the objective's field, for a metric of a reading the spec's
    `eval.readings` does not score (its dev items would have no such score)."""
    objective = objective or Objective()
    metric = objective.maximize or objective.minimize or f"{DEV_SPLIT}.{spec.primary_reading()}"
    named = [(("maximize",), objective.maximize), (("minimize",), objective.minimize)]
    named += [(("at_least", m), m) for m in objective.at_least] + [(("at_most", m), m) for m in objective.at_most]
    problems = []
    for path, name in named:
        if name is None or not name.startswith(DEV_SPLIT + "."):
            continue
        reading = name.split(".")[1]
        if reading not in spec.eval.readings:
            full = ("sweep", "objective", *path)
            file, line, col = (locate or (lambda f, p: (spec_file, 0, 0)))(None, full)
            problems.append(Problem(file, line, col, field_name(full),
                                    f"{name}: the spec's eval.readings ({', '.join(spec.eval.readings)}) do not score "
                                    f"the {reading} reading, so no trial has this metric",
                                    f"add {reading} to eval.readings, or name a metric of "
                                    f"{', '.join(spec.eval.readings)}"))
    if problems:
        raise SpecError(problems)
    return Goal(metric, objective.minimize is None, dict(objective.at_least), dict(objective.at_most))


def metrics_of(accuracy: Mapping[str, Mapping[str, bool]], scopes: Mapping[str, str], loss: float) -> dict[str, float]:
    """Per reading, {dev item id: answered right} + each dev item's scope + the final train loss
    → {'dev.gen': 0.9, 'dev.gen.rule': 1.0, 'dev.gen.neighbour': 0.85, …, 'train.loss': 0.21}.
    A scope with no items has no metric (left out: records stay standard JSON, without NaN)."""
    out: dict[str, float] = {}
    for reading, correct in accuracy.items():
        for name, values in ((f"{DEV_SPLIT}.{reading}", list(correct.values())),
                             *((f"{DEV_SPLIT}.{reading}.{scope}", [ok for i, ok in correct.items() if scopes.get(i) == scope])
                               for scope in ("rule", "neighbour"))):
            if values:
                out[name] = sum(values) / len(values)
    if math.isfinite(loss):
        out["train.loss"] = float(loss)
    return out


def misses(goal: Goal, metrics: Mapping[str, float]) -> list[str]:
    """A trial's metrics → why it cannot be chosen ([] when it can): a metric it lacks, a bound it misses."""
    out = []
    for name in (goal.metric, *goal.at_least, *goal.at_most):
        if math.isnan(metrics.get(name, math.nan)):
            out.append(f"no {name}")
    out += [f"{m} {metrics[m]:.3f} < {v:g}" for m, v in goal.at_least.items() if metrics.get(m, math.nan) < v]
    out += [f"{m} {metrics[m]:.3f} > {v:g}" for m, v in goal.at_most.items() if metrics.get(m, math.nan) > v]
    return out


def choose(goal: Goal, trials: Sequence[Mapping[str, float]]) -> int:
    """Every trial's metrics, in trial order → the index (0-based) of the chosen one.
    NoEligibleTrial when every trial misses a bound (each one's reason in the message)."""
    eligible = [i for i, m in enumerate(trials) if not misses(goal, m)]
    if not eligible:
        why = "; ".join(f"trial {i + 1}: {', '.join(misses(goal, m))}" for i, m in enumerate(trials))
        raise NoEligibleTrial(f"no trial meets the objective ({goal.describe()}): {why}; loosen the bounds "
                              "(sweep.objective) or try other recipes")
    sign = 1.0 if goal.maximize else -1.0
    # max() keeps the first of equal values: a tie goes to the trial listed first
    return max(eligible, key=lambda i: sign * trials[i][goal.metric])


def check_dev_size(n_dev: int, locate: Callable | None = None, spec_file: str = "spec") -> None:
    """The build's dev item count → None, or SpecError located at splits.dev when it is too
    small to rank trials on (none at all: no dev split; fewer than MIN_DEV_ITEMS)."""
    if n_dev >= MIN_DEV_ITEMS:
        return
    path = ("splits", "dev")
    file, line, col = (locate or (lambda f, p: (spec_file, 0, 0)))(None, path)
    if n_dev == 0:
        message = "the build has no dev split, and a sweep scores trials on dev only (never on a test split)"
        hint = "set splits.dev to a share of the train-side template families, e.g. `splits: {dev: 0.2}`"
    else:
        message = (f"the dev split has {n_dev} items, too few to rank trials: a sweep needs at least "
                   f"{MIN_DEV_ITEMS} (at {MIN_DEV_ITEMS} items one item moves the accuracy by "
                   f"{1 / MIN_DEV_ITEMS:.2f})")
        hint = "raise splits.dev, or add template families or subjects"
    raise SpecError([Problem(file, line, col, field_name(path), message, hint)])
