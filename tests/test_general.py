"""The general prompt pack and its split: compiler/templates/general/ → train-side retain prompts and
the held-out test_general split, model-free and deterministic."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from compiler.compilation.audit import ngrams, normalize
from compiler.build.read import read_build, read_general
from compiler.build.rows import GENERAL_ROWS
from compiler.errors import SpecError
from compiler.spec.general_pack import load_general_pack
from compiler.compilation.general_split import GeneralShortfall, retain_count, split_general
from compiler.spec.library import BUILTIN_PACK
from compiler.pipeline import compile_spec, stats
from compiler.spec.model import GENERAL_CHECK_KINDS, GeneralRetain
from tests.conftest import SPECS

PACK = load_general_pack((BUILTIN_PACK,))
GENERAL = {"share": 0.1, "held_out": 0.3, "test_size": 20}


def _families(pack=PACK) -> dict[tuple[str, str], list]:
    out: dict[tuple[str, str], list] = {}
    for p in pack.prompts:
        out.setdefault((p.kind, p.family), []).append(p)
    return out


def test_the_pack_is_large_varied_and_unique():
    assert len(PACK.prompts) >= 300
    kinds = set(PACK.kinds)
    assert len(kinds) >= 12
    assert {"writing", "lists", "arithmetic", "translation", "explanation", "code", "summary", "rewriting", "advice",
            "facts", "classification", "conversation"} <= kinds
    assert len({p.id for p in PACK.prompts}) == len(PACK.prompts)
    assert len({" ".join(p.prompt.split()).casefold() for p in PACK.prompts}) == len(PACK.prompts)
    per_kind = Counter(k for k, _ in _families())
    assert min(per_kind.values()) >= 2, "every kind needs a family on each side of the split"


def test_no_long_word_sequence_is_shared_between_families():
    """Whole families go to one side, so the leakage audit (8-grams, the default) can never
    refuse a build for the general prompts: no 8-gram of one family occurs in another."""
    seen: dict[str, tuple[str, str]] = {}
    for fam, prompts in _families().items():
        for p in prompts:
            for g in ngrams(normalize(p.prompt).split(), 8):
                assert seen.setdefault(g, fam) == fam, f"{g!r} in {fam} and {seen[g]}"


def test_a_broken_pack_file_is_a_located_error(tmp_path: Path):
    (tmp_path / "general").mkdir()
    (tmp_path / "general" / "x.yaml").write_text(
        "kind: x\nfamilies:\n  - id: a\n    templates: ['Say {{ missing }}.']\n    fills: {word: [hi]}\n")
    with pytest.raises(SpecError) as err:
        load_general_pack((tmp_path,))
    assert "x.yaml:4:17: families[0].templates[0]: undefined variable 'missing'" in str(err.value)


def test_split_holds_out_whole_families_and_spreads_over_kinds():
    settings = GeneralRetain(share=0.1, held_out=0.3, test_size=20)
    sides = split_general(settings, PACK, seed=7, n_lessons=508)
    assert len(sides.train) == retain_count(0.1, 508) == 56  # 508 · 0.1 / 0.9 = 56.4
    assert len(sides.test) == 20
    train_fams = {(p.kind, p.family) for p in sides.train}
    test_fams = {(p.kind, p.family) for p in sides.test}
    assert not train_fams & test_fams
    held = {fam for fam in _families() if fam not in train_fams} & test_fams
    assert held == test_fams
    # 20 over 12 kinds: every kind once, 8 of them twice; train covers every kind too
    assert sorted(Counter(p.kind for p in sides.test).values()) == [1] * 4 + [2] * 8
    assert set(Counter(p.kind for p in sides.train)) == set(PACK.kinds)
    assert list(sides.train) == sorted(sides.train, key=lambda p: p.id)
    assert split_general(settings, PACK, seed=7, n_lessons=508) == sides  # deterministic
    assert split_general(settings, PACK, seed=8, n_lessons=508) != sides  # seeded


def test_split_refuses_what_the_pack_cannot_give():
    with pytest.raises(GeneralShortfall) as err:
        split_general(GeneralRetain(share=0.9), PACK, seed=7, n_lessons=508)
    assert err.value.path == ("retain", "general", "share")
    with pytest.raises(GeneralShortfall) as err:
        split_general(GeneralRetain(test_size=1000), PACK, seed=7, n_lessons=508)
    assert err.value.path == ("retain", "general", "test_size")


def _spec_doc(general: dict | None) -> dict:
    """The founding spec with retain.general set to `general` (None: without general prompts, and
    without the checks that read them)."""
    doc = yaml.safe_load((SPECS / "blue_products.yaml").read_text())
    doc.pop("retain", None)
    doc["gate"]["checks"] = [c for c in doc["gate"]["checks"] if c["kind"] not in GENERAL_CHECK_KINDS]
    if general is not None:
        doc["retain"] = {"general": general}
    return doc


@pytest.fixture(scope="module")
def general_build(tmp_path_factory) -> Path:
    spec = tmp_path_factory.mktemp("spec") / "blue_general.yaml"
    spec.write_text(yaml.safe_dump(_spec_doc(GENERAL), sort_keys=False))
    return compile_spec(spec, tmp_path_factory.mktemp("builds") / "blue-general").path


@pytest.fixture(scope="module")
def plain_build(tmp_path_factory) -> Path:
    spec = tmp_path_factory.mktemp("spec") / "blue_plain.yaml"
    spec.write_text(yaml.safe_dump(_spec_doc(None), sort_keys=False))
    return compile_spec(spec, tmp_path_factory.mktemp("builds") / "blue-plain").path


def test_compile_writes_both_sides_counts_them_and_audits_test_general(general_build: Path, plain_build: Path):
    import pyarrow.parquet as pq

    build = read_build(general_build)
    manifest = json.loads((general_build / "manifest.json").read_text())
    train, test = read_general(build, "train_general"), read_general(build, "test_general")
    n_rule = manifest["counts"]["splits"]["train"]
    assert (len(train), len(test)) == (retain_count(0.1, n_rule), 20)  # share 0.1 → one per nine rule lessons
    assert manifest["counts"]["splits"]["train_general"] == len(train) and manifest["counts"]["splits"]["test_general"] == 20
    assert sum(manifest["general"]["by_kind"]["test_general"].values()) == 20
    assert manifest["general"]["pack_sha256"] == PACK.sha256
    for name, rows in (("train_general", train), ("test_general", test)):
        lines = [json.loads(line) for line in (general_build / "data" / f"{name}.jsonl").read_text().splitlines()]
        assert lines == [GENERAL_ROWS.to_row(g, name) for g in rows]
        assert pq.read_table(general_build / "data" / f"{name}.parquet").to_pylist() == lines
    audit = json.loads((general_build / "leakage.json").read_text())["splits"]["test_general"]
    assert (audit["n"], audit["structural"], audit["exact"], audit["ngram"]) == (20, 0, 0, 0)
    # the rule lessons do not move: general prompts are an addition
    assert (general_build / "data" / "train.jsonl").read_bytes() == (plain_build / "data" / "train.jsonl").read_bytes()
    assert not (plain_build / "data" / "test_general.jsonl").exists()
    assert json.loads((plain_build / "manifest.json").read_text())["general"] is None
    assert read_general(read_build(plain_build), "test_general") == ()


def test_the_audit_sees_a_general_family_on_both_sides():
    import dataclasses

    from compiler.compilation.audit import audit
    from compiler.records import SplitSet
    from compiler.spec.model import Leakage

    sides = split_general(GeneralRetain(), PACK, seed=7, n_lessons=100)
    leaked = dataclasses.replace(sides.test[0], id="leaked")  # a test prompt, copied into train
    splits = SplitSet((), (), (), (), train_general=(*sides.train, leaked), test_general=sides.test)
    report = audit(splits, Leakage())
    line = next(s for s in report.splits if s.split == "test_general")
    assert line.structural >= 1 and line.exact == 1
    assert any("test_general" in r for r in report.refused)


def test_stats_shows_the_general_prompts(general_build: Path):
    text = stats(general_build, 2).render()
    assert "test_general" in text and "train_general" in text
    assert "[writing/" in text or "[advice/" in text or "/" in text


def test_the_constant_arm_and_the_lint_leave_general_prompts_alone(general_build: Path):
    from compiler.compilation.chain import check_lessons
    from compiler.evaluation.constant import constant_arm
    from compiler.spec.loader import load_spec

    build = read_build(general_build)
    arm = constant_arm(build)
    assert arm.complete and "test_general" not in {s.split for s in arm.scores}
    loaded = load_spec(general_build / "spec.yaml")
    assert check_lessons(loaded) is loaded  # the lint runs over the rule lessons; general prompts have no answers
