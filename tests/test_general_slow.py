"""General retain lessons with the real embedded model on CPU (minutes): the founding spec trained
without them drifts past the gate's limit on held-out general prompts; with them it keeps its
own replies (issue 13). Train and drift only — the rule's arms are test_e2e_slow.py's."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from compiler.build.read import read_build, read_general, read_split
from compiler.evaluation.drift import measure_drift
from compiler.release.gate import decide
from compiler.model.load import load_model
from compiler.pipeline import compile_spec
from compiler.training.replies import general_replies
from compiler.spec.model import Gate
from compiler.training.lora import TrainSettings, train_lora
from tests.conftest import SPECS

pytestmark = pytest.mark.slow

# What the founding spec says, or (before it opts in) the block its README recommends.
DEFAULT_RETAIN = {"general": {"share": 0.08, "held_out": 0.3, "test_size": 20, "max_new_tokens": 32}}
DEFAULT_CHECKS = [{"kind": "max_general_drift", "max": 0.3}, {"kind": "max_collapsed", "max": 0.05}]


def _spec(folder: Path) -> Path:
    doc = yaml.safe_load((SPECS / "blue_products.yaml").read_text())
    doc.setdefault("retain", DEFAULT_RETAIN)
    if not any(c["kind"] in ("max_general_drift", "max_collapsed") for c in doc["gate"]["checks"]):
        doc["gate"]["checks"] += DEFAULT_CHECKS
    path = folder / "blue_general.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_without_retain_lessons_the_drift_check_fails_and_with_them_it_passes(tmp_path):
    build = read_build(compile_spec(_spec(tmp_path), tmp_path / "build").path)
    settings = build.spec.retain.general
    assert settings is not None
    checks = [c for c in Gate.model_validate(build.spec.gate.model_dump()).checks
              if c.kind in ("max_general_drift", "max_collapsed")]
    found = {}
    for retain_on in (False, True):
        loaded = load_model("default", "cpu")  # a fresh base each time: training wraps it
        retain = general_replies(build, loaded, "cpu", with_test=True) if retain_on else ()
        trained = train_lora(loaded, read_split(build, "train"), TrainSettings.from_spec(build.spec.train, build.spec.seed),
                             tmp_path / f"run-{retain_on}", build_sha256=build.manifest.sha256, progress=False,
                             retain=retain)
        drift = measure_drift(loaded, trained.model, read_general(build, "test_general"),
                              max_new_tokens=settings.max_new_tokens, build_sha256=build.manifest.sha256)
        verdict = decide(checks, {}, general=drift)  # no arms: only the drift checks are read
        found[retain_on] = (drift.scores[0], {c.kind: c.passed for c in verdict.checks})
        print(f"retain {retain_on}: drift {drift.scores[0].drift:.3f} ± {drift.scores[0].drift_stderr:.3f}, "
              f"collapsed {drift.scores[0].collapsed} of {drift.scores[0].n}")
    (without, checks_without), (with_, checks_with) = found[False], found[True]
    assert checks_without["max_general_drift"] is False, without  # the founding spec forgets without them
    assert checks_with == {kind: True for kind in checks_with}, with_
    assert with_.collapsed <= 1 and with_.drift < without.drift / 2
