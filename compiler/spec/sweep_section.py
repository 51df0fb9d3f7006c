"""The spec's `sweep:` section: the recipes `syllabus sweep` tries, and how it picks one.

```yaml
sweep:
  grid: {lr: [0.0006, 0.0012], epochs: [1, 1.25]}    # every combination: 4 trials
  # or trials: [{lr: 0.0006}, {lr: 0.0012, lora.r: 8}]
  objective: {maximize: dev.gen, at_least: {dev.mc.neighbour: 0.8}}
```

A parameter is the dotted name of a field of the spec's `train:` section (`lr`, `epochs`,
`lora.r`, `lora.target_modules`, `lora.layers.start`, …) except `model`: a sweep loads one
model. A metric is what a trial is scored on, the dev split only (the test splits are read
once, by the chosen trial): `dev.<reading>` (accuracy), `dev.<reading>.rule` /
`.neighbour` (in scope / out of scope), `train.loss` (the last tenth of training's loss).
Re-exported from model.py, where the rest of the spec language lives.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field, field_validator, model_validator

from ..names import DEV_SPLIT, READINGS
from .fields import Strict

# Most trials one sweep may ask for: each trains a model (minutes on a CPU); work is bounded
# before it starts, like limits.max_examples.
MAX_TRIALS = 100
# What a trial is scored on: dev accuracy per reading, overall and per scope, and the loss.
METRICS: tuple[str, ...] = (
    *(f"{DEV_SPLIT}.{r}" for r in READINGS),
    *(f"{DEV_SPLIT}.{r}.{scope}" for r in READINGS for scope in ("rule", "neighbour")),
    "train.loss",
)
# Train fields a sweep may not vary: one sweep, one loaded model.
FIXED = frozenset({"model"})

# int before float: `lora.r: [8, 16]` stays a list of ints (smart-mode unions keep the exact type).
ParamValue = Union[int, float, str, list[str]]


def train_parameters() -> dict[str, object]:
    """The dotted names of the `train:` fields a sweep may vary → each one's default, e.g.
    {'lr': 0.0002, 'lora.r': 16, 'lora.layers.start': 0.0, …} (nested sections flattened)."""
    from .model import Train  # model.py imports this module: Train exists by the time this runs

    out: dict[str, object] = {}

    def walk(model, prefix: str) -> None:
        for name, info in model.model_fields.items():
            sub = info.annotation
            if isinstance(sub, type) and issubclass(sub, Strict):
                walk(sub, f"{prefix}{name}.")
            elif f"{prefix}{name}" not in FIXED:
                out[f"{prefix}{name}"] = info.get_default(call_default_factory=True)

    walk(Train, "")
    return out


def check_parameter(name: str) -> str:
    """A parameter name → itself, or ValueError naming the ones there are."""
    known = train_parameters()
    if name not in known:
        why = "a sweep loads one model" if name in FIXED else "not a field of the spec's train: section"
        raise ValueError(f"{name!r}: {why}; parameters: {', '.join(known)}")
    return name


def check_metric(name: str) -> str:
    """A metric name → itself, or ValueError naming the ones there are."""
    if name not in METRICS:
        raise ValueError(f"{name!r} is not a metric; metrics: {', '.join(METRICS)} (the dev split only: a sweep "
                         "never reads a test split while it chooses)")
    return name


Metric = Annotated[str, Field(description="dev.mc, dev.gen, dev.<reading>.rule / .neighbour, train.loss")]


class Objective(Strict):
    """How the sweep picks a trial: the best value of one metric among the trials that meet the
    bounds; a tie goes to the trial listed first."""

    maximize: Metric | None = Field(None, description="Metric to maximize; default: dev.<the spec's primary reading>.")
    minimize: Metric | None = Field(None, description="Metric to minimize (instead of maximize), e.g. train.loss.")
    at_least: dict[Metric, float] = Field(default_factory=dict, description="metric → the least a chosen trial may score.")
    at_most: dict[Metric, float] = Field(default_factory=dict, description="metric → the most a chosen trial may score.")

    @field_validator("maximize", "minimize")
    @classmethod
    def _metric(cls, value: str | None) -> str | None:
        return None if value is None else check_metric(value)

    @field_validator("at_least", "at_most")
    @classmethod
    def _metrics(cls, value: dict[str, float]) -> dict[str, float]:
        for name in value:
            check_metric(name)
        return value

    @model_validator(mode="after")
    def _one_direction(self) -> "Objective":
        if self.maximize is not None and self.minimize is not None:
            raise ValueError("give maximize or minimize, not both")
        return self


class Sweep(Strict):
    """Recipes to try: a `grid` (every combination, the first parameter varying slowest) or a
    list of `trials`; `syllabus sweep --grid NAME=V1,V2` replaces both."""

    grid: dict[str, list[ParamValue]] = Field(
        default_factory=dict, description="parameter → values to try; every combination is a trial."
    )
    trials: list[dict[str, ParamValue]] = Field(
        default_factory=list, description="Trials as written: each maps parameters to one value."
    )
    objective: Objective = Field(default_factory=Objective)

    @field_validator("grid")
    @classmethod
    def _grid(cls, value: dict[str, list]) -> dict[str, list]:
        for name, values in value.items():
            check_parameter(name)
            if not values:
                raise ValueError(f"{name}: no values; give at least one")
        return value

    @field_validator("trials")
    @classmethod
    def _trials(cls, value: list[dict]) -> list[dict]:
        for trial in value:
            for name in trial:
                check_parameter(name)
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> "Sweep":
        if self.grid and self.trials:
            raise ValueError("give a grid or a list of trials, not both")
        n = 1
        for values in self.grid.values():
            n *= len(values)
        if max(n if self.grid else 0, len(self.trials)) > MAX_TRIALS:
            raise ValueError(f"{max(n, len(self.trials))} trials; a sweep runs at most {MAX_TRIALS}")
        return self
