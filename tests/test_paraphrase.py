from compiler.compilation.expand import expand
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.compilation.paraphrase import Operators, _operator, _pick, operators, paraphrase
from compiler.spec.model import Paraphrase
from tests._specs import LIBRARY, small_spec


def test_operators_apply_as_named():
    assert _operator("syn:best>ideal")("Which color is best for the box?") == "Which color is ideal for the box?"
    assert _operator("syn:best>ideal")("Best color?") == "Ideal color?"
    assert _operator("syn:best>ideal")("What color?") is None
    assert _operator("prefix:Hey, ")("What color?") == "Hey, what color?"
    assert _operator("suffix: Thanks!")("What color?") == "What color? Thanks!"
    assert _operator("front")("Which color is best for the box?") == "For the box, which color is best?"


def test_variants_keep_answer_and_record_operators():
    ex = next(e for e in expand(small_spec(), LIBRARY) if e.provenance.form == "open")
    pool = operators(Paraphrase(prefixes=["Quick question: "]), LIBRARY.paraphrase)
    out = paraphrase(ex, pool, variants=3, seed=1)
    assert out[0] == ex
    assert len({v.prompt for v in out}) == len(out) > 1
    for v in out[1:]:
        assert v.answer == ex.answer and v.choices == ex.choices and v.reply == ex.reply
        assert v.choice_replies == ex.choice_replies and len(v.choice_replies) == len(v.choices)
        assert v.provenance.operators and v.id != ex.id
        assert v.provenance.family == ex.provenance.family


def test_no_operators_means_no_variants():
    ex = expand(small_spec(), LIBRARY)[0]
    assert paraphrase(ex, Operators((), ()), variants=5, seed=1) == [ex]


_WORDS = ["best", "Best", "BEST", "bést", "unbest", "good", "goods", "pick", "K", "\u212a", "ſ", "use", "for", "the", "box"]
_OPS = ("syn:best>ideal", "syn:good>fine", "syn:pick>choose", "syn:k>kay", "syn:\u212a>kelvin", "syn:s>es", "front")


@settings(max_examples=300, deadline=None)
@given(words=st.lists(st.sampled_from(_WORDS), min_size=1, max_size=8), unit=st.floats(0, 0.999))
def test_the_substring_shortcut_picks_what_trying_every_operator_picks(words, unit):
    # _pick skips synonyms whose word is not in the text before running their regex;
    # the reference tries each operator in turn from the same seeded start.
    text = " ".join(words) + "?"
    start = int(unit * len(_OPS))
    want = None
    for i in range(len(_OPS)):
        op = _OPS[(start + i) % len(_OPS)]
        out = _operator(op)(text)
        if out is not None and out != text:
            want = (op, out)
            break
    assert _pick(unit, _OPS, text) == want
