from compiler.expand import expand
from compiler.paraphrase import Operators, apply, operators, paraphrase
from compiler.spec import Paraphrase
from tests._specs import LIBRARY, small_spec


def test_operators_apply_as_named():
    assert apply("syn:best>ideal", "Which color is best for the box?") == "Which color is ideal for the box?"
    assert apply("syn:best>ideal", "Best color?") == "Ideal color?"
    assert apply("syn:best>ideal", "What color?") is None
    assert apply("prefix:Hey, ", "What color?") == "Hey, what color?"
    assert apply("suffix: Thanks!", "What color?") == "What color? Thanks!"
    assert apply("front", "Which color is best for the box?") == "For the box, which color is best?"


def test_variants_keep_answer_and_record_operators():
    ex = next(e for e in expand(small_spec(), LIBRARY) if e.provenance.form == "open")
    pool = operators(Paraphrase(prefixes=["Quick question: "]), LIBRARY.paraphrase)
    out = paraphrase(ex, pool, variants=3, seed=1)
    assert out[0] == ex
    assert len({v.prompt for v in out}) == len(out) > 1
    for v in out[1:]:
        assert v.answer == ex.answer and v.choices == ex.choices
        assert v.provenance.operators and v.id != ex.id
        assert v.provenance.family == ex.provenance.family


def test_no_operators_means_no_variants():
    ex = expand(small_spec(), LIBRARY)[0]
    assert paraphrase(ex, Operators((), ()), variants=5, seed=1) == [ex]
