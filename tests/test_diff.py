"""diffs/compare.py / diffs/render.py / gitrev.py / pipeline.diff: what a spec change does to the datasets.

Unit tests run on in-memory builds (Side); CLI tests on build folders written here
row by row; end-to-end tests compile variants of specs/blue_products.yaml."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.compilation.audit import audit
from compiler.cli import main
from compiler.diffs.compare import diff_sides, exit_code
from compiler.diffs.sides import Side, read_audit
from compiler.errors import UsageError
from compiler.diffs.render import render_diff
from compiler.build.rows import EXAMPLE_ROWS
from compiler.records import Example, Provenance, SplitSet, stable_hash
from compiler.names import SPLITS
from compiler.spec.model import Leakage
from tests._fakes import fake_manifest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden" / "diff"
UPDATE = os.environ.get("SYLLABUS_UPDATE_GOLDEN") == "1"


# ---------------------------------------------------------------- fixtures built by hand

def _h(*parts: object) -> str:
    # fixture ids of their own, so the golden file does not change with records.stable_hash
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def ex(subject="box", family="f1", form="open", template=0, prompt=None, answer="Blue", rule="r", ops=()) -> Example:
    prov = Provenance(rule, form, "open", family, template, "rule", subject, (), tuple(ops))
    prompt = prompt if prompt is not None else f"What color for the {subject} ({family}/{template}{''.join(ops)})?"
    choices = (answer, "Red") if answer != "Red" else ("Red", "Blue")
    return Example(_h(prov)[:16], prompt, answer, f"{answer}.", choices, 0, prov)


def side(label="old", audit_counts=None, **splits) -> Side:
    full = {s: tuple(splits.get(s, ())) for s in SPLITS}
    return Side(label, "fake", _h(label), full, audit_counts or {})


BASE = dict(
    train=[ex("box"), ex("fork"), ex("box", template=1), ex("cup", family="f3")],
    test_paraphrase=[ex("box", family="f2"), ex("fork", family="f2")],
    test_form=[ex("box", form="completion", family="c1")],
    test_locality=[ex("stop sign", family="n1", answer="Red")],
)


def kinds(d):
    return sorted((e.kind, e.old_split, e.new_split) for e in d.entries)


def check_identity(d):
    for _, c in (*d.splits, *d.groups):
        assert c.new == c.old + c.added - c.removed + c.moved_in - c.moved_out


# ---------------------------------------------------------------- the core

def test_a_build_diffed_with_itself_is_empty():
    d = diff_sides(side(**BASE), side("new", **BASE))
    assert d.empty and d.entries == () and d.groups == ()
    assert exit_code(d, "changes") == 0 and exit_code(d, "leaks") == 0
    assert "no differences" in render_diff(d, "text", 20)


def test_added_and_removed_land_in_their_splits():
    new = dict(BASE, train=[*BASE["train"], ex("spoon")], test_form=[])
    d = diff_sides(side(**BASE), side("new", **new))
    assert kinds(d) == [("added", "", "train"), ("removed", "test_form", "")]
    totals = dict(d.splits)
    assert (totals["train"].added, totals["test_form"].removed, totals["total"].changed) == (1, 1, 0)
    assert exit_code(d, "changes") == 1 and exit_code(d, "leaks") == 0 and exit_code(d, None) == 0
    check_identity(d)


def test_an_answer_change_is_changed_not_removed_and_added():
    old_ex = BASE["train"][0]
    new_ex = replace(old_ex, answer="Green", reply="Green.", choices=("Green", "Red"))
    d = diff_sides(side(**BASE), side("new", **dict(BASE, train=[new_ex, *BASE["train"][1:]])))
    assert kinds(d) == [("changed", "train", "train")]
    (e,) = d.entries
    assert e.section == "answer"
    assert [(f.field, f.old, f.new) for f in e.fields] == [
        ("answer", "Blue", "Green"), ("reply", "Blue.", "Green."), ("choices", "Blue | Red", "Green | Red")]
    check_identity(d)


def test_answer_changes_come_first_in_entries_and_output():
    a = replace(BASE["train"][1], prompt="Reworded?")
    b = replace(BASE["test_locality"][0], answer="Crimson")
    d = diff_sides(side(**BASE), side("new", **dict(BASE, train=[BASE["train"][0], a, *BASE["train"][2:]],
                                                     test_locality=[b])))
    assert [e.section for e in d.entries] == ["answer", "changed"]
    text = render_diff(d, "text", 20)
    assert text.index("Answer changes") < text.index("Changed text")


def test_a_family_moved_from_test_into_train_is_a_leak():
    moved = BASE["test_paraphrase"]
    d = diff_sides(side(**BASE), side("new", **dict(BASE, train=[*BASE["train"], *moved], test_paraphrase=[])))
    assert kinds(d) == [("moved", "test_paraphrase", "train")] * 2
    assert len(d.leaks) == 2 and all(e.section == "leak" for e in d.entries)
    assert exit_code(d, "leaks") == 1 and exit_code(d, "changes") == 1
    counts = dict(d.splits)
    assert (counts["train"].moved_in, counts["test_paraphrase"].moved_out) == (2, 2)
    check_identity(d)
    # the reverse direction (train → test) is a change, not a leak
    back = diff_sides(side("new", **dict(BASE, train=[*BASE["train"], *moved], test_paraphrase=[])), side(**BASE))
    assert not back.leaks and exit_code(back, "leaks") == 0


def test_same_content_under_a_new_id_is_renamed_or_moved():
    old_ex = BASE["test_paraphrase"][0]
    renamed = replace(old_ex, id="f" * 16, provenance=replace(old_ex.provenance, family="f2-renamed"))
    same_split = diff_sides(side(**BASE), side("new", **dict(BASE, test_paraphrase=[renamed, BASE["test_paraphrase"][1]])))
    assert kinds(same_split) == [("renamed", "test_paraphrase", "test_paraphrase")]
    assert same_split.entries[0].old_id == old_ex.id and not same_split.leaks
    check_identity(same_split)
    into_train = diff_sides(side(**BASE), side("new", **dict(BASE, train=[*BASE["train"], renamed],
                                                              test_paraphrase=[BASE["test_paraphrase"][1]])))
    assert kinds(into_train) == [("moved", "test_paraphrase", "train")]
    assert exit_code(into_train, "leaks") == 1


def test_other_options_in_the_same_question_slot_are_changed_not_removed_and_added():
    def either_or(a: str, b: str, split_family="f1") -> Example:
        prov = Provenance("r", "either_or", "either_or", split_family, 0, "rule", "box", (a, b), ())
        return Example(_h(prov)[:16], f"{a.title()} or {b}?", a.title(), a.title(), (a.title(), b.title()), 0, prov)

    old, new = either_or("blue", "red"), either_or("green", "red")
    d = diff_sides(side(train=[old]), side("new", train=[new]))
    assert kinds(d) == [("changed", "train", "train")]
    (e,) = d.entries
    assert e.old_id == old.id and e.id == new.id and e.section == "answer"
    assert ("asked", "blue | red", "green | red") in [(f.field, f.old, f.new) for f in e.fields]
    check_identity(d)
    assert dict(d.splits)["total"].renamed == 0


def test_duplicate_contents_pair_within_a_split_first():
    a, b = ex("box", family="x", prompt="Same?"), ex("box", family="y", prompt="Same?")
    a2, b2 = replace(a, id="a" * 16), replace(b, id="b" * 16)
    d = diff_sides(side(train=[a], test_paraphrase=[b]), side("new", train=[b2], test_paraphrase=[a2]))
    assert kinds(d) == [("renamed", "test_paraphrase", "test_paraphrase"), ("renamed", "train", "train")]
    assert not d.leaks


def test_audit_increase_trips_leaks_but_a_share_alone_does_not():
    old = side(audit_counts={"test_form": {"exact": 0, "ngram": 2, "ngram_share": 0.2}}, **BASE)
    worse = side("new", audit_counts={"test_form": {"exact": 1, "ngram": 2, "ngram_share": 0.2}}, **BASE)
    share = side("new", audit_counts={"test_form": {"exact": 0, "ngram": 2, "ngram_share": 0.25}}, **BASE)
    assert exit_code(diff_sides(old, worse), "leaks") == 1
    assert [(a.metric, a.delta) for a in diff_sides(old, worse).audit_increases] == [("exact", 1.0)]
    assert exit_code(diff_sides(old, share), "leaks") == 0
    assert "exact rose 0 → 1" in render_diff(diff_sides(old, worse), "text", 20)


def test_read_audit_reads_what_audit_py_writes(tmp_path):
    train = (ex("box", prompt="one two three four five six seven eight nine"),)
    test = (ex("fork", family="f2", prompt="zero one two three four five six seven eight"),)
    report = audit(SplitSet(train, test, (), ()), Leakage(ngram=8, max_exact=0, max_ngram_share=1.0))
    (tmp_path / "leakage.json").write_text(json.dumps(report.to_json()))
    counts = read_audit(tmp_path)
    assert counts["test_paraphrase"]["ngram"] == 1 and counts["test_paraphrase"]["exact"] == 0
    assert "n" not in counts["test_paraphrase"] and "structural" in counts["test_form"]
    assert read_audit(tmp_path / "nowhere") == {}
    (tmp_path / "leakage.json").write_text(json.dumps({"ngram": 8, "splits": {"test_form": {"exact": 1}}}))
    with pytest.raises(UsageError, match="leakage.json: not a leakage audit .*recompile the build"):
        read_audit(tmp_path)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_counts_balance_and_order_does_not_matter(data):
    pool = [ex(s, family=f, template=t) for s in ("box", "fork", "cup") for f in ("f1", "f2") for t in (0, 1)]

    def draw_side(label):
        chosen = data.draw(st.lists(st.sampled_from(range(len(pool))), unique=True), label=label)
        splits: dict[str, list] = {s: [] for s in SPLITS}
        for i in chosen:
            e = pool[i]
            if data.draw(st.booleans()):
                e = replace(e, answer="Green")
            splits[data.draw(st.sampled_from(SPLITS))].append(e)
        return splits

    old, new = draw_side("old"), draw_side("new")
    d = diff_sides(side(**old), side("new", **new))
    check_identity(d)
    shuffled = {s: random.Random(1).sample(v, len(v)) for s, v in new.items()}
    assert render_diff(diff_sides(side(**old), side("new", **shuffled)), "json", 5) == render_diff(d, "json", 5)
    matched = sum(1 for e in d.entries if e.kind != "added")
    assert matched <= sum(map(len, old.values()))


# ---------------------------------------------------------------- rendering

def _rich_diff():
    """Old → new with one of everything: an answer change, an edit, a leak, a rename, adds, a removal."""
    new_train = [replace(BASE["train"][0], answer="Green", reply="Green.", choices=("Green", "Red")),
                 replace(BASE["train"][1], prompt="Which colour suits the fork | best?"),
                 *BASE["train"][2:], BASE["test_paraphrase"][0],
                 *(ex(s) for s in ("spoon", "knife", "plate"))]
    loc = BASE["test_locality"][0]
    new = dict(train=new_train, test_paraphrase=[],
               test_form=[replace(BASE["test_form"][0], id="c" * 16,
                                  provenance=replace(BASE["test_form"][0].provenance, family="c1-renamed"))],
               test_locality=[])
    old_audit = {"test_form": {"exact": 0, "ngram": 0, "ngram_share": 0.0, "structural": 0}}
    new_audit = {"test_form": {"exact": 0, "ngram": 1, "ngram_share": 1.0, "structural": 0}}
    return diff_sides(side("build/old", old_audit, **BASE), side("build/new", new_audit, **new)), loc


def test_markdown_matches_the_golden_file():
    d, _ = _rich_diff()
    got = render_diff(d, "markdown", 2)
    golden = GOLDEN / "rich.md"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(got, encoding="utf-8")
    assert golden.exists(), f"{golden} is missing; SYLLABUS_UPDATE_GOLDEN=1 (make golden) writes it"
    assert got == golden.read_text(encoding="utf-8"), "markdown changed; `make golden` rewrites it if intended"
    assert "<details><summary>Answer changes — train" in got and "… and 1 more" in got
    assert "fork \\| best" in got  # a pipe inside a cell is escaped


def test_markdown_fits_a_pull_request_comment():
    many = [ex(f"thing {i}", family=f"fam{i % 400}", prompt=f"{'Very long question ' * 5}{i}?") for i in range(4000)]
    d = diff_sides(side(), side("new", train=many))
    md = render_diff(d, "markdown", 20)
    assert len(md) < 65_536
    assert "more groups left out to fit a pull-request comment" in md and "more groups (`--format json`" in md
    assert md.count("<details>") == md.count("</details>")


def test_text_shows_summary_then_details_and_colours_only_when_asked():
    d, _ = _rich_diff()
    plain, coloured = render_diff(d, "text", 2), render_diff(d, "text", 2, color=True)
    assert "\x1b[" not in plain and "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
    assert plain.index("split") < plain.index("Answer changes") < plain.index("Added")
    assert "… and 1 more" in plain and "leakage risk: 1 example moved" in plain
    assert "… and" not in render_diff(d, "text", 50)


def test_json_is_stable_sorted_and_documented():
    d, _ = _rich_diff()
    out = render_diff(d, "json", 1)
    doc = json.loads(out)
    assert out == json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False)
    assert set(doc) == {"schema", "schema_version", "old", "new", "summary", "groups", "audit", "leaks", "entries", "empty"}
    assert doc["schema"] == "syllabus.diff/1" and doc["schema_version"] == 1 and doc["empty"] is False
    assert [s["split"] for s in doc["summary"]] == [*SPLITS, "total"]
    assert len(doc["entries"]) == len(d.entries)  # --limit does not shorten JSON
    assert doc["leaks"]["moved_into_train"] == 1
    assert doc["leaks"]["audit_increases"][0]["metric"] == "ngram"
    first = doc["entries"][0]
    assert first["section"] == "answer" and first["fields"][0] == {"field": "answer", "old": "Blue", "new": "Green"}
    assert set(first["provenance"]) >= {"rule", "form", "family", "template", "subject"}


# ---------------------------------------------------------------- build folders and the CLI

def write_build(folder: Path, splits: dict, leakage: dict | None = None) -> Path:
    """Examples per split → a minimal build folder that buildio.read_build accepts."""
    (folder / "data").mkdir(parents=True)
    for s in SPLITS:
        rows = [json.dumps(EXAMPLE_ROWS.to_row(e, s)) for e in splits.get(s, ())]
        (folder / "data" / f"{s}.jsonl").write_text("".join(r + "\n" for r in rows))
    spec = {"syllabus": 1, "name": "fake", "lexicon": {"product": ["box"]},
            "rules": [{"id": "r", "statement": "s", "subject": "product", "attribute": "color", "value": "blue",
                       "distractors": "product", "forms": ["open"]}]}
    (folder / "spec.json").write_text(json.dumps(spec))
    manifest = fake_manifest("fake", {s: len(splits.get(s, ())) for s in SPLITS}, spec_sha256=stable_hash(folder.name))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "leakage.json").write_text(json.dumps(leakage or {"ngram": 8, "refused": [], "splits": {}}))
    return folder


def invoke(*args):
    return CliRunner().invoke(main, ["diff", *map(str, args)])


def test_cli_on_build_folders(tmp_path):
    old = write_build(tmp_path / "old", BASE)
    new = write_build(tmp_path / "new", dict(BASE, train=[*BASE["train"], *BASE["test_paraphrase"]], test_paraphrase=[]))
    same = invoke(old, old, "--fail-on", "changes")
    assert same.exit_code == 0 and "no differences" in same.output
    assert invoke(old, new).exit_code == 0
    assert invoke(old, new, "--fail-on", "changes").exit_code == 1
    leak = invoke(old, new, "--fail-on", "leaks", "--format", "json")
    assert leak.exit_code == 1 and json.loads(leak.output)["leaks"]["moved_into_train"] == 2
    assert "<details>" in invoke(old, new, "--format", "markdown").output


def test_not_a_build_exits_2_naming_what_is_missing(tmp_path):
    old = write_build(tmp_path / "old", BASE)
    (tmp_path / "empty").mkdir()
    r = invoke(old, tmp_path / "empty")
    assert r.exit_code == 2 and "manifest.json" in r.output and "Traceback" not in r.output
    (tmp_path / "partial").mkdir()
    shutil.copytree(old, tmp_path / "partial", dirs_exist_ok=True)
    (tmp_path / "partial" / "data" / "test_form.jsonl").unlink()
    r = invoke(old, tmp_path / "partial")
    assert r.exit_code == 2 and "data/test_form.jsonl" in r.output
    assert invoke(old).exit_code == 2 and "two builds" in invoke(old).output
    assert invoke(old, old, "--limit", "-1").exit_code == 2


# ---------------------------------------------------------------- end to end: compiled specs

def _spec(tmp_path: Path, name: str, edit=None) -> Path:
    doc = yaml.safe_load((ROOT / "specs" / "blue_products.yaml").read_text())
    if edit:
        edit(doc)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """name → build folder, for the base spec and one variant per kind of edit (compiled once)."""
    from compiler.pipeline import compile_spec

    tmp = tmp_path_factory.mktemp("diff-builds")
    variants = {
        "base": None,
        "more": lambda d: d["lexicon"]["product"].append({"name": "cup", "plural": "cups"}),
        "green": lambda d: d["rules"][0].update(value="green"),
        "phrasing": lambda d: d["rules"][0].update(facts={"rule": "The {{ subject.name }} must be {{ value }}"}),
        "no_holdout": _no_holdout,
    }
    return {k: compile_spec(_spec(tmp, k, v), tmp / k).path for k, v in variants.items()}


def _no_holdout(d: dict) -> None:
    """Hold no family out: test_paraphrase is empty, so no gate check may read it (validate refuses)."""
    d["splits"]["hold_out"].update(templates=0.0, operators=0.0)
    d["gate"]["checks"] = [c for c in d["gate"]["checks"] if c.get("split") != "test_paraphrase"]


def _json(*args) -> dict:
    r = invoke(*args, "--format", "json")
    assert r.exit_code in (0, 1), r.output
    return json.loads(r.output)


def test_compiled_same_spec_is_empty(compiled, tmp_path):
    from compiler.pipeline import compile_spec

    again = compile_spec(_spec(tmp_path, "base"), tmp_path / "again").path
    assert invoke(compiled["base"], again, "--fail-on", "changes").exit_code == 0


def test_compiled_new_subject_adds_exactly_its_examples(compiled):
    doc = _json(compiled["base"], compiled["more"])
    kinds_seen = {e["kind"] for e in doc["entries"]}
    assert kinds_seen == {"added"}
    # Besides the cup's own examples, test_form takes a few more seen neighbours, to keep as many
    # out-of-scope items as in-scope ones (split.plan): additions only, nothing already there moves.
    others = [e for e in doc["entries"] if e["provenance"]["subject"] != "cup"]
    assert all(e["new_split"] == "test_form" and e["provenance"]["scope"] == "neighbour" for e in others)
    from compiler.build.read import read_build, read_split

    new = read_build(compiled["more"])
    for s in SPLITS:
        cups = sum(1 for e in read_split(new, s) if e.provenance.subject == "cup")
        more = sum(1 for e in others if e["new_split"] == s)
        row = next(r for r in doc["summary"] if r["split"] == s)
        assert row["added"] == cups + more and row["removed"] == row["changed"] == 0


def test_compiled_answer_change_is_changed(compiled):
    doc = _json(compiled["base"], compiled["green"])
    rule_entries = [e for e in doc["entries"] if e["provenance"]["scope"] == "rule"]
    assert rule_entries and all(e["kind"] == "changed" for e in rule_entries)
    assert any(f["field"] == "answer" and f["new"].lower().startswith("green")
               for e in rule_entries for f in e["fields"])
    assert doc["entries"][0]["section"] == "answer"
    phr = _json(compiled["base"], compiled["phrasing"])
    assert phr["entries"] and {f["field"] for e in phr["entries"] for f in e["fields"]} == {"reply"}


def test_compiled_held_out_family_moved_into_train_trips_leaks(compiled):
    r = invoke(compiled["base"], compiled["no_holdout"], "--fail-on", "leaks", "--format", "json")
    assert r.exit_code == 1, r.output
    doc = json.loads(r.output)
    assert doc["leaks"]["moved_into_train"] > 0
    assert any(e["kind"] == "moved" and e["old_split"] == "test_paraphrase" and e["new_split"] == "train"
               for e in doc["entries"])


# ---------------------------------------------------------------- --against REV

def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                   capture_output=True)


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "repo"
    (repo / "specs").mkdir(parents=True)
    spec = _spec(repo / "specs", "blue")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "spec")
    return repo, spec


def test_against_rev_diffs_the_working_tree_with_the_past(repo, tmp_path, monkeypatch):
    import tempfile

    repo, spec = repo
    private = tmp_path / "tmp"  # a temp root of its own: other processes use the shared /tmp meanwhile
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    same = invoke(spec, "--against", "HEAD", "--fail-on", "changes")
    assert same.exit_code == 0, same.output
    doc = yaml.safe_load(spec.read_text())
    doc["lexicon"]["product"].append({"name": "cup", "plural": "cups"})
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    r = invoke(spec, "--against", "HEAD", "--format", "json", "--fail-on", "changes")
    assert r.exit_code == 1, r.output
    out = json.loads(r.output)
    assert out["old"]["label"] == "specs/blue.yaml@HEAD"
    assert {e["kind"] for e in out["entries"]} == {"added"}
    assert list(private.iterdir()) == []  # no temporary folder left behind
    broken = spec.read_text().replace("syllabus: 1", "syllabus: 1\nbogus_key: 3")
    _git(repo, "commit", "-q", "-am", "cup")
    spec.write_text(broken)
    _git(repo, "commit", "-q", "-am", "broken")
    spec.write_text(doc and yaml.safe_dump(doc, sort_keys=False))
    r = invoke(spec, "--against", "HEAD")  # the spec at HEAD does not load: exit 2, named as HEAD:path
    assert r.exit_code == 2 and "HEAD:specs/blue.yaml" in r.output and str(private) not in r.output, r.output
    assert list(private.iterdir()) == []


def test_against_rev_reads_the_template_packs_at_rev_too(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "examples" / "template_pack", repo / "kitchen")  # spec with `template_packs: [.]`
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "pack")
    form = repo / "kitchen" / "forms" / "scenario.yaml"
    form.write_text(form.read_text().replace("for the team", "for the whole team"))
    r = invoke(repo / "kitchen" / "spec.yaml", "--against", "HEAD", "--format", "json")
    assert r.exit_code == 0, r.output
    entries = json.loads(r.output)["entries"]
    assert entries and all(e["kind"] == "changed" and e["provenance"]["form"] == "scenario" for e in entries)
    assert all("for the whole team" in e["prompt"] for e in entries)


def test_against_rev_errors_are_clear(repo, tmp_path):
    repo, spec = repo
    r = invoke(spec, "--against", "no-such-branch")
    assert r.exit_code == 2 and "unknown revision" in r.output
    assert "unknown revision" in invoke(spec, "--against", "--help").output
    other = repo / "specs" / "other.yaml"
    shutil.copy(spec, other)
    r = invoke(other, "--against", "HEAD")
    assert r.exit_code == 2 and "did not exist at HEAD" in r.output
    outside = _spec(tmp_path, "loose")
    r = invoke(outside, "--against", "HEAD")
    assert r.exit_code == 2 and "not inside" in r.output and "git checkout" in r.output
    assert invoke(spec, spec, "--against", "HEAD").exit_code == 2
