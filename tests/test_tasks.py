"""compiler.build.tasks: the lm-eval task files of a build — names, determinism, no absolute
paths, the gen reading's scoring, and lm-eval actually loading and running them."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import _evalkit as evalkit
from compiler.build.tasks import UTILS_FILE, group_name, task_files, task_names
from compiler.names import SCORED_SPLITS

LM_EVAL = Path(sys.executable).parent / "lm_eval"


def _utils_module(tmp_path: Path):
    """The generated utils.py, imported from a file like lm-eval does."""
    path = tmp_path / "utils.py"
    path.write_text(task_files("x", SCORED_SPLITS)[UTILS_FILE], encoding="utf-8")
    spec = importlib.util.spec_from_file_location("generated_utils", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_names_follow_the_build_name():
    names = task_names("blue-products", "test_form")
    assert names.mc == "syllabus_blue_products_test_form"
    assert names.gen == "syllabus_blue_products_test_form_gen"
    assert group_name("blue-products") == "syllabus_blue_products"
    with pytest.raises(ValueError, match="not a scored split"):
        task_names("blue-products", "train")


def test_files_are_deterministic_and_path_free():
    a = task_files("blue-products", SCORED_SPLITS, 16)
    b = task_files("blue-products", list(SCORED_SPLITS), 16)
    assert a == b and list(a) == sorted(a)
    expected = {f"{n}.yaml" for s in SCORED_SPLITS for n in vars(task_names("blue-products", s)).values()}
    assert set(a) == expected | {"syllabus_blue_products.yaml", UTILS_FILE}
    here = str(Path.cwd())
    for rel, text in a.items():
        assert here not in text and str(Path.home()) not in text, rel
        # no absolute path anywhere: nothing like "/work", "C:\\" or a quoted "/x"
        assert not re.search(r"""(^|[\s"'=:])(/[A-Za-z_]|[A-Za-z]:\\)""", text, re.M), (rel, text)
        assert not Path(rel).is_absolute()


def test_yaml_fields(tmp_path):
    from lm_eval.tasks._yaml_loader import load_yaml

    files = task_files("blue-products", SCORED_SPLITS, 7)
    for rel, text in files.items():
        (tmp_path / rel).write_text(text, encoding="utf-8")
    mc = load_yaml(tmp_path / "syllabus_blue_products_test_form.yaml", resolve_func=False)
    gen = load_yaml(tmp_path / "syllabus_blue_products_test_form_gen.yaml", resolve_func=False)
    group = load_yaml(tmp_path / "syllabus_blue_products.yaml", resolve_func=False)
    assert mc["output_type"] == "multiple_choice" and mc["doc_to_choice"] == "mc_choices" and mc["doc_to_target"] == "label"
    assert "target_delimiter" not in mc  # lm-eval's default: " " plain, "" under a chat template
    assert mc["dataset_kwargs"] == {"syllabus_split": "test_form"}
    assert gen["output_type"] == "generate_until"
    assert gen["generation_kwargs"] == {"until": ["\n"], "do_sample": False, "temperature": 0.0, "max_gen_toks": 7}
    assert [m["metric"] for m in gen["metric_list"]] == ["acc"]
    assert group["group"] == "syllabus_blue_products" and len(group["task"]) == 2 * len(SCORED_SPLITS)


@pytest.mark.parametrize(
    "reply, choices, want",
    [
        ("The answer is: Blue.", ["Red", "Blue"], 1),
        ("blue, not red", ["Red", "Blue"], 1),  # case-insensitive, first occurrence wins
        ("I'd say red or blue", ["Blue", "Red"], 1),
        ("Bluebell and Reddish", ["Blue", "Red"], None),  # whole words only
        ("Paint it light blue", ["light", "light blue"], 1),  # longer option wins at one position
        ("Yes.", ["Yes", "No"], 0),
        ("", ["Yes", "No"], None),
        ("Nope", ["Yes", "No"], None),
    ],
)
def test_first_option(tmp_path, reply, choices, want):
    utils = _utils_module(tmp_path)
    assert utils.first_option(reply, choices) == want
    doc = {"choices": choices, "label": 1, "form_kind": "either_or"}
    assert utils.process_gen(doc, [reply]) == {"acc": 1.0 if want == 1 else 0.0}


@pytest.mark.parametrize(
    "reply, want",
    [
        ("The box should be blue, so red is wrong. You ask if it is right: no.", 1),
        ("The box should be blue, so blue is right. You ask if it is right: yes.", 0),
        ("No, wait. Yes.", 0),  # the last verdict counts: the reply's conclusion
        ("YES", 0),
        ("Nothing is known", None),  # "Nothing", "known": no standalone verdict word
        ("", None),
        ("The box should be blue.", None),  # no verdict at all: unreadable, so wrong
    ],
)
def test_yes_no_verdict_is_the_last_yes_no_word(tmp_path, reply, want):
    utils = _utils_module(tmp_path)
    doc = {"choices": ["Yes", "No"], "label": 1, "form_kind": "yes_no"}
    assert utils.verdict(reply, doc) == want
    assert utils.process_gen(doc, [reply]) == {"acc": 1.0 if want == 1 else 0.0}


def test_lm_eval_lists_and_loads_tasks_from_a_moved_build(tmp_path):
    from lm_eval.tasks import TaskManager

    built = evalkit.write_build(tmp_path / "a")
    moved = tmp_path / "elsewhere" / built.name
    shutil.copytree(built, moved)  # data is found relative to the task folder, wherever it lies
    shutil.rmtree(built)
    manager = TaskManager(include_path=str(moved / "tasks"), include_defaults=False)
    names = [n for s in evalkit.SPLITS for n in vars(task_names(built.name, s)).values()]
    assert set(names) | {group_name(built.name)} <= set(manager.all_tasks)
    loaded = manager.load([group_name(built.name)])["tasks"]
    assert set(loaded) == set(names)
    for split in evalkit.SPLITS:
        docs = list(loaded[task_names(built.name, split).mc].eval_docs)
        assert [d["id"] for d in docs] == [r["id"] for r in evalkit.rows(split)]


def _tiny_model_dir(root: Path) -> Path:
    tok = evalkit.tiny_tokenizer()
    model = evalkit.tiny_model(tok)
    out = root / "tiny-model"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.mark.slow
def test_lm_eval_command_line_lists_and_runs_the_group(tmp_path):
    """`lm_eval ls tasks --include_path` (0.4.13's spelling of `--tasks list`) and a --limit run."""
    build = evalkit.write_build(tmp_path)
    listed = subprocess.run(
        [str(LM_EVAL), "ls", "tasks", "--include_path", str(build / "tasks")],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )
    assert listed.returncode == 0, listed.stderr[-2000:]
    for split in evalkit.SPLITS:
        assert task_names(build.name, split).gen in listed.stdout
    model_dir = _tiny_model_dir(tmp_path)
    out = tmp_path / "out"
    elsewhere = tmp_path / "cwd"  # the data must not be looked up relative to the working directory
    elsewhere.mkdir()
    ran = subprocess.run(
        [
            str(LM_EVAL), "--model", "hf", "--model_args", f"pretrained={model_dir}", "--device", "cpu",
            "--include_path", str(build / "tasks"), "--tasks", group_name(build.name), "--limit", "4",
            "--apply_chat_template", "--output_path", str(out),
        ],
        capture_output=True, text=True, cwd=elsewhere, timeout=600,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    results = json.loads(sorted(out.rglob("results_*.json"))[-1].read_text())["results"]
    for split in evalkit.SPLITS:
        for name in vars(task_names(build.name, split)).values():
            assert 0.0 <= results[name]["acc,none"] <= 1.0
