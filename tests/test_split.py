from collections import Counter

from compiler.compilation.expand import expand
from compiler.compilation.paraphrase import operators
from compiler.compilation.split import plan, split, split_of
from tests._specs import LIBRARY, small_spec


def _split(spec):
    base = expand(spec, LIBRARY)
    ops = operators(spec.paraphrase, LIBRARY.paraphrase)
    return base, ops, split(spec, LIBRARY, base, ops)


def test_splits_are_structurally_disjoint():
    spec = small_spec()
    base, ops, s = _split(spec)
    train_fams = {(e.provenance.form, e.provenance.family) for e in s.train if e.provenance.scope == "rule"}
    train_forms = {e.provenance.form for e in s.train}
    train_nbrs = {e.provenance.subject for e in s.train if e.provenance.scope == "neighbour"}
    assert s.test_paraphrase and s.test_form and s.test_locality
    assert not {(e.provenance.form, e.provenance.family) for e in s.test_paraphrase} & train_fams
    assert not {e.provenance.form for e in s.test_form} & train_forms
    assert not {e.provenance.subject for e in s.test_locality} & train_nbrs
    assert {e.provenance.scope for e in s.test_paraphrase} == {"rule"}
    assert {e.provenance.scope for e in s.test_locality} == {"neighbour"}
    hp = plan(spec, LIBRARY, base, ops)
    train_ops = {o for e in s.train for o in e.provenance.operators}
    test_ops = {o for _, rows in s.items()[1:] for e in rows for o in e.provenance.operators}
    assert train_ops <= {*hp.train_ops.lexical, *hp.train_ops.frame} and test_ops <= {*hp.test_ops.lexical, *hp.test_ops.frame}
    assert not train_ops & test_ops


def test_yes_no_balanced_in_every_split():
    _, _, s = _split(small_spec())
    for name, rows in s.items():
        c = Counter(e.answer for e in rows if e.provenance.form_kind == "yes_no")
        assert c["Yes"] == c["No"], (name, c)


def test_split_depends_on_seed_only_through_stable_hashes():
    a = _split(small_spec())[2]
    b = _split(small_spec())[2]
    assert a == b
    c = _split(small_spec(seed=99))[2]
    assert [e.id for e in c.test_paraphrase] != [e.id for e in a.test_paraphrase]


def test_retain_off_leaves_no_neighbours_in_train():
    spec = small_spec(splits={"hold_out": {"forms": ["completion"]}, "retain": False})
    _, _, s = _split(spec)
    assert all(e.provenance.scope == "rule" for e in s.train)
    assert s.test_locality


def test_retain_share_keeps_whole_families_per_neighbour():
    def retained(spec):
        _, _, s = _split(spec)
        return [e for e in s.train if e.provenance.scope == "neighbour"]

    everything = retained(small_spec(splits={"hold_out": {"forms": ["completion"]}}))
    part = retained(small_spec(splits={"hold_out": {"forms": ["completion"]}, "retain_share": 0.4}))
    assert 0 < len(part) < len(everything)
    assert {e.id for e in part} <= {e.id for e in everything}
    # every kept (neighbour, family) keeps all of its rows: nothing is split inside a family
    key = lambda e: (e.provenance.subject, e.provenance.form, e.provenance.family)  # noqa: E731
    kept = {key(e) for e in part}
    assert {e.id for e in everything if key(e) in kept} == {e.id for e in part}
    # neighbours differ in which families they keep: that is where the wording diversity comes from
    by_subject = {}
    for k in kept:
        by_subject.setdefault(k[0], set()).add(k[1:])
    assert len({frozenset(v) for v in by_subject.values()}) > 1


def test_set_aside_counts_the_base_questions_no_split_takes():
    spec = small_spec(splits={"hold_out": {"forms": ["completion"]}, "retain_share": 0.4})
    base, ops, s = _split(spec)
    hp = plan(spec, LIBRARY, base, ops)
    left_out = [ex for ex in base if split_of(ex, hp, spec.splits, spec.seed) is None]
    assert s.set_aside == len(left_out) > 0
    assert {ex.provenance.scope for ex in left_out} == {"neighbour"}  # what compile's progress line says


# The dev split (splits.dev): whole train-side families carved out of train, for `syllabus sweep`.


def _dev_spec(share=0.3, **overrides):
    return small_spec(splits={"hold_out": {"forms": ["completion"]}, "dev": share}, **overrides)


def _family(e):
    return (e.provenance.rule, e.provenance.form, e.provenance.family)


def test_no_dev_share_leaves_every_split_as_it_was():
    without = _split(small_spec())[2]
    explicit = _split(_dev_spec(0.0))[2]
    assert explicit == without and explicit.dev == ()


def test_dev_takes_whole_train_side_families_out_of_train():
    before = _split(small_spec())[2]
    _, _, s = _split(_dev_spec())
    dev_fams = {_family(e) for e in s.dev}
    assert s.dev and {e.provenance.scope for e in s.dev} == {"rule", "neighbour"}
    assert not dev_fams & {_family(e) for e in s.train}  # whole families: none left in train
    assert dev_fams <= {_family(e) for e in before.train}  # every one was a train family
    for name in ("test_paraphrase", "test_form", "test_locality"):  # the exam does not move
        assert getattr(s, name) == getattr(before, name), name
    # train lost exactly the dev families' lessons (paraphrased alike: the same ids), and nothing else
    assert {e.id for e in s.train} == {e.id for e in before.train if _family(e) not in dev_fams}


def test_dev_is_disjoint_from_every_test_split_and_unparaphrased():
    _, _, s = _split(_dev_spec())
    assert all(e.provenance.operators == () for e in s.dev)  # neither train's wordings nor the exam's
    for name, rows in s.items()[1:]:
        assert not {_family(e) for e in rows} & {_family(e) for e in s.dev}, name
        assert not {e.prompt for e in rows} & {e.prompt for e in s.dev}, name
    assert not {e.provenance.subject for e in s.test_locality} & {e.provenance.subject for e in s.dev}
    assert not {e.provenance.form for e in s.test_form} & {e.provenance.form for e in s.dev}


def test_dev_is_balanced_and_every_seen_form_keeps_train_families():
    _, _, s = _split(_dev_spec(0.6))
    c = Counter(e.answer for e in s.dev if e.provenance.form_kind == "yes_no")
    assert c["Yes"] == c["No"] > 0
    assert {e.provenance.form for e in s.dev} <= {e.provenance.form for e in s.train}


def test_dev_families_are_seeded_and_grow_with_the_share():
    fams = lambda spec: {_family(e) for e in _split(spec)[2].dev}  # noqa: E731
    assert fams(_dev_spec()) == fams(_dev_spec())
    assert fams(_dev_spec(0.3)) != fams(_dev_spec(0.3, seed=99))
    assert len(fams(_dev_spec(0.2))) <= len(fams(_dev_spec(0.6)))


def test_dev_share_is_omitted_from_the_resolved_spec_when_unset():
    # spec.json of a build without a dev split: the same bytes as before the field existed
    assert "dev" not in small_spec().model_dump()["splits"] and "sweep" not in small_spec().model_dump()
    assert _dev_spec(0.2).model_dump(mode="json")["splits"]["dev"] == 0.2
