"""run.json: the record of one training run. Training writes it; `--resume`, `eval --adapter`
and the gate read it. This module is its one codec: `RunRecord` (frozen) ↔ run.json.

    started (status "running") ─┬─ completed(outcome)  → "complete" (+ what the run did, the adapter's sha256)
                                ├─ ended("interrupted") → resumable from its last checkpoint
                                └─ ended("failed", why) → the error that ended it

`read_record(path)` → RunRecord, or UsageError (exit 2) naming the file and what is wrong;
`write_record` replaces the file atomically. The JSON keys are flat, as earlier runs wrote them.
No torch here: the gate reads run.json without loading a model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, Mapping, get_args

from ..errors import UsageError
from ..integrity import read_json, write_json

Status = Literal["running", "interrupted", "failed", "complete"]
STATUSES: tuple[str, ...] = get_args(Status)
FILE = "run.json"


def now() -> str:
    """The time a record states: UTC, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ModelRef:
    """The base model a run trained: as the user named it, its weights' sha256, dtype, precision."""

    name: str
    sha256: str
    dtype: str
    precision: str


@dataclass(frozen=True)
class RetainRef:
    """General retain lessons in the run: how many, and which model wrote their replies."""

    lessons: int
    written_by: str | None


@dataclass(frozen=True)
class Outcome:
    """What a complete run did."""

    examples: int
    retain_lessons: int
    steps: int
    epochs: float
    wall_s: float
    tokens: int
    answer_tokens: int
    tokens_per_s: float
    answer_tokens_per_s: float
    first_loss: float
    final_loss: float
    adapter: str  # the adapter folder, relative to the run folder
    adapter_sha256: str  # integrity.adapter_sha256 of that folder: what the gate recomputes


@dataclass(frozen=True)
class RunRecord:
    status: Status
    run_id: str
    build_sha256: str  # of the build's manifest.json
    build_path: str | None  # absolute, so the run folder can move
    model: ModelRef
    device: str
    settings: Mapping[str, object]  # training.lora.TrainSettings.to_json(): compared key by key on --resume
    versions: Mapping[str, str]
    started_at: str
    resumed_from_step: int | None = None
    retain_general: RetainRef | None = None
    finished_at: str | None = None
    error: str | None = None  # why a failed run ended
    outcome: Outcome | None = None  # a complete run's

    def ended(self, status: Literal["interrupted", "failed"], error: str | None = None) -> "RunRecord":
        return replace(self, status=status, error=error, finished_at=now() if status == "failed" else None)

    def completed(self, outcome: Outcome) -> "RunRecord":
        return replace(self, status="complete", finished_at=now(), outcome=outcome)

    @property
    def adapter_sha256(self) -> str | None:
        return self.outcome.adapter_sha256 if self.outcome is not None else None

    def to_json(self) -> dict:
        """→ run.json's document: the fields in order, the outcome's flattened in (None left out
        for what a run in that status does not have)."""
        doc = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "outcome"}
        doc["model"], doc["settings"], doc["versions"] = asdict(self.model), dict(self.settings), dict(self.versions)
        doc["retain_general"] = asdict(self.retain_general) if self.retain_general else None
        for key in ("finished_at", "error"):
            if doc[key] is None:
                del doc[key]
        if self.outcome is not None:
            doc.update(asdict(self.outcome))
        return doc


def write_record(record: RunRecord, run_dir: Path) -> None:
    """RunRecord → run_dir/run.json, replaced whole (a reader never sees half a record)."""
    write_json(Path(run_dir) / FILE, record.to_json())


def _typed(doc: Mapping, name: str, kind: type | tuple[type, ...], *, optional: bool = False):
    value = doc.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) and kind in (int, float, (int, float)):  # JSON true is not a number
        raise ValueError(f"'{name}' is {value!r}, not a number")
    if not isinstance(value, kind):
        raise ValueError(f"'{name}' is {value!r}" if name in doc else f"no '{name}'")
    return value


def _from_json(doc: Mapping) -> RunRecord:
    status = _typed(doc, "status", str)
    if status not in STATUSES:
        raise ValueError(f"'status' is {status!r}, not one of {', '.join(STATUSES)}")
    model = _typed(doc, "model", dict)
    retain = _typed(doc, "retain_general", dict, optional=True)
    outcome = None
    if status == "complete":
        number = (int, float)
        outcome = Outcome(
            examples=_typed(doc, "examples", int), retain_lessons=_typed(doc, "retain_lessons", int),
            steps=_typed(doc, "steps", int), epochs=_typed(doc, "epochs", number), wall_s=_typed(doc, "wall_s", number),
            tokens=_typed(doc, "tokens", int), answer_tokens=_typed(doc, "answer_tokens", int),
            tokens_per_s=_typed(doc, "tokens_per_s", number),
            answer_tokens_per_s=_typed(doc, "answer_tokens_per_s", number),
            first_loss=_typed(doc, "first_loss", number), final_loss=_typed(doc, "final_loss", number),
            adapter=_typed(doc, "adapter", str), adapter_sha256=str(doc.get("adapter_sha256")),
        )
    return RunRecord(
        status=status, run_id=_typed(doc, "run_id", str), build_sha256=_typed(doc, "build_sha256", str),
        build_path=_typed(doc, "build_path", str, optional=True),
        model=ModelRef(_typed(model, "name", str), _typed(model, "sha256", str), _typed(model, "dtype", str),
                       str(model.get("precision", model.get("dtype")))),
        device=_typed(doc, "device", str), settings=_typed(doc, "settings", dict),
        versions=_typed(doc, "versions", dict), started_at=_typed(doc, "started_at", str),
        resumed_from_step=_typed(doc, "resumed_from_step", int, optional=True),
        retain_general=RetainRef(_typed(retain, "lessons", int), _typed(retain, "written_by", str, optional=True))
        if retain else None,
        finished_at=_typed(doc, "finished_at", str, optional=True), error=_typed(doc, "error", str, optional=True),
        outcome=outcome,
    )


def read_record(run_dir: Path, hint: str = "") -> RunRecord:
    """run_dir → its RunRecord; UsageError (exit 2) naming run.json and what is wrong with it:
    missing, not JSON, not an object, a field missing or of the wrong type."""
    path = Path(run_dir) / FILE
    if not path.exists():
        raise UsageError(f"{Path(run_dir)}: not a run folder (no {FILE})" + (f"; {hint}" if hint else ""))
    return parse_record(read_json(path, hint), path, hint)


def parse_record(doc: Mapping, path: Path, hint: str = "") -> RunRecord:
    """run.json's parsed document (read from `path`) → RunRecord; UsageError (exit 2) naming a
    field that is missing or of the wrong type."""
    try:
        return _from_json(doc)
    except ValueError as exc:
        raise UsageError(f"{path}: not a run record as `syllabus train` writes it ({exc})"
                         + (f"; {hint}" if hint else "")) from None
