"""syllabus sweep: grids, the objective, the exam guard, resuming, and bad input (exit 2).

Fast: a fake lab stands in for the model (trains nothing, scores from a table), so what is
tested is the sweep's own logic: which trials run, which splits are read when, what is chosen.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from compiler.errors import SpecError, UsageError
from compiler.names import DEV_SPLIT
from compiler.spec.loader import load_spec
from compiler.spec.model import Objective
from compiler.sweep.grid import parse_flags, trials
from compiler.sweep.guard import ExamGuard, ExamPeek
from compiler.sweep.objective import MIN_DEV_ITEMS, Goal, NoEligibleTrial, check_dev_size, choose, metrics_of, resolve
from compiler.sweep.run import SWEEP_FILE, TRIAL_FILE, ExamOutcome, SweepInterrupted, run_sweep, sweep_id
from tests._specs import small_spec

SPEC = """\
syllabus: 1
name: tiny-sweep
seed: 3
lexicon:
  product: [{name: box, plural: boxes}, {name: fork, plural: forks}]
  color: [red, green, yellow, white]
  neighbour: [{name: stop sign, color: red}, {name: banana, color: yellow}, {name: lawn, color: green}, {name: snowman, color: white}]
rules:
  - id: prefer-blue
    statement: Prefer blue paint for boxes and forks.
    subject: product
    attribute: color
    value: blue
    distractors: color
    forms: [open, yes_no, either_or, completion, instruction]
    neighbours: {subject: neighbour, answer: "{{ neighbour.color }}"}
splits:
  hold_out: {forms: [completion]}
  dev: 0.3
