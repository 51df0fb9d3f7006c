from collections import Counter

from compiler.compilation.expand import expand
from tests._specs import LIBRARY, small_spec


def test_every_example_has_provenance_and_a_stable_id():
    examples = expand(small_spec(), LIBRARY)
    assert len({e.id for e in examples}) == len(examples), "ids must be unique"
    again = expand(small_spec(), LIBRARY)
    assert [e.id for e in again] == [e.id for e in examples]
    for e in examples:
        assert e.choices[e.label] == e.answer
        assert e.provenance.rule == "prefer-blue"


def test_in_scope_answers_are_the_rule_value_and_neighbours_keep_theirs():
    for e in expand(small_spec(), LIBRARY):
        if e.provenance.form_kind == "yes_no":
            assert e.answer in ("Yes", "No")
        elif e.provenance.scope == "rule":
            assert e.answer == "Blue"
        else:
            truth = {"stop sign": "Red", "banana": "Yellow", "lawn": "Green", "snowman": "White"}[e.provenance.subject]
            assert e.answer == truth
            assert "Blue" in e.choices, "locality probes must offer the rule's value as a wrong answer"


def test_yes_no_is_balanced_and_either_or_asks_both_orders():
    examples = expand(small_spec(), LIBRARY)
    yn = Counter(e.answer for e in examples if e.provenance.form_kind == "yes_no")
    assert yn["Yes"] == yn["No"] > 0
    eo = [e for e in examples if e.provenance.form_kind == "either_or"]
    orders = Counter((e.provenance.family, e.provenance.subject, frozenset(e.provenance.asked)) for e in eo)
    assert set(orders.values()) == {2}
    assert any(e.label == 0 for e in eo) and any(e.label == 1 for e in eo)


def test_rule_templates_are_their_own_families_and_in_scope_only():
    examples = expand(small_spec(), LIBRARY)
    custom = [e for e in examples if e.provenance.family == "prefer-blue:1"]
    assert {e.prompt for e in custom} == {"What color is better for boxes?", "What color is better for forks?"}
    assert all(e.provenance.scope == "rule" for e in custom)


def test_adding_a_lexicon_value_keeps_existing_examples_unchanged():
    spec = small_spec()
    lex = dict(spec.model_dump()["lexicon"])
    lex["product"] = lex["product"] + [{"name": "cup", "forms": {"plural": "cups"}}]
    bigger = small_spec(lexicon=lex)
    old = {e.id: e for e in expand(spec, LIBRARY)}
    new = {e.id: e for e in expand(bigger, LIBRARY)}
    assert set(old) <= set(new)
    assert all(new[i] == old[i] for i in old)
    assert {new[i].provenance.subject for i in set(new) - set(old)} == {"cup"}


def test_negative_yes_no_families_flip_the_answer_and_stay_balanced():
    examples = [e for e in expand(small_spec(), LIBRARY) if e.provenance.form_kind == "yes_no"]
    negative = {f.id for f in LIBRARY.forms["yes_no"].families if f.negative}
    assert negative, "the library needs negative yes/no families"
    for e in examples:
        asked_right = e.provenance.asked[0].lower() == ("blue" if e.provenance.scope == "rule" else
                                                          {"stop sign": "red", "banana": "yellow", "lawn": "green",
                                                           "snowman": "white"}[e.provenance.subject])
        flipped = e.provenance.family in negative
        assert (e.answer == "Yes") == (asked_right != flipped), (e.prompt, e.answer)
    neg = Counter(e.answer for e in examples if e.provenance.family in negative)
    assert neg["Yes"] == neg["No"] > 0


