"""The only writer of builds: data files, lm-eval tasks, leakage report, manifest.

Writes go to a temporary sibling folder that is renamed into place at the end, so a
killed compile leaves the old build or none, never half of one. Only what syllabus
wrote is ever replaced or removed: see ownership.py (check_out, remove_stale_temps). Every file is
written with fixed key order and no timestamps: the same spec + seed gives a
byte-identical build in any process, whatever PYTHONHASHSEED is.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from importlib.metadata import version
from operator import attrgetter
from pathlib import Path
from typing import Sequence

import pyarrow.parquet as pq

from .. import __version__
from .read import BUILD_FORMAT
from ..compilation.chain import CompiledBuild
from ..errors import StorageError
from ..names import DEV_SPLIT, GENERAL_SPLITS, SCORED_SPLITS
from ..records import Example, GeneralPrompt
from .card import dataset_card
from .commands import command_templates
from .rows import EXAMPLE_ROWS, GENERAL_ROWS, RowCodec
from .ownership import check_out, release_temp, remove_stale_temps, swap_into_place, temp_folder
from .tasks import group_name, task_files, task_names


def _dumps(doc: object) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def _write_rows(folder: Path, name: str, rows: Sequence[Example] | Sequence[GeneralPrompt],
                codec: RowCodec = EXAMPLE_ROWS) -> None:
    """Records → data/<name>.jsonl and data/<name>.parquet, the same rows in both (rows.py)."""
    (folder / f"{name}.jsonl").write_bytes(codec.json_lines(rows, name).encode("utf-8"))
    pq.write_table(codec.table(rows, name), folder / f"{name}.parquet", compression="zstd", write_statistics=False)


def _general_block(compiled: CompiledBuild) -> dict | None:
    """The manifest's `general` block: the pack, the settings train and evaluate read, the kinds
    of task on each side; None when the spec has no retain.general."""
    settings, splits = compiled.loaded.spec.retain.general, compiled.splits
    if settings is None:
        return None
    kinds = lambda rows: dict(sorted(Counter(g.kind for g in rows).items()))  # noqa: E731
    return {
        "pack_sha256": compiled.loaded.library.general.sha256,
        "share": settings.share,
        "max_new_tokens": settings.max_new_tokens,
        "teacher": settings.teacher,
        "by_kind": {"train_general": kinds(splits.train_general), "test_general": kinds(splits.test_general)},
        "families": {
            "train_general": len({(g.kind, g.family) for g in splits.train_general}),
            "test_general": len({(g.kind, g.family) for g in splits.test_general}),
        },
    }


def _counts(groups: dict[str, tuple[Example, ...]]) -> dict:
    # attrgetter, not a lambda: Counter then runs in C (5 counts x 100k examples).
    by = lambda field: {s: dict(sorted(Counter(map(attrgetter(field), rows)).items())) for s, rows in groups.items()}  # noqa: E731
    return {
        "splits": {s: len(rows) for s, rows in groups.items()},
        "by_rule": by("provenance.rule"),
        "by_form": by("provenance.form"),
        "by_scope": by("provenance.scope"),
        "by_answer": by("answer"),
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_build(compiled: CompiledBuild, out: Path, force: bool = False) -> Path:
    """CompiledBuild → out/ (replaced atomically, when check_out allows it); returns out.
    A file that cannot be written (disk full, permission denied) → StorageError naming out."""
    out = Path(out)
    spec, loaded = compiled.loaded.spec, compiled.loaded
    check_out(out, loaded.path, force)
    work = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(out.parent)
        work = temp_folder(out)
        tmp = work / "build"
        data = tmp / "data"
        data.mkdir(parents=True)
        groups = dict(compiled.splits.items())
        for name, rows in groups.items():
            _write_rows(data, name, rows)
        _write_rows(data, "train_sample", compiled.train_sample)
        dev = compiled.splits.dev
        if dev:  # splits.dev: the split `syllabus sweep` scores; a spec without one writes no file
            _write_rows(data, DEV_SPLIT, dev)
        general = _general_block(compiled)
        if general is not None:
            _write_rows(data, "train_general", compiled.splits.train_general, GENERAL_ROWS)
            _write_rows(data, "test_general", compiled.splits.test_general, GENERAL_ROWS)
        tasks_dir = tmp / "tasks"
        tasks_dir.mkdir()
        for rel, text in task_files(spec.name, SCORED_SPLITS, spec.eval.max_gen_tokens, dev=bool(dev)).items():
            (tasks_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (tasks_dir / rel).write_text(text, encoding="utf-8", newline="\n")
        (tmp / "spec.yaml").write_text(loaded.source_text, encoding="utf-8", newline="\n")
        (tmp / "spec.json").write_text(_dumps(spec.model_dump(mode="json")), encoding="utf-8", newline="\n")
        (tmp / "leakage.json").write_text(_dumps(compiled.audit.to_json()), encoding="utf-8", newline="\n")
        sizes = {name: len(rows) for name, rows in (*groups.items(), ("train_sample", compiled.train_sample),
                                                     (DEV_SPLIT, dev), ("train_general", compiled.splits.train_general),
                                                     ("test_general", compiled.splits.test_general))}
        default = [*groups][:1] + [DEV_SPLIT] * bool(dev) + [*groups][1:]  # train, dev (if any), the test splits
        card = dataset_card(spec, sizes, compiled.audit, default, GENERAL_SPLITS if general is not None else (),
                            group_name(spec.name))
        (tmp / "README.md").write_text(card, encoding="utf-8", newline="\n")
        files = {
            p.relative_to(tmp).as_posix(): _sha256(p)
            for p in sorted(tmp.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts
        }
        counts = _counts({**groups, "train_sample": compiled.train_sample, **({DEV_SPLIT: dev} if dev else {})})
        if general is not None:  # prompts without answers: counted, but in no by_rule/form/scope/answer table
            counts["splits"].update(train_general=len(compiled.splits.train_general),
                                    test_general=len(compiled.splits.test_general))
        system_prompt = " ".join(r.statement for r in spec.rules)  # the prompted arm's system turn
        manifest = {
            "build_format": BUILD_FORMAT,
            "name": spec.name,
            "description": spec.description,
            "spec_sha256": loaded.source_sha256,
            "seed": spec.seed,
            "versions": {
                "syllabus": __version__,
                **{pkg: version(pkg) for pkg in ("jinja2", "pydantic", "pyarrow")},
            },
            "rules": [{"id": r.id, "statement": r.statement} for r in spec.rules],
            "system_prompt": system_prompt,
            "counts": counts,
            "general": general,
            # the plain `lm_eval` line per arm, MODEL / ADAPTER / BUILD standing for paths
            "lm_eval": command_templates(spec.name, spec.eval.readings, system_prompt, spec.eval.batch_size),
            "tasks": {
                "group": group_name(spec.name),
                "splits": {s: vars(task_names(spec.name, s)) for s in SCORED_SPLITS},
                # outside "splits": evaluate and the gate score those; the sweep alone reads dev
                **({DEV_SPLIT: vars(task_names(spec.name, DEV_SPLIT))} if dev else {}),
            },
            "audit": compiled.audit.summary(),
            "files": files,
        }
        (tmp / "manifest.json").write_text(_dumps(manifest), encoding="utf-8", newline="\n")
        swap_into_place(tmp, out, work)
    except OSError as exc:
        raise StorageError(f"{out}: cannot write the build: {exc.strerror or exc}"
                           f"{f' ({exc.filename})' if exc.filename else ''}; free some disk space or write "
                           "somewhere you may (--out)") from exc
    finally:  # after the swap it holds only its owner file and the replaced build, if any
        if work is not None:
            release_temp(work)
    return out
