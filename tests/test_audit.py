import dataclasses

from compiler.compilation.audit import _normalized, audit, normalize
from compiler.compilation.expand import expand
from compiler.compilation.paraphrase import operators
from compiler.spec.model import Leakage
from compiler.compilation.split import split
from tests._specs import LIBRARY, small_spec


def _splits():
    spec = small_spec()
    base = expand(spec, LIBRARY)
    return split(spec, LIBRARY, base, operators(spec.paraphrase, LIBRARY.paraphrase))


def test_normalize():
    assert normalize("Quick question:  What COLOUR is best?") == "quick question what colour is best"


def test_bulk_normalization_matches_normalize_prompt_by_prompt():
    rows = _splits().train[:3]
    odd = ("ΑΣ: Stop!", "Hi!\nWhat COLOUR?", "x—y  z")  # final sigma; a newline inside a prompt; a dash
    for prompts in ([ex.prompt for ex in rows], list(odd)):
        batch = tuple(dataclasses.replace(rows[0], prompt=text) for text in prompts)
        assert _normalized(batch) == [normalize(text) for text in prompts]


def test_clean_build_reports_zero():
    report = audit(_splits(), Leakage())
    assert report.refused == ()
    for s in report.splits:
        assert (s.exact, s.ngram, s.structural) == (0, 0, 0) and s.n > 0


def test_planted_exact_leak_is_caught_with_its_pair():
    s = _splits()
    victim = s.train[0]
    planted = dataclasses.replace(
        s.test_paraphrase[0], prompt=victim.prompt.upper() + "!!", id="planted0000000000"
    )
    leaky = dataclasses.replace(s, test_paraphrase=s.test_paraphrase + (planted,))
    report = audit(leaky, Leakage())
    tp = report.splits[0]
    assert tp.exact == 1 and tp.ngram >= 1
    assert any(p.test_id == "planted0000000000" and p.train_id == victim.id for p in tp.pairs)
    assert report.refused


def test_planted_ngram_leak_and_structural_crossing_are_caught():
    s = _splits()
    long_train = dataclasses.replace(
        s.train[0], prompt="one two three four five six seven eight nine ten", id="longtrain0000000"
    )
    probe = dataclasses.replace(s.test_form[0], prompt="zero one two three four five six seven eight", id="probe00000000000")
    crossing = dataclasses.replace(s.test_locality[0], id="cross00000000000")
    crossing = dataclasses.replace(
        crossing, provenance=dataclasses.replace(crossing.provenance, subject=next(
            e.provenance.subject for e in s.train if e.provenance.scope == "neighbour"))
    )
    leaky = dataclasses.replace(
        s, train=s.train + (long_train,), test_form=s.test_form + (probe,), test_locality=s.test_locality + (crossing,)
    )
    report = audit(leaky, Leakage(ngram=8))
    by = {x.split: x for x in report.splits}
    assert by["test_form"].ngram == 1
    assert by["test_form"].pairs[0].shared == "one two three four five six seven eight"
    assert (by["test_form"].pairs[0].train_id, by["test_form"].pairs[0].kind) == ("longtrain0000000", "ngram")
    assert by["test_locality"].structural == 1
    assert len(report.refused) == 2
    # Within the limit, the same leak is reported but not refused.
    relaxed = audit(leaky, Leakage(max_ngram_share=1.0)).refused
    assert len(relaxed) == 1 and "test_locality" in relaxed[0]


def test_the_audit_record_reads_back_what_it_wrote():
    import json

    from compiler.compilation.audit import AuditReport

    splits = _splits()
    leaky = dataclasses.replace(splits, test_paraphrase=splits.test_paraphrase + splits.train[:2])
    report = audit(leaky, Leakage(max_exact=10**6, max_ngram_share=1.0))
    assert any(s.pairs for s in report.splits)
    doc = json.loads(json.dumps(report.to_json()))
    assert AuditReport.from_json(doc) == report  # leakage.json, with pairs
    summary = AuditReport.from_json(json.loads(json.dumps(report.summary())))  # the manifest's copy
    assert summary == dataclasses.replace(report, splits=tuple(dataclasses.replace(s, pairs=()) for s in report.splits))
    assert summary.splits[0].counts() == {k: doc["splits"][summary.splits[0].split][k]
                                          for k in ("exact", "ngram", "ngram_share", "structural")}


def _dev_splits():
    spec = small_spec(splits={"hold_out": {"forms": ["completion"]}, "dev": 0.3})
    base = expand(spec, LIBRARY)
    return split(spec, LIBRARY, base, operators(spec.paraphrase, LIBRARY.paraphrase))


def test_a_dev_split_is_audited_against_train_and_every_test_split_against_it():
    s = _dev_splits()
    report = audit(s, Leakage())
    assert s.dev and report.refused == ()
    names = [a.split for a in report.splits]
    assert "dev" in names and {"test_paraphrase~dev", "test_form~dev", "test_locality~dev"} <= set(names)
    # a dev question planted into train, and one planted into a test split: each refused, named
    leaked = audit(dataclasses.replace(s, train=s.train + (s.dev[0],)), Leakage())
    assert any(r.startswith("dev: ") and "train" in r for r in leaked.refused)
    peeked = audit(dataclasses.replace(s, test_form=s.test_form + (dataclasses.replace(s.dev[0], id="p" * 16),)), Leakage())
    assert any(r.startswith("test_form~dev: ") and "with dev" in r for r in peeked.refused), peeked.refused
