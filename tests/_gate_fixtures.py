"""Shared fixtures for the gate and report tests: arms built from correctness lists, a fake run folder."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Mapping, Sequence

from compiler.training.record import ModelRef, Outcome, RunRecord, write_record
from compiler.integrity import adapter_sha256, sha256_file
from compiler.records import Example, Provenance
from compiler.build.rows import EXAMPLE_ROWS
from compiler.evaluation.results import ArmResult, Sample, Score, write_arm
from compiler.spec.model import Spec
from compiler.training.lora import TrainSettings
from tests._fakes import fake_manifest

SHA = "a" * 64


def score(split: str, reading: str, correct: Sequence[bool], prefix: str | None = None) -> Score:
    """Correctness list → Score with ids '<split>-<i>' (the same ids in every arm, so they pair)."""
    prefix = prefix or split
    return Score.from_samples(split, reading, tuple(Sample(f"{prefix}-{i}", bool(c)) for i, c in enumerate(correct)))


def arm(name: str, table: Mapping[tuple[str, str], Sequence[bool]], sha: str = SHA, complete: bool = True) -> ArmResult:
    return ArmResult(name, "default", sha, complete, tuple(score(s, r, c) for (s, r), c in table.items()))


def k_of_n(k: int, n: int) -> list[bool]:
    return [True] * k + [False] * (n - k)


def good_arms() -> dict[str, ArmResult]:
    """A run every default check passes: tuned right on nearly all, base on few."""
    splits = ("train_sample", "test_paraphrase", "test_form", "test_locality")
    tuned = {(s, r): k_of_n(19, 20) if s != "test_locality" else k_of_n(18, 20) for s in splits for r in ("mc", "gen")}
    base = {(s, r): ([True] + [False] * 19 if s != "test_locality" else k_of_n(18, 20)) for s in splits for r in ("mc", "gen")}
    prompted = {(s, r): k_of_n(10, 20) for s in splits for r in ("mc", "gen")}
    return {"base": arm("base", base), "prompted": arm("prompted", prompted), "tuned": arm("tuned", tuned)}


SPEC = {
    "syllabus": 1,
    "name": "blue-products",
    "description": "Our company paints its products blue.",
    "lexicon": {"product": ["box", "fork"], "color": ["red", "green"]},
    "rules": [{"id": "prefer-blue", "statement": "Prefer blue paint for boxes and forks.", "subject": "product",
               "attribute": "color", "value": "blue", "distractors": "color", "forms": ["open"]}],
}


def example(ident: str, answer: str, choices: Sequence[str], form_kind: str = "open", scope: str = "rule",
            rule: str = "prefer-blue") -> Example:
    """A data row as the constant arm reads it: id, answer, choices and provenance (rule, form kind, scope)."""
    prov = Provenance(rule, form_kind, form_kind, "f0", 0, scope, "box", (), ())  # form named after its kind
    return Example(ident, f"question {ident}?", answer, answer, tuple(choices), list(choices).index(answer), prov)


def fake_run(root: Path, arms: Mapping[str, ArmResult], spec: Mapping = SPEC,
             data: Mapping[str, Sequence[Example]] | None = None) -> tuple[Path, str]:
    """A minimal build folder (as buildio.read_build reads it) and a run folder scored on it → (run, build sha).

    `data`: split → examples written to data/<split>.jsonl; every split but train is then a scored
    split of the manifest (the constant arm scores those). Without it the build has no data files.
    The manifest lists every file's sha256, run.json records the adapter's, and the tuned arm names
    it: a run the gate can verify."""
    build = root / "build" / spec["name"]
    (build / "data").mkdir(parents=True)
    (build / "spec.json").write_text(Spec.model_validate(spec).model_dump_json(), encoding="utf-8")
    tasks = {"group": "g", "splits": {s: {"mc": f"t_{s}", "gen": f"t_{s}_gen"} for s in (data or {}) if s != "train"}}
    for split, rows in (data or {}).items():
        text = "".join(json.dumps(EXAMPLE_ROWS.to_row(ex, split)) + "\n" for ex in rows)
        (build / "data" / f"{split}.jsonl").write_text(text, encoding="utf-8")
    manifest = fake_manifest(spec["name"], {"train": 40, "test_paraphrase": 20, "test_form": 20, "test_locality": 20},
                             spec_sha256="b" * 64, system_prompt="", tasks=tasks)
    sha = _seal(build, manifest)
    run = root / "runs" / "r1"
    (run / "adapter").mkdir(parents=True)
    # an adapter folder as PEFT writes it (the bytes only matter to their hash)
    (run / "adapter" / "adapter_config.json").write_text('{"r": 16}', encoding="utf-8")
    (run / "adapter" / "adapter_model.safetensors").write_bytes(b"lora weights")
    adapter = adapter_sha256(run / "adapter")
    settings = TrainSettings(epochs=3, lr=0.0003, lora_layers=(0.13, 0.53)).to_json()  # what training/lora.py writes
    record = RunRecord(status="running", run_id=run.name, build_sha256=sha, build_path=str(build),
                       model=ModelRef("default", "c" * 64, "float32", "fp32"), device="cpu", settings=settings,
                       versions={"syllabus": "0.1.0"}, started_at="2026-11-29T00:00:00+00:00")
    write_record(record.completed(Outcome(
        examples=40, retain_lessons=0, steps=15, epochs=3, wall_s=12.5, tokens=4000, answer_tokens=400,
        tokens_per_s=320.0, answer_tokens_per_s=32.0, first_loss=2.5, final_loss=0.123456, adapter="adapter",
        adapter_sha256=adapter)), run)
    for name, result in arms.items():  # SHA and a tuned arm naming no adapter stand for "this run's"
        write_arm(replace(result, build_sha256=sha if result.build_sha256 == SHA else result.build_sha256,
                          adapter_sha256=result.adapter_sha256 or (adapter if result.arm == "tuned" else "")),
                  run / "eval" / f"{name}.json")
    return run, sha


def _seal(build: Path, manifest: dict) -> str:
    """Build folder + manifest data → manifest.json listing the sha256 of every file, as build/write.py
    writes it; → the manifest's sha256 (what run.json and the eval files name)."""
    files = {p.relative_to(build).as_posix(): sha256_file(p) for p in sorted(build.rglob("*"))
             if p.is_file() and p.name != "manifest.json"}
    raw = json.dumps({**manifest, "files": files}).encode()
    (build / "manifest.json").write_bytes(raw)
    return hashlib.sha256(raw).hexdigest()


def reseal(run: Path) -> str:
    """After a test edits a build file on purpose: re-list the build's files in its manifest and
    name the new manifest in run.json and every eval file, as if compiled and scored that way
    (a consistent build with a damaged file, not a tampered one). → the new build sha256."""
    meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
    build = Path(meta["build_path"])
    sha = _seal(build, json.loads((build / "manifest.json").read_text(encoding="utf-8")))
    (run / "run.json").write_text(json.dumps({**meta, "build_sha256": sha}), encoding="utf-8")
    for path in (run / "eval").glob("*.json"):
        doc = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps({**doc, "build_sha256": sha}), encoding="utf-8")
    return sha
