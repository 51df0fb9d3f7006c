"""The example budget (compiler/budget.py and its check): counted before anything renders."""

from __future__ import annotations

import copy

import pytest
import yaml

import compiler.spec.check as check
from compiler.spec.budget import count_examples, held_count
from compiler.compilation.chain import compile_loaded
from compiler.errors import SpecError
from compiler.compilation.expand import expand
from compiler.spec.loader import load_spec
from tests.conftest import SPECS

BLUE = yaml.safe_load((SPECS / "blue_products.yaml").read_text())


def _write(tmp_path, edit) -> object:
    data = copy.deepcopy(BLUE)
    edit(data)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize(
    "n, frac, held",
    [(0, 0.3, 0), (1, 0.5, 0), (2, 0.0, 0), (2, 0.3, 1), (2, 0.9, 1), (3, 0.3, 1), (7, 0.3, 2), (9, 0.3, 3),
     (10, 0.3, 3), (10, 0.5, 5), (4, 0.99, 3), (5, 0.99, 4), (5, 0.0, 0)],
)
def test_held_count_keeps_one_on_each_side(n, frac, held):
    assert held_count(n, frac) == held


@pytest.mark.parametrize("name", ["blue_products.yaml", "metric_units.yaml", "product_names.yaml"])
def test_the_count_is_the_expansion_and_bounds_the_build(name):
    loaded = load_spec(SPECS / name)
    spec = loaded.spec
    counts = count_examples(tuple(enumerate(spec.rules)), {k: len(v) for k, v in spec.lexicon.items()},
                            loaded.library, spec.paraphrase.variants)
    questions = sum(c.subjects * c.per_subject + c.neighbours * c.per_neighbour for c in counts)
    assert questions == len(expand(spec, loaded.library))  # exact: the same product expand walks
    built = compile_loaded(loaded).splits
    assert sum(c.total for c in counts) >= sum(len(rows) for _, rows in built.items())


def test_a_spec_over_budget_is_refused_at_the_rule_before_anything_renders(tmp_path, monkeypatch):
    def edit(d):
        d["lexicon"]["product"] = [{"name": f"item{i}", "plural": f"item{i}s"} for i in range(3000)]
        d["paraphrase"]["variants"] = 20

    path = _write(tmp_path, edit)
    renders = []
    monkeypatch.setattr(check, "render", lambda source, variables: renders.append(source) or "x")
    with pytest.raises(SpecError) as err:
        load_spec(path)
    (problem,) = err.value.problems
    assert problem.field == "rules[0]" and problem.line > 0
    assert "expands to 4,368,168 examples, above limits.max_examples (1,000,000)" in problem.message
    assert "3,000 values of lexicon.product × 69 questions each" in problem.message
    assert "16 values of lexicon.neighbour × 63 questions each" in problem.message
    assert "× 21 wordings" in problem.message
    # Over budget, each template is trial-rendered once, not once per value (3,000 × 60 renders).
    assert len(renders) < 200


def test_limits_max_examples_moves_the_budget(tmp_path):
    path = _write(tmp_path, lambda d: d.update(limits={"max_examples": 2000}))
    with pytest.raises(SpecError, match=r"expands to 2,292 examples, above limits.max_examples \(2,000\)"):
        load_spec(path)
    load_spec(_write(tmp_path, lambda d: d.update(limits={"max_examples": 2292})))


def test_a_huge_distractor_slot_is_refused_for_its_draws(tmp_path):
    def edit(d):
        d["lexicon"].update(color=[f"shade{i}" for i in range(2000)], product=[f"p{i}" for i in range(20)])
        del d["rules"][0]["templates"]
        d["limits"] = {"max_examples": 5000}

    path = _write(tmp_path, edit)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    (problem,) = err.value.problems
    assert problem.field == "rules[0].distractors"
    # (20 subjects + 16 neighbours) × 41 families × 2,000 colours; 4,536 examples are within the budget
    assert "ranks 2,952,000 distractor values, above the 100 per example limits.max_examples allows (500,000)" \
        in problem.message
    assert "2,000 values of lexicon.color" in problem.message


def test_a_broken_paraphrase_block_counts_the_most_variants(tmp_path):
    # The budget must not be passed by a spec whose other errors hide its variants.
    def edit(d):
        d["paraphrase"]["variants"] = "many"
        d["limits"] = {"max_examples": 3000}

    path = _write(tmp_path, edit)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert any("× 21 wordings" in p.message for p in err.value.problems)
