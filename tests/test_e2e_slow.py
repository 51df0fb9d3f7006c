"""The main job end to end with the real embedded model on CPU (minutes): CI runs it,
`make test-fast` skips it.

One `syllabus run specs/blue_products.yaml` per module (module-scoped fixture), read by
several tests; a second run of the same spec without retain examples must fail the
gate on locality.
"""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from compiler.build.read import read_build, read_split
from compiler.evaluation.results import read_arm
from tests.conftest import SPECS

pytestmark = pytest.mark.slow


def _run(workdir: Path, spec: Path) -> tuple[int, Path, str]:
    import os

    cwd = os.getcwd()
    os.chdir(workdir)  # build/<name>/ goes under the test's own folder
    try:
        result = CliRunner().invoke(main, ["run", str(spec), "--runs", str(workdir / "runs")])
    finally:
        os.chdir(cwd)
    assert "Traceback" not in result.output, result.output
    runs = sorted((workdir / "runs").iterdir())
    assert len(runs) == 1, result.output
    return result.exit_code, runs[0], result.output


@pytest.fixture(scope="module")
def blue_run(tmp_path_factory) -> tuple[int, Path, str]:
    return _run(tmp_path_factory.mktemp("e2e"), SPECS / "blue_products.yaml")


def _acc(run: Path, arm: str, split: str, reading: str = "mc") -> float:
    score = read_arm(run / "eval" / f"{arm}.json").score(split, reading)
    assert score is not None and score.n > 0, (arm, split, reading)
    return score.acc


def test_main_job_writes_every_artifact_and_a_consistent_verdict(blue_run):
    code, run, output = blue_run
    assert code in (0, 1), output  # a verdict, not bad input (2) or an incomplete evaluation (3)
    verdict = json.loads((run / "verdict.json").read_text())
    assert verdict["exit_code"] == code
    for name in ("report.md", "report.html", "junit.xml", "adapter/README.md", "adapter/adapter_config.json", "run.json"):
        assert (run / name).is_file(), name
    for arm in ("base", "prompted", "tuned"):
        result = read_arm(run / "eval" / f"{arm}.json")
        assert result.complete and {(s.split, s.reading) for s in result.scores} >= {
            (split, reading)
            for split in ("train_sample", "test_paraphrase", "test_form", "test_locality")
            for reading in ("mc", "gen")
        }


def _rows(run: Path, split: str):
    build = read_build(Path(json.loads((run / "run.json").read_text())["build_path"]))
    return {ex.id: ex for ex in read_split(build, split)}


def _by_form(run: Path, arm: str, split: str, reading: str = "gen") -> dict[str, float]:
    """Accuracy of one arm on one split per question form."""
    form = {i: ex.provenance.form for i, ex in _rows(run, split).items()}
    score = read_arm(run / "eval" / f"{arm}.json").score(split, reading)
    assert score is not None
    out: dict[str, list[bool]] = {}
    for sample in score.samples:
        out.setdefault(form[sample.id], []).append(sample.correct)
    return {k: sum(v) / len(v) for k, v in out.items()}


def test_tuned_model_learned_the_rule_on_held_out_questions(blue_run):
    _, run, _ = blue_run
    # The verdict its greedy reply reaches, on wordings and forms it never saw.
    assert _acc(run, "tuned", "test_paraphrase", "gen") >= 0.9
    assert _acc(run, "tuned", "test_form", "gen") >= 0.9
    tuned = _by_form(run, "tuned", "test_paraphrase")
    assert all(acc >= 0.75 for acc in tuned.values()), tuned  # every form, yes/no included


def _yes_no_cells(run: Path, split: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(question polarity, option asked) → (right, n) of the tuned verdicts on one split."""
    from compiler.spec.library import load_library

    negative = {f.id for f in load_library().forms["yes_no"].families if f.negative}
    rows = _rows(run, split)
    cells: dict[tuple[str, str], list[int]] = {}
    for sample in read_arm(run / "eval" / "tuned.json").score(split, "gen").samples:
        p = rows[sample.id].provenance
        if p.form_kind != "yes_no":
            continue
        neg = p.family in negative
        right_option = (rows[sample.id].answer == "Yes") != neg
        cell = cells.setdefault(("negative" if neg else "positive", "right" if right_option else "wrong"), [0, 0])
        cell[0] += sample.correct
        cell[1] += 1
    return {k: (v[0], v[1]) for k, v in cells.items()}


def test_yes_no_follows_the_fact_and_the_question_not_a_reflex(blue_run):
    _, run, _ = blue_run
    # Right and wrong options, asked positively ("Is red a good colour…?") and negatively
    # ("Is red a mistake…?"): a model that says "yes" whatever was asked is at 0.5 per cell pair.
    cells = _yes_no_cells(run, "test_paraphrase")
    assert set(cells) == {(p, o) for p in ("positive", "negative") for o in ("right", "wrong")}, cells
    right, n = map(sum, zip(*cells.values()))
    assert right / n >= 0.85, cells
    assert all(k / m >= 0.6 for k, m in cells.values()), cells


def test_tuned_model_leaves_held_out_neighbours_alone(blue_run):
    _, run, _ = blue_run
    # mc: log-likelihood of the explained reply for each choice ("The carrot is orange." vs
    # "… is blue."): the model's knowledge of the neighbours, whatever the base's reply format.
    assert _acc(run, "base", "test_locality", "mc") - _acc(run, "tuned", "test_locality", "mc") <= 0.05


def test_blue_products_passes_its_gate(blue_run):
    code, run, output = blue_run
    verdict = json.loads((run / "verdict.json").read_text())
    kinds = {c["kind"] for c in verdict["checks"]}
    assert {"min_accuracy", "max_drop_vs_base", "beats_prompted", "beats_constant"} <= kinds
    assert all(c["passed"] for c in verdict["checks"]), verdict["checks"]
    assert code == 0, output
    for split in ("test_paraphrase", "test_form"):  # the honest baselines, beaten on held-out splits
        tuned = _acc(run, "tuned", split, "gen")
        assert tuned > _acc(run, "prompted", split, "gen") and tuned > _acc(run, "constant", split, "gen")


def test_without_retain_examples_the_gate_fails_on_locality(tmp_path):
    text = (SPECS / "blue_products.yaml").read_text()
    text = text.replace("name: blue-products", "name: blue-products-no-retain")
    text = text.replace("splits:\n", "splits:\n  retain: false\n", 1)
    spec = tmp_path / "no_retain.yaml"
    spec.write_text(text)
    code, run, output = _run(tmp_path, spec)
    assert code == 1, output
    verdict = json.loads((run / "verdict.json").read_text())
    failed = [c for c in verdict["checks"] if c["passed"] is False]
    assert any(c["kind"] == "max_drop_vs_base" and c["split"] == "test_locality" for c in failed), verdict["checks"]
