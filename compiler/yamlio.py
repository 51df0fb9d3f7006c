"""Placeholder: safe YAML + pydantic with located errors (to be replaced by the loader work)."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import Problem, SpecError

M = TypeVar("M", bound=BaseModel)


def parse_model(path: Path, model: type[M]) -> M:
    """YAML file → validated model, or SpecError listing every problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError([Problem(str(path), 0, 0, "", str(exc))])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SpecError(
            [Problem(str(path), 0, 0, ".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]
        )