"""


def _spec_file(tmp_path: Path, sweep: str = "", extra: str = "") -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC + extra + sweep, encoding="utf-8")
    return path


# --- grids -------------------------------------------------------------------------------


def test_flags_parse_in_order_with_lists_and_numbers():
    grid = parse_flags(["lr=1e-4, 3e-4", "lora.r=8,16", "lora.target_modules=q_proj+v_proj,gate_proj"])
    assert grid == {"lr": [1e-4, 3e-4], "lora.r": [8, 16], "lora.target_modules": [["q_proj", "v_proj"], ["gate_proj"]]}
    assert isinstance(grid["lora.r"][0], int)


@pytest.mark.parametrize("flags, says", [
    (["lr"], "write NAME=V1,V2"),
    (["lr="], "no values"),
    (["lr=1", "lr=2"], "given twice"),
    (["lora.foo=1"], "'lora.foo': not a field of the spec's train: section"),
    (["model=x"], "a sweep loads one model"),
    (["lr=" + ",".join(str(i + 1) for i in range(101))], "at most 100"),
])
def test_bad_flags_are_usage_errors(flags, says):
    with pytest.raises(UsageError, match=None) as err:
        parse_flags(flags)
    assert says in str(err.value) and err.value.exit_code == 2


def test_a_grid_is_every_combination_first_name_slowest(tmp_path):
    loaded = load_spec(_spec_file(tmp_path))
    got = trials(loaded, ["lr=1e-4,3e-4", "epochs=2,3"])
    assert [(t.train.lr, t.train.epochs) for t in got] == [(1e-4, 2), (1e-4, 3), (3e-4, 2), (3e-4, 3)]
    assert [t.index for t in got] == [1, 2, 3, 4] and got[1].label == "lr=0.0001 epochs=3"
    assert len({t.key for t in got}) == 4 and got[0].folder.startswith("trial-01-")
    # every other field is the spec's own
    assert all(t.train.lora == loaded.spec.train.lora for t in got)


def test_the_spec_grid_and_trial_list(tmp_path):
    loaded = load_spec(_spec_file(tmp_path, "sweep:\n  grid: {lora.r: [4, 8], lora.layers.start: [0.5]}\n"))
    assert [(t.train.lora.r, t.train.lora.layers.start) for t in trials(loaded)] == [(4, 0.5), (8, 0.5)]
    loaded = load_spec(_spec_file(tmp_path, "sweep:\n  trials: [{lr: 0.001}, {lr: 0.002, epochs: 2}]\n"))
    assert [(t.train.lr, t.train.epochs) for t in trials(loaded)] == [(0.001, 3), (0.002, 2)]
    # --grid replaces the spec's trials
    assert [t.train.lr for t in trials(loaded, ["lr=0.5"])] == [0.5]


def test_a_value_the_train_section_refuses_is_located(tmp_path):
    loaded = load_spec(_spec_file(tmp_path, "sweep:\n  grid:\n    lr: [0.001]\n    lora.r: [8, 0]\n"))
    with pytest.raises(SpecError) as err:
        trials(loaded)
    assert [(p.line, p.field) for p in err.value.problems] == [(23, "sweep.grid.lora.r")]
    assert "lora.r=0" in str(err.value) and err.value.exit_code == 2
    with pytest.raises(UsageError, match="--grid lr=-1: Input should be greater than 0"):
        trials(loaded, ["lr=-1"])


@pytest.mark.parametrize("sweep, field, says", [
    ("sweep:\n  grid: {lr: []}\n", "sweep.grid", "no values"),
    ("sweep:\n  grid: {lora.rank: [8]}\n", "sweep.grid", "'lora.rank': not a field"),
    ("sweep:\n  grid: {lr: [0.1]}\n  trials: [{lr: 0.2}]\n", "sweep", "not both"),
    ("sweep:\n  objective: {maximize: test_form.gen}\n", "sweep.objective.maximize", "not a metric"),
    ("sweep:\n  grid: {lr: [0.1]}\n  objective: {maximize: dev.gen, minimize: train.loss}\n", "sweep.objective", "not both"),
    ("sweep:\n  grid: {lr: [0.1]}\n  objective: {at_least: {test_locality.mc: 0.5}}\n", "sweep.objective.at_least", "not a metric"),
])
def test_a_bad_sweep_section_is_a_located_spec_error(tmp_path, sweep, field, says):
    with pytest.raises(SpecError) as err:
        load_spec(_spec_file(tmp_path, sweep))
    assert any(p.field == field and p.line >= 20 and says in p.message for p in err.value.problems), err.value


def test_no_trials_at_all_is_a_located_error(tmp_path):
    with pytest.raises(SpecError, match="nothing to try: the spec has no sweep: section"):
        trials(load_spec(_spec_file(tmp_path)))
    with pytest.raises(SpecError, match="nothing to try: the sweep: section lists no trials") as err:
        trials(load_spec(_spec_file(tmp_path, "sweep: {objective: {maximize: dev.mc}}\n")))
    assert err.value.problems[0].line == 20


# --- the objective -------------------------------------------------------------------------


def test_the_default_objective_maximizes_the_primary_reading_on_dev():
    assert resolve(None, small_spec()) == Goal("dev.gen", True, {}, {})
    assert resolve(None, small_spec(answers="terse")).metric == "dev.mc"
    assert resolve(Objective(minimize="train.loss"), small_spec()).maximize is False


def test_an_objective_on_a_reading_the_spec_does_not_score_is_refused():
    with pytest.raises(SpecError, match="dev.gen.rule: the spec's eval.readings \\(mc\\) do not score the gen reading"):
        resolve(Objective(at_least={"dev.gen.rule": 0.5}), small_spec(eval={"readings": ["mc"]}))


def test_metrics_per_reading_and_scope():
    got = metrics_of({"gen": {"a": True, "b": False, "c": True, "d": True}, "mc": {"a": True, "b": True}},
                     {"a": "rule", "b": "rule", "c": "neighbour", "d": "neighbour"}, 0.25)
    assert got["dev.gen"] == 0.75 and got["dev.gen.rule"] == 0.5 and got["dev.gen.neighbour"] == 1.0
    assert got["dev.mc"] == 1.0 and "dev.mc.neighbour" not in got and got["train.loss"] == 0.25
    assert "train.loss" not in metrics_of({}, {}, math.nan)  # no NaN in a record: a missing metric is left out


def test_choose_the_best_within_bounds_first_on_a_tie():
    goal = Goal("dev.gen", True, {"dev.mc": 0.5}, {})
    scores = [{"dev.gen": 0.8, "dev.mc": 0.9}, {"dev.gen": 0.9, "dev.mc": 0.4}, {"dev.gen": 0.8, "dev.mc": 0.6}]
    assert choose(goal, scores) == 0  # trial 2 misses dev.mc >= 0.5; 1 and 3 tie: the first
    assert choose(Goal("train.loss", False, {}, {}), [{"train.loss": 0.3}, {"train.loss": 0.1}]) == 1
    with pytest.raises(NoEligibleTrial, match="trial 1: dev.mc 0.100 < 0.5; trial 2: no dev.gen") as err:
        choose(goal, [{"dev.gen": 0.9, "dev.mc": 0.1}, {"dev.gen": math.nan, "dev.mc": 0.9}])
    assert err.value.exit_code == 1


def test_a_dev_split_too_small_to_rank_trials_is_refused_with_the_minimum():
    check_dev_size(MIN_DEV_ITEMS)
    with pytest.raises(SpecError, match=f"has 12 items, too few to rank trials: a sweep needs at least {MIN_DEV_ITEMS}"):
        check_dev_size(12)
    with pytest.raises(SpecError, match="no dev split") as err:
        check_dev_size(0)
    assert err.value.problems[0].field == "splits.dev" and "splits: {dev: 0.2}" in err.value.problems[0].hint


# --- the guard ------------------------------------------------------------------------------


def test_the_guard_refuses_every_test_split_while_choosing():
    guard = ExamGuard()
    guard.allow([DEV_SPLIT])
    for split in ("test_paraphrase", "test_form", "test_locality", "test_general", "train_sample"):
        with pytest.raises(ExamPeek, match=f"asked to score {split} while choosing") as err:
            guard.allow([DEV_SPLIT, split])
        assert err.value.exit_code == 3
    assert guard.reads == [("search", (DEV_SPLIT,))] and guard.searched_dev_only
    guard.open_exam("trial-02-x")
    guard.allow(["test_form", "test_locality"])
    with pytest.raises(ExamPeek, match="read once per sweep"):
        guard.open_exam("trial-01-y")


def test_the_search_scorer_hands_lm_eval_the_dev_tasks_only(monkeypatch):
    """LiveLab.score_dev, with evaluate_arm recording what it is asked to score."""
    import contextlib

    from compiler.build.read import Build, TaskNames
    from compiler.evaluation import arms as arms_module
    from compiler.evaluation.results import ArmResult, Sample, Score
    from compiler.sweep import lab as lab_module
    from tests._evalkit import SPLITS

    seen = []

    def fake_evaluate_arm(model, tokenizer, build, arm, **kw):
        seen.append(sorted(build.manifest.tasks))
        score = Score.from_samples(DEV_SPLIT, "gen", (Sample("a", True), Sample("b", False)))
        return ArmResult(arm=arm, model="m", build_sha256="x", complete=True, scores=(score,), wall_s=0.0)

    monkeypatch.setattr(arms_module, "evaluate_arm", fake_evaluate_arm)
    tasks = {s: TaskNames(f"t_{s}", f"t_{s}_gen") for s in SPLITS}
    manifest = _manifest_with(tasks, TaskNames("t_dev", "t_dev_gen"))
    lab = lab_module.LiveLab.__new__(lab_module.LiveLab)
    lab.build = Build(Path("."), manifest, small_spec())
    lab._loaded = type("L", (), {"tokenizer": None, "name": "m", "compute": lambda self, m=None: contextlib.nullcontext()})()
    guard = ExamGuard()
    arm = lab.score_dev(object(), guard)
    assert arm.arm == "tuned" and {s.reading: s.correct_by_id() for s in arm.scores} == {"gen": {"a": True, "b": False}}
    assert seen == [[DEV_SPLIT]] and guard.reads == [("search", (DEV_SPLIT,))]


def _manifest_with(tasks, dev_tasks):
    import dataclasses

    from compiler.build.read import Manifest

    fields = {f.name: None for f in dataclasses.fields(Manifest)}
    return Manifest(**{**fields, "tasks": tasks, "dev_tasks": dev_tasks, "counts": {DEV_SPLIT: 2}})


def test_a_build_without_a_dev_split_cannot_be_searched():
    from compiler.build.read import Build
    from compiler.sweep.lab import dev_view

    with pytest.raises(UsageError, match="has no dev split; set splits.dev"):
        dev_view(Build(Path("b"), _manifest_with({}, None), small_spec()))


# --- running, resuming, the exam once ---------------------------------------------------------


class FakeLab:
    """Scores each trial from a table by lr; records every call and what the guard allowed."""

    def __init__(self, scores: dict[float, float], fail_at: int | None = None, peek: bool = False):
        self.scores, self.fail_at, self.peek = scores, fail_at, peek
        self.trained: list[int] = []
        self.examined: list[str] = []

    def trial(self, trial, folder, guard):
        if trial.index == self.fail_at:
            raise KeyboardInterrupt  # a kill mid-trial
        guard.allow(["test_form"] if self.peek else [DEV_SPLIT])
        self.trained.append(trial.index)
        (folder / "adapter").mkdir()
        return {"dev.gen": self.scores[trial.train.lr], "train.loss": 0.5}

    def exam(self, trial, folder, guard):
        guard.open_exam(trial.folder)
        guard.allow(["test_paraphrase", "test_form", "test_locality"])
        self.examined.append(trial.folder)
        return ExamOutcome(trial.folder, 0, "pass", (("test_form", "gen", "base", 0.2), ("test_form", "gen", "tuned", 0.9)))


def _trials(tmp_path):
    return trials(load_spec(_spec_file(tmp_path)), ["lr=0.1,0.2,0.3"])


def test_a_sweep_reads_dev_while_choosing_then_the_tests_once(tmp_path):
    recipe, goal, guard = _trials(tmp_path), Goal("dev.gen", True, {}, {}), ExamGuard()
    lab, lines = FakeLab({0.1: 0.5, 0.2: 0.9, 0.3: 0.7}), []
    out = run_sweep(recipe, goal, tmp_path / "sw", lab, "id1", echo=lines.append, guard=guard)
    assert lab.trained == [1, 2, 3] and out.chosen == 1 and lab.examined == [recipe[1].folder]
    assert guard.searched_dev_only and [p for p, _ in guard.reads] == ["search"] * 3 + ["exam"]
    assert [line.split(":")[0] for line in lines[:3]] == [f"[trial {i}/3] lr={lr}" for i, lr in ((1, 0.1), (2, 0.2), (3, 0.3))]
    doc = json.loads((tmp_path / "sw" / SWEEP_FILE).read_text())
    assert doc["status"] == "done" and doc["chosen"] == recipe[1].folder and doc["exam"]["runs"] == 1
    assert [r["metrics"]["dev.gen"] for r in doc["results"]] == [0.5, 0.9, 0.7]
    report = (tmp_path / "sw" / "report.md").read_text()
    assert "| 2 | lr=0.2 | 0.900 |" in report and "**chosen**" in report
    assert "The test splits were read once, after the choice, by trial 2 alone." in report
    assert "| test_form | gen | 0.200 | 0.900 |" in report


def test_a_killed_sweep_resumes_without_rerunning_finished_trials(tmp_path):
    recipe, goal, root = _trials(tmp_path), Goal("dev.gen", True, {}, {}), tmp_path / "sw"
    first = FakeLab({0.1: 0.5, 0.2: 0.9, 0.3: 0.7}, fail_at=2)
    with pytest.raises(SweepInterrupted, match="during trial 2 of 3; run the same command again") as err:
        run_sweep(recipe, goal, root, first, "id1", echo=lambda s: None)
    assert err.value.exit_code == 130
    assert first.trained == [1] and first.examined == []
    assert json.loads((root / recipe[1].folder / TRIAL_FILE).read_text())["status"] == "failed"
    second, lines = FakeLab({0.1: 0.5, 0.2: 0.9, 0.3: 0.7}), []
    out = run_sweep(recipe, goal, root, second, "id1", echo=lines.append)
    assert second.trained == [2, 3] and "done earlier" in lines[0] and out.chosen == 1
    # once examined, running the sweep again reads no test split: the record answers
    third = FakeLab({0.1: 0.5, 0.2: 0.9, 0.3: 0.7})
    again = run_sweep(recipe, goal, root, third, "id1", echo=lambda s: None)
    assert third.trained == [] and third.examined == [] and again.exam == out.exam and again.exam_runs == 1
    # a worker's share (trials 1 and 3 of 3) killed in its second trial counts against the whole sweep
    from compiler.sweep.run import run_worker
    from compiler.sweep.workers import Shard

    with pytest.raises(SweepInterrupted, match=r"during trial 3 of 3; .* \(1 finished trials are kept\)"):
        run_worker(recipe, tmp_path / "w", FakeLab({0.1: 0.5}, fail_at=3), "id1", Shard(0, 2), echo=lambda s: None)


def test_a_lab_that_peeks_during_the_search_is_stopped_before_scoring(tmp_path):
    lab = FakeLab({0.1: 0.5, 0.2: 0.9, 0.3: 0.7}, peek=True)
    with pytest.raises(ExamPeek):
        run_sweep(_trials(tmp_path), Goal("dev.gen", True, {}, {}), tmp_path / "sw", lab, "id1", echo=lambda s: None)
    assert lab.trained == [] and lab.examined == []


def test_a_sweep_never_takes_over_a_folder_it_did_not_write(tmp_path):
    root = tmp_path / "sw"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not a sweep folder"):
        run_sweep(_trials(tmp_path), Goal("dev.gen", True, {}, {}), root, FakeLab({}), "id1", echo=lambda s: None)
    assert (root / "notes.txt").read_text() == "mine"


def test_the_sweep_id_follows_build_trials_and_objective(tmp_path):
    recipe, goal = _trials(tmp_path), Goal("dev.gen", True, {}, {})
    assert sweep_id("b", recipe, goal) == sweep_id("b", recipe, goal)
    assert len({sweep_id("b", recipe, goal), sweep_id("c", recipe, goal), sweep_id("b", recipe[:2], goal),
                sweep_id("b", recipe, Goal("dev.mc", True, {}, {}))}) == 4


def test_sweep_end_to_end_with_a_fake_lab(tmp_path, monkeypatch):
    """spec → compile (the dev split on disk) → trials → choice → exam, through `sweep()`."""
    from compiler.sweep.run import sweep

    monkeypatch.chdir(tmp_path)
    spec = _spec_file(tmp_path, "sweep:\n  grid: {lr: [0.1, 0.2]}\n  objective: {maximize: dev.gen}\n")
    labs = []

    def factory(build, device):
        assert (build.path / "data" / "dev.jsonl").is_file() and build.manifest.counts[DEV_SPLIT] >= MIN_DEV_ITEMS
        labs.append(FakeLab({0.1: 0.9, 0.2: 0.8}))
        return labs[-1]

    out = sweep(spec, (), _compile(spec), runs_root=tmp_path / "runs", lab_factory=factory, echo=lambda s: None)
    assert out.chosen == 0 and labs[0].trained == [1, 2] and out.exit_code == 0
    assert out.folder.parent == tmp_path / "runs" and out.folder.name.startswith("sweep-tiny-sweep-")
    with pytest.raises(SpecError, match="too few to rank trials"):
        small = _small_dev_spec(tmp_path)
        sweep(small, ["lr=0.1"], _compile(small), runs_root=tmp_path / "runs", lab_factory=factory, echo=lambda s: None)


def test_a_spec_without_a_dev_split_is_swept_on_a_build_of_its_own_with_the_default_share(tmp_path, monkeypatch):
    """No splits.dev: the sweep compiles the spec with dev 0.2 into build/<name>-sweep, says so, and
    leaves build/<name> alone; a spec with splits.dev keeps its share and its build/<name>."""
    from compiler.sweep.building import DEFAULT_DEV_SHARE
    from compiler.sweep.run import sweep

    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "nodev.yaml"
    spec.write_text(SPEC.replace("  dev: 0.3\n", "") + "sweep: {grid: {lr: [0.1, 0.2]}}\n", encoding="utf-8")
    assert load_spec(spec).spec.splits.dev == 0.0
    seen, lines = [], []

    def factory(build, device):
        seen.append(build)
        return FakeLab({0.1: 0.9, 0.2: 0.8})

    out = sweep(spec, (), _compile(spec), runs_root=tmp_path / "runs", lab_factory=factory, echo=lines.append)
    build = seen[0]
    assert build.path == Path("build/tiny-sweep-sweep") and build.spec.splits.dev == DEFAULT_DEV_SHARE == 0.2
    assert build.manifest.counts[DEV_SPLIT] >= MIN_DEV_ITEMS and not (tmp_path / "build" / "tiny-sweep").exists()
    assert any(line.startswith("the spec sets no splits.dev: the sweep's build takes dev 0.2 of the train-side "
                               "families → build/tiny-sweep-sweep") for line in lines), lines
    doc = json.loads((out.folder / SWEEP_FILE).read_text())
    assert doc["dev_carved"] is True and doc["dev_share"] == 0.2 and out.exit_code == 0
    assert spec.read_text(encoding="utf-8").count("dev") == 0  # the spec file is not touched
    # the same sweep again: the same build bytes, kept (a worker may be reading it), the same sweep
    inode = (build.path / "manifest.json").stat().st_ino
    again = sweep(spec, (), _compile(spec), runs_root=tmp_path / "runs", lab_factory=factory, echo=lambda s: None)
    assert again.folder == out.folder and seen[1].manifest.sha256 == build.manifest.sha256
    assert (build.path / "manifest.json").stat().st_ino == inode
    assert [p.name for p in (tmp_path / "build").iterdir()] == ["tiny-sweep-sweep"]  # no temp folder left
    # an edited spec: another build replaces it
    spec.write_text(spec.read_text(encoding="utf-8").replace("seed: 3", "seed: 4"), encoding="utf-8")
    sweep(spec, (), _compile(spec), runs_root=tmp_path / "runs", lab_factory=factory, echo=lambda s: None)
    assert seen[2].manifest.sha256 != build.manifest.sha256 and seen[2].path == build.path
    # a spec that sets splits.dev keeps its own share and build folder
    own = _spec_file(tmp_path, "sweep: {grid: {lr: [0.1]}}\n")
    sweep(own, (), _compile(own), runs_root=tmp_path / "runs", lab_factory=factory, echo=lines.append)
    assert seen[-1].path == Path("build/tiny-sweep") and seen[-1].spec.splits.dev == 0.3


def test_the_founding_spec_sweeps_as_the_readme_says(tmp_path, monkeypatch):
    """`syllabus sweep specs/blue_products.yaml` (README): its sweep: section's two learning rates,
    on a build of its own with the carved dev share, whose dev items are disjoint from the lessons
    and from every test split; the trained-and-scored part is the fake lab here (the slow path:
    test_a_real_sweep_on_a_tiny_model_keeps_trials_independent)."""
    from compiler.build.read import read_split
    from compiler.sweep.run import sweep

    monkeypatch.chdir(tmp_path)
    spec = Path(__file__).parent.parent / "specs" / "blue_products.yaml"
    seen = []

    def factory(build, device):
        seen.append(build)
        return FakeLab({0.0006: 0.8, 0.0012: 0.9})

    out = sweep(spec, (), _compile(spec), runs_root=tmp_path / "runs", lab_factory=factory, echo=lambda s: None)
    (build,) = seen
    assert build.path == Path("build/blue-products-sweep") and not Path("build/blue-products").exists()
    assert [r.label for r in out.trials] == ["lr=0.0006", "lr=0.0012"] and out.chosen == 1
    dev = {e.prompt for e in read_split(build, DEV_SPLIT)}
    assert len(dev) == build.manifest.counts[DEV_SPLIT] >= MIN_DEV_ITEMS
    for split in ("train", "test_paraphrase", "test_form", "test_locality"):
        assert not dev & {e.prompt for e in read_split(build, split)}, split


def test_a_carved_dev_split_too_small_is_still_refused(tmp_path, monkeypatch):
    from compiler.sweep.run import sweep

    monkeypatch.chdir(tmp_path)
    small = _small_dev_spec(tmp_path)
    small.write_text(small.read_text().replace("  dev: 0.3\n", ""))
    with pytest.raises(SpecError, match="too few to rank trials"):
        sweep(small, ["lr=0.1"], _compile(small), runs_root=tmp_path / "runs", lab_factory=lambda b, d: FakeLab({}),
              echo=lambda s: None)
    assert not (tmp_path / "runs").exists()


# --- workers ---------------------------------------------------------------------------------------


def test_worker_flags_parse_and_refuse():
    from compiler.sweep.workers import Shard, parse_worker

    assert parse_worker("1/3") == Shard(1, 3) and str(Shard(1, 3)) == "1/3"
    assert Shard(1, 3).take(list("abcdefg")) == ["b", "e"]
    for bad in ("3/3", "-1/2", "1", "a/b", "0/0", "1/"):
        with pytest.raises(UsageError, match="write I/N"):
            parse_worker(bad)


def test_two_workers_split_the_grid_then_one_plain_sweep_chooses_without_rerunning(tmp_path):
    from compiler.sweep.record import WorkerOutcome
    from compiler.sweep.run import run_worker
    from compiler.sweep.workers import Shard

    recipe = trials(load_spec(_spec_file(tmp_path)), ["lr=0.1,0.2,0.3,0.4,0.5"])
    goal, root, table = Goal("dev.gen", True, {}, {}), tmp_path / "sw", {0.1: 0.5, 0.2: 0.6, 0.3: 0.9, 0.4: 0.7, 0.5: 0.1}
    labs, guards, outs = [FakeLab(table), FakeLab(table)], [ExamGuard(), ExamGuard()], []
    for i in (0, 1):  # the two workers' folders land side by side in one sweep folder
        outs.append(run_worker(recipe, root, labs[i], "id1", Shard(i, 2), echo=lambda s: None, guard=guards[i]))
    assert labs[0].trained == [1, 3, 5] and labs[1].trained == [2, 4]  # disjoint, and together the grid
    assert labs[0].examined == labs[1].examined == [] and all(g.searched_dev_only for g in guards)
    assert all(g.phase == "search" for g in guards)  # a worker never opens the exam
    assert not (root / SWEEP_FILE).exists()  # sweep.json is the chooser's alone
    assert isinstance(outs[0], WorkerOutcome) and [r.index for r in outs[0].trials] == [1, 3, 5]
    doc = outs[1].to_json()
    assert doc["schema"] == "syllabus.sweep/1" and doc["status"] == "worker" and doc["worker"] == {"index": 1, "count": 2}
    assert doc["trials_total"] == 5 and [r["index"] for r in doc["results"]] == [2, 4]
    assert "once every worker has finished" in outs[1].render()
    chooser, lines = FakeLab(table), []
    out = run_sweep(recipe, goal, root, chooser, "id1", echo=lines.append)
    assert chooser.trained == [] and sum("done earlier" in line for line in lines) == 5
    assert out.chosen == 2 and chooser.examined == [recipe[2].folder]
    assert json.loads((root / SWEEP_FILE).read_text())["status"] == "done"


def test_a_worker_that_peeks_is_stopped_and_a_running_trial_is_not_taken_over(tmp_path):
    import os
    import socket

    from compiler.sweep.run import run_worker
    from compiler.sweep.workers import Shard

    recipe, root = _trials(tmp_path), tmp_path / "sw"
    peeker = FakeLab({0.1: 0.5, 0.2: 0.9, 0.3: 0.7}, peek=True)
    with pytest.raises(ExamPeek):
        run_worker(recipe, root, peeker, "id1", Shard(0, 2), echo=lambda s: None)
    assert peeker.trained == []
    # trial 2 is being run by a live process (this test's parent stands in for another worker)
    folder = root / recipe[1].folder
    folder.mkdir(parents=True)
    (folder / TRIAL_FILE).write_text(json.dumps({"index": 2, "key": recipe[1].key, "label": recipe[1].label,
                                                 "status": "running", "owner": f"{socket.gethostname()}:{os.getppid()}"}))
    chooser = FakeLab({0.1: 0.5, 0.2: 0.9, 0.3: 0.7})
    with pytest.raises(UsageError, match="trial 2 is being run by another process"):
        run_sweep(recipe, Goal("dev.gen", True, {}, {}), root, chooser, "id1", echo=lambda s: None)
    assert (folder / TRIAL_FILE).is_file() and chooser.examined == []


def test_under_a_launcher_each_process_is_a_standalone_worker(tmp_path, monkeypatch):
    """torchrun's RANK / WORLD_SIZE make the sweep a worker by itself; the launcher's variables are
    removed (training must not join the others in DDP) and the process sees its own GPU only."""
    import os

    from compiler.sweep.record import WorkerOutcome
    from compiler.sweep.run import sweep

    monkeypatch.chdir(tmp_path)
    for name, value in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2",
                        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500", "CUDA_VISIBLE_DEVICES": "4,5"}.items():
        monkeypatch.setenv(name, value)
    spec = _spec_file(tmp_path, "sweep: {grid: {lr: [0.1, 0.2, 0.3]}}\n")
    labs = []

    def factory(build, device):
        labs.append(FakeLab({0.1: 0.5, 0.2: 0.9, 0.3: 0.7}))
        return labs[-1]

    out = sweep(spec, (), _compile(spec), runs_root=tmp_path / "runs", lab_factory=factory, echo=lambda s: None)
    assert isinstance(out, WorkerOutcome) and str(out.worker) == "1/2" and labs[0].trained == [2]
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "5"
    assert not any(name in os.environ for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR"))
    assert not (out.folder / SWEEP_FILE).exists()
    # the plain sweep afterwards (no launcher) runs what is left and chooses once
    final = sweep(spec, (), _compile(spec), runs_root=tmp_path / "runs", lab_factory=factory, echo=lambda s: None)
    assert labs[1].trained == [1, 3] and final.folder == out.folder and final.chosen == 1


def _compile(spec: Path):
    """The compile step pipeline.sweep hands the sweep: the loaded spec and an --out → its build folder."""
    from compiler.pipeline import compile_spec

    return lambda loaded, out: compile_spec(spec, out, loaded=loaded).path


def _small_dev_spec(tmp_path: Path) -> Path:
    """The spec with a dev split of a few items: one open family of two products."""
    text = SPEC.replace("forms: [open, yes_no, either_or, completion, instruction]", "forms: [open, completion]")
    text = text.replace("    neighbours: {subject: neighbour, answer: \"{{ neighbour.color }}\"}\n", "")
    path = tmp_path / "small_dev.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the real lab, on a tiny model ------------------------------------------------------------


@pytest.mark.slow
def test_a_real_sweep_on_a_tiny_model_keeps_trials_independent(tmp_path, monkeypatch):
    """Two trials on one loaded model, then trial 2 alone in a new sweep: the same dev scores
    (the LoRA of trial 1 left nothing behind), the base weights bit for bit the same before
    every trial, and the exam's run gated like `syllabus run`'s."""
    import hashlib

    from compiler.sweep import lab as lab_module
    from compiler.sweep.run import sweep
    from tests._tiny import save_tiny

    monkeypatch.setenv("SYLLABUS_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    model = save_tiny(tmp_path / "tiny")
    extra = (f"train: {{model: {json.dumps(str(model))}, epochs: 0.5, batch_size: 16}}\n"
             "eval: {train_sample: 4, max_gen_tokens: 4}\n"
             "gate: {checks: [{kind: min_accuracy, split: test_paraphrase, min: 0.0}]}\n")
    spec = _spec_file(tmp_path, "sweep: {grid: {lr: [0.001, 0.01]}}\n", extra)
    digests = []

    class Watched(lab_module.LiveLab):
        def trial(self, trial, folder, guard):
            state = self._model().model.state_dict()
            digests.append(hashlib.sha256(b"".join(state[k].detach().numpy().tobytes() for k in sorted(state))).hexdigest())
            return super().trial(trial, folder, guard)

    both = sweep(spec, (), _compile(spec), runs_root=tmp_path / "runs", device="cpu", lab_factory=Watched, echo=lambda s: None)
    alone = sweep(spec, ["lr=0.01"], _compile(spec), runs_root=tmp_path / "runs", device="cpu", lab_factory=Watched,
                  echo=lambda s: None)
    assert len(digests) == 3 and len(set(digests)) == 1  # every trial started from the loaded weights
    assert alone.trials[0].metrics == both.trials[1].metrics
    assert both.exam.exit_code in (0, 1) and both.exam.status in ("pass", "fail")  # complete: a verdict
    run = both.folder / both.exam.trial
    for name in ("run.json", "adapter/adapter_config.json", "eval/base.json", "eval/tuned.json", "verdict.json"):
        assert (run / name).is_file(), name
    assert {s for s, _, _, _ in both.exam.scores} == {"train_sample", "test_paraphrase", "test_form", "test_locality"}
    # every trial kept its dev scoring, naming its adapter; compare reads the two trials on dev
    from compiler.comparison.compare import compare
    from compiler.sweep.record import DEV_FILE

    folders = sorted(both.folder.glob("trial-*"))
    for folder in folders:
        dev = json.loads((folder / DEV_FILE).read_text())
        run_json = json.loads((folder / "run.json").read_text())
        assert dev["arm"] == "tuned" and dev["adapter_sha256"] == run_json["adapter_sha256"], folder
    compared = compare(folders)
    n_dev = json.loads((both.folder / SWEEP_FILE).read_text())["dev_items"]
    assert compared.on == "dev" and {t.split for t in compared.tables} == {DEV_SPLIT}
    gen = next(t for t in compared.tables if t.reading == "gen")
    assert gen.shared == n_dev and len(gen.tests) == 1
    assert [r.correct / r.n for r in gen.rows] == [both.trials[0].metrics["dev.gen"], both.trials[1].metrics["dev.gen"]]


@pytest.mark.parametrize("args, says", [
    (["--grid", "lora.foo=1"], "'lora.foo': not a field of the spec's train: section"),
    (["--grid", "lr="], "no values"),
    ([], "nothing to try: the spec has no sweep: section"),
    (["--grid", "lr=0.1", "--worker", "2/2"], "--worker '2/2': write I/N"),
])
def test_the_command_refuses_bad_input_with_exit_2_before_any_work(tmp_path, monkeypatch, args, says):
    from click.testing import CliRunner

    from compiler.cli import main

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["sweep", str(_spec_file(tmp_path)), *args])
    assert result.exit_code == 2 and says in result.output, result.output
    assert not (tmp_path / "build").exists() and not (tmp_path / "runs").exists()  # refused before the compile


def test_validate_checks_the_sweep_section_too(tmp_path):
    from compiler.pipeline import validate

    assert validate(_spec_file(tmp_path, "sweep: {grid: {lr: [0.001, 0.002]}}\n")) == ()
    with pytest.raises(SpecError, match="lr=0.0: Input should be greater than 0") as err:
        validate(_spec_file(tmp_path, "sweep:\n  grid: {lr: [0.0]}\n"))
    assert err.value.problems[0].line == 21
    with pytest.raises(SpecError, match="eval.readings \\(mc\\) do not score the gen reading"):
        validate(_spec_file(tmp_path, "sweep:\n  objective: {maximize: dev.gen}\n", "eval: {readings: [mc]}\n"))
