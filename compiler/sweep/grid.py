"""The trials of a sweep: the spec's `sweep:` section, or `--grid NAME=V1,V2` flags → each
trial's full `train:` section, validated as the spec's own would be.

A grid's trials are its combinations in order, the first parameter varying slowest:
`--grid lr=1e-4,3e-4 --grid epochs=2,3` → (1e-4, 2), (1e-4, 3), (3e-4, 2), (3e-4, 3).
Every error is located (the spec's line, or the flag) and is exit 2.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Sequence

from pydantic import ValidationError

from ..errors import Problem, SpecError, UsageError
from ..records import stable_hash
from ..spec.loader import LoadedSpec
from ..spec.model import Sweep, Train
from ..spec.sweep_section import train_parameters
from ..spec.yamlio import field_name


@dataclass(frozen=True)
class Trial:
    """One recipe: what it changes (as written), and the whole train: section it trains with."""

    index: int  # 1-based, in the order the grid or list gives
    params: tuple[tuple[str, object], ...]  # (parameter, value as written), in the grid's order
    train: Train

    @property
    def key(self) -> str:
        """8 hex characters of the resolved train: section: the same recipe, the same key."""
        return stable_hash(json.dumps(self.train.model_dump(mode="json"), sort_keys=True))[:8]

    @property
    def folder(self) -> str:
        return f"trial-{self.index:02d}-{self.key}"

    @property
    def label(self) -> str:
        """'lr=0.0006 lora.r=8' (lists joined by '+', as --grid takes them)."""
        show = lambda v: "+".join(map(str, v)) if isinstance(v, list) else str(v)  # noqa: E731
        return " ".join(f"{name}={show(value)}" for name, value in self.params) or "(the spec's train:)"


def _scalar(text: str) -> object:
    """A --grid value → int, float, or the text itself ('1e-4' → 0.0001, '8' → 8, 'q_proj' stays)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_flags(flags: Sequence[str]) -> dict[str, list]:
    """['lr=1e-4,3e-4', 'lora.target_modules=q_proj+v_proj,gate_proj'] → {'lr': [0.0001, 0.0003],
    'lora.target_modules': [['q_proj', 'v_proj'], ['gate_proj']]}; UsageError naming a malformed flag."""
    lists = {name for name, default in train_parameters().items() if isinstance(default, list)}
    grid: dict[str, list] = {}
    for flag in flags:
        name, sep, values = flag.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--grid {flag!r}: write NAME=V1,V2 (e.g. --grid lr=1e-4,3e-4)")
        if name in grid:
            raise UsageError(f"--grid {name}: given twice; list all its values in one flag, comma-separated")
        parts = [v.strip() for v in values.split(",") if v.strip()]
        if not parts:
            raise UsageError(f"--grid {name}=: no values; give at least one (--grid {name}=V1,V2)")
        grid[name] = [[w for w in p.split("+") if w] if name in lists else _scalar(p) for p in parts]
    try:
        Sweep(grid=grid)  # parameter names and the trial bound, as the spec's section checks them
    except ValidationError as exc:
        raise UsageError("; ".join(f"--grid: {e['msg'].removeprefix('Value error, ')}"
                                   for e in exc.errors(include_url=False))) from None
    return grid


def _combinations(grid: dict[str, list]) -> list[tuple[tuple[str, object], ...]]:
    names = list(grid)
    return [tuple(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


def _apply(train: Train, params: tuple[tuple[str, object], ...]) -> dict:
    """The spec's train: section as a document, with each dotted parameter set."""
    doc = train.model_dump(mode="json")
    for name, value in params:
        *path, last = name.split(".")
        node = doc
        for part in path:
            node = node[part]
        node[last] = value
    return doc


def trials(loaded: LoadedSpec, flags: Sequence[str] = ()) -> tuple[Trial, ...]:
    """A loaded spec (+ --grid flags, which replace its sweep: grid or trials) → its trials.
    UsageError for bad flags or no trials at all; SpecError located at the spec's grid entry
    (or trial) whose value the train: section refuses (an lr of 0, a rank of 0, …)."""
    spec, from_flags = loaded.spec, bool(flags)
    if from_flags:
        combos = _combinations(parse_flags(flags))
        where = lambda i, name: ("--grid", name)  # noqa: E731
    elif spec.sweep is not None and (spec.sweep.grid or spec.sweep.trials):
        section = spec.sweep
        combos = _combinations(section.grid) if section.grid else [tuple(t.items()) for t in section.trials]
        where = (lambda i, name: ("sweep", "grid", name)) if section.grid else (lambda i, name: ("sweep", "trials", i, name))  # noqa: E731
    else:
        locate = loaded.locate or (lambda file, path: (str(loaded.path), 0, 0))
        path = ("sweep",) if spec.sweep is not None else ()
        file, line, col = locate(None, path)
        what = "the sweep: section lists no trials" if spec.sweep is not None else "the spec has no sweep: section"
        raise SpecError([Problem(file, line, col, field_name(path), f"nothing to try: {what}",
                                 "give `sweep: {grid: {lr: [0.0006, 0.0012]}}` in the spec, or "
                                 "`--grid lr=0.0006,0.0012` on the command line")])
    out, problems = [], []
    for i, params in enumerate(combos):
        try:
            out.append(Trial(i + 1, params, Train.model_validate(_apply(spec.train, params))))
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                name = ".".join(str(p) for p in err["loc"])
                param = next((n for n, _ in params if name == n or name.startswith(n + ".")), name)
                problems.append((where(i, param), f"{param}={err['input']!r}: {err['msg']}"))
    if problems and from_flags:
        raise UsageError("; ".join(f"--grid {msg}" for _, msg in dict.fromkeys(problems)))
    if problems:
        locate = loaded.locate or (lambda file, path: (str(loaded.path), 0, 0))
        found = []
        for path, msg in dict.fromkeys(problems):
            file, line, col = locate(None, path)
            found.append(Problem(file, line, col, field_name(path), msg,
                                 "give values the spec's train: section takes (`syllabus schema` lists the bounds)"))
        raise SpecError(found)
    return tuple(out)