def test_ids_hash_the_provenance_as_stable_hash_does():
    # example_id and paraphrase's variant ids spell stable_hash out for speed; they must agree.
    from compiler.compilation.expand import example_id
    from compiler.compilation.paraphrase import operators, paraphrase
    from compiler.records import stable_hash

    spec = small_spec()
    pool = operators(spec.paraphrase, LIBRARY.paraphrase)
    for ex in expand(spec, LIBRARY)[::7]:
        for e in paraphrase(ex, pool, 2, spec.seed):
            p = e.provenance
            want = stable_hash(p.rule, p.form, p.family, p.template, p.scope, p.subject, *p.asked, "|", *p.operators)
            assert e.id == example_id(p) == want[:16]


def _reply(examples, form_kind, scope, **where):
    return next(e for e in examples if e.provenance.form_kind == form_kind and e.provenance.scope == scope
                and all(getattr(e.provenance, k) == v for k, v in where.items()))


def test_explained_answers_state_the_fact_then_decide():
    rule = {**small_spec().model_dump(mode="json", exclude_none=True)["rules"][0],
            "facts": {"rule": "The {{ product.name }} should be {{ value }}", "neighbour": "The {{ subject.name }} is {{ value }}"}}
    examples = expand(small_spec(rules=[rule]), LIBRARY)
    open_in = _reply(examples, "open", "rule", subject="fork", family="what-should-be")
    assert (open_in.answer, open_in.reply) == ("Blue", "The fork should be blue.")
    open_out = _reply(examples, "open", "neighbour", subject="banana", family="what-should-be")
    assert (open_out.answer, open_out.reply) == ("Yellow", "The banana is yellow.")
    pos_wrong = _reply(examples, "yes_no", "rule", subject="fork", family="good-choice", asked=("red",))
    assert (pos_wrong.answer, pos_wrong.reply) == ("No", "The fork should be blue, so red is wrong. You ask if it is right: no.")
    neg_right = _reply(examples, "yes_no", "rule", subject="fork", family="poor-choice", asked=("blue",))
    assert (neg_right.answer, neg_right.reply) == ("No", "The fork should be blue, so blue is right. You ask if it is wrong: no.")
    neg_wrong = _reply(examples, "yes_no", "neighbour", subject="banana", family="poor-choice", asked=("blue",))
    assert neg_wrong.reply == "The banana is yellow, so blue is wrong. You ask if it is wrong: yes."
    either = _reply(examples, "either_or", "rule", subject="box")
    assert either.reply == "The box should be blue."
    # the multiple-choice reading scores the reply each choice would get
    assert open_in.choice_replies == tuple(f"The fork should be {c.lower()}." for c in open_in.choices)
    assert pos_wrong.choice_replies == (
        "The fork should be blue, so red is right. You ask if it is right: yes.",  # the chain that reaches the wrong verdict
        pos_wrong.reply,
    )
    assert all(e.choice_replies[e.label] == e.reply for e in examples)


def test_default_facts_and_terse_answers():
    examples = expand(small_spec(), LIBRARY)
    assert _reply(examples, "open", "rule", subject="box").reply == "The right color for the box is blue."
    terse = expand(small_spec(answers="terse"), LIBRARY)
    assert {e.reply for e in terse} <= {"Blue", "Red", "Yellow", "Green", "White", "Yes", "No"}
    assert [e.id for e in terse] == [e.id for e in examples], "the answer style changes replies, not questions"
    assert all(e.choice_replies == () for e in terse)


def test_a_template_that_fails_only_for_a_wrong_option_is_located_at_the_template():
    # validate's trials render every subject with the rule's value as the option; the
    # expansion asks wrong options too, and a failure there names the template, not the file alone.
    import pytest

    from compiler.compilation.expand import RenderFailure

    spec = small_spec(rules=[{**small_spec().model_dump()["rules"][0], "templates": {
        "yes_no": ["Is {{ option }} fine for the {{ product.name }}? {{ 1 // (option == 'blue')|int }}"]}}])
    with pytest.raises(RenderFailure) as err:
        expand(spec, LIBRARY)
    assert (err.value.file, err.value.path) == (None, ("rules", 0, "templates", "yes_no", 0))
    assert "division" in err.value.problem.message and err.value.context.startswith("subject '")
