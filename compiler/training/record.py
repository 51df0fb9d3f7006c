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
class GgufRef:
    """The GGUF file a base model's float weights were dequantized from (the model 'default')."""

    file: str  # its name, e.g. SmolLM2-135M-Instruct.Q4_1.gguf
    quantization: str  # e.g. Q4_1: the rounding the trained-on weights went through ("unknown" if unread)
    sha256: str


@dataclass(frozen=True)
class BaseRef:
    """Where the adapter's base model loads from elsewhere: what its adapter_config.json names
    (training/portable.py). A local folder loads only where that folder exists."""

    name_or_path: str  # a Hugging Face id, or an absolute local folder
    kind: Literal["hub", "local"]
    gguf: GgufRef | None = None  # weights dequantized from a GGUF (the hub id names its unquantized source)


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
    base: BaseRef | None = None  # None in a run.json written before the field existed
    finished_at: str | None = None
    error: str | None = None  # why a failed run ended
    outcome: Outcome | None = None  # a complete run's
    # (optimizer step, training loss) as the trainer logged them (train_log.jsonl), a complete
    # run's; () in a run.json written before the field existed
    loss_curve: tuple[tuple[int, float], ...] = ()

    def ended(self, status: Literal["interrupted", "failed"], error: str | None = None) -> "RunRecord":
        return replace(self, status=status, error=error, finished_at=now() if status == "failed" else None)

    def completed(self, outcome: Outcome, loss_curve: tuple[tuple[int, float], ...] = ()) -> "RunRecord":
        return replace(self, status="complete", finished_at=now(), outcome=outcome, loss_curve=tuple(loss_curve))

    @property
    def adapter_sha256(self) -> str | None:
        return self.outcome.adapter_sha256 if self.outcome is not None else None

    def to_json(self) -> dict:
        """→ run.json's document: the fields in order, the outcome's flattened in (None left out
        for what a run in that status does not have)."""
        doc = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("outcome", "loss_curve")}
        doc["model"], doc["settings"], doc["versions"] = asdict(self.model), dict(self.settings), dict(self.versions)
        doc["retain_general"] = asdict(self.retain_general) if self.retain_general else None
        doc["base"] = asdict(self.base) if self.base else None
        for key in ("finished_at", "error", "base"):
            if doc[key] is None:
                del doc[key]
        if self.loss_curve:  # [[step, loss], …]; left out while there is none, as earlier runs wrote it
            doc["loss_curve"] = [[step, loss] for step, loss in self.loss_curve]
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
        base=_base(_typed(doc, "base", dict, optional=True)),
        finished_at=_typed(doc, "finished_at", str, optional=True), error=_typed(doc, "error", str, optional=True),
        outcome=outcome, loss_curve=_loss_curve(doc),
    )


def _base(doc: Mapping | None) -> BaseRef | None:
    """run.json's optional "base" object → BaseRef; None when absent (an earlier run.json)."""
    if doc is None:
        return None
    kind = _typed(doc, "kind", str)
    if kind not in ("hub", "local"):
        raise ValueError(f"'base.kind' is {kind!r}, not 'hub' or 'local'")
    gguf = _typed(doc, "gguf", dict, optional=True)
    return BaseRef(_typed(doc, "name_or_path", str), kind, GgufRef(
        _typed(gguf, "file", str), _typed(gguf, "quantization", str), _typed(gguf, "sha256", str)) if gguf else None)


def _loss_curve(doc: Mapping) -> tuple[tuple[int, float], ...]:
    """run.json's optional "loss_curve" ([[step, loss], …]) → ((step, loss), …); () when absent
    (a run.json written before the field existed); ValueError naming a point of the wrong shape."""
    points = _typed(doc, "loss_curve", list, optional=True) or []
    out = []
    for k, point in enumerate(points):
        ok = (isinstance(point, list) and len(point) == 2 and isinstance(point[0], int)
              and isinstance(point[1], (int, float)) and not any(isinstance(v, bool) for v in point))
        if not ok:
            raise ValueError(f"'loss_curve' point {k} is {point!r}, not [step, loss]")
        out.append((point[0], float(point[1])))
    return tuple(out)


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
