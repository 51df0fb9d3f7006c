"""Shared fixtures for the gate and report tests: arms built from correctness lists, a fake run folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

from compiler.records import Example, Provenance
from compiler.results import ArmResult, Sample, Score, write_arm
from compiler.spec import Spec
from compiler.train import TrainSettings
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
    split of the manifest (the constant arm scores those). Without it the build has no data files."""
    import hashlib

    build = root / "build" / spec["name"]
    (build / "data").mkdir(parents=True)
    (build / "spec.json").write_text(Spec.model_validate(spec).model_dump_json(), encoding="utf-8")
    tasks = {"group": "g", "splits": {s: {"mc": f"t_{s}", "gen": f"t_{s}_gen"} for s in (data or {}) if s != "train"}}
    for split, rows in (data or {}).items():
        text = "".join(json.dumps(ex.to_row(split)) + "\n" for ex in rows)
        (build / "data" / f"{split}.jsonl").write_text(text, encoding="utf-8")
    manifest = fake_manifest(spec["name"], {"train": 40, "test_paraphrase": 20, "test_form": 20, "test_locality": 20},
                             spec_sha256="b" * 64, system_prompt="", tasks=tasks)
    raw = json.dumps(manifest).encode()
    (build / "manifest.json").write_bytes(raw)
    sha = hashlib.sha256(raw).hexdigest()
    run = root / "runs" / "r1"
    (run / "adapter").mkdir(parents=True)
    settings = TrainSettings(epochs=3, lr=0.0003, lora_layers=(0.13, 0.53)).to_json()  # what train.py writes
    (run / "run.json").write_text(json.dumps({
        "status": "complete", "build_path": str(build), "build_sha256": sha,
        "model": {"name": "default", "dtype": "float32", "sha256": "c" * 64},
        "settings": settings, "device": "cpu", "examples": 40, "steps": 15, "final_loss": 0.123456, "wall_s": 12.5,
    }), encoding="utf-8")
    for name, result in arms.items():
        write_arm(ArmResult(result.arm, result.model, sha if result.build_sha256 == SHA else result.build_sha256,
                            result.complete, result.scores), run / "eval" / f"{name}.json")
    return run, sha
