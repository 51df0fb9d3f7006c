"""breakdown: accuracy per split × question form, and the tuned model's misses."""

from compiler.release.breakdown import Miss, by_form, misses
from compiler.records import Example, Provenance
from compiler.evaluation.results import ArmResult, Sample, Score


def _ex(i: int, form: str, answer: str = "Blue") -> Example:
    prov = Provenance("r", form, "yes_no" if form == "yes_no" else "open", "f", 0, "rule", "box", (), ())
    return Example(f"{i:016x}", f"question {i}?", answer, answer, (answer, "Red"), 0, prov)


EXAMPLES = {"test_paraphrase": tuple(_ex(i, "open" if i < 4 else "yes_no", "Blue" if i < 4 else "No") for i in range(8))}


def _arm(name: str, right: set[int], replies: dict[int, str] | None = None) -> ArmResult:
    mc = tuple(Sample(f"{i:016x}", i in right) for i in range(8))
    scores = [Score.from_samples("test_paraphrase", "mc", mc)]
    if replies is not None:
        scores.append(Score.from_samples("test_paraphrase", "gen", tuple(
            Sample(f"{i:016x}", i in right, replies.get(i, "")) for i in range(8))))
    return ArmResult(name, "m", "sha", True, tuple(scores))


def test_accuracy_per_form_for_every_arm_and_none_for_a_missing_arm():
    arms = {"base": _arm("base", {4, 6}), "prompted": None, "constant": _arm("constant", {0, 1, 2, 3, 4, 5}),
            "tuned": _arm("tuned", {0, 1, 2, 3, 4, 5})}
    rows = by_form(EXAMPLES, arms)  # columns: base, prompted, constant, tuned
    assert [(r.form, r.reading, r.n, r.acc) for r in rows] == [
        ("open", "mc", 4, (0.0, None, 1.0, 1.0)), ("yes_no", "mc", 4, (0.5, None, 0.5, 0.5))]


def test_accuracy_per_form_per_reading():
    arms = {"base": _arm("base", {4, 6}), "tuned": _arm("tuned", {0, 1, 2, 3}, replies={})}
    rows = by_form(EXAMPLES, arms, readings=("mc", "gen"))
    assert [(r.form, r.reading, r.acc) for r in rows] == [
        ("open", "mc", (0.0, None, None, 1.0)), ("open", "gen", (None, None, None, 1.0)),
        ("yes_no", "mc", (0.5, None, None, 0.0)), ("yes_no", "gen", (None, None, None, 0.0))]


def test_misses_are_the_first_wrong_items_with_the_gen_reply():
    tuned = _arm("tuned", {0, 1, 2, 3, 4}, replies={5: "Yes", 6: "Yes, blue", 7: "No"})
    got = misses(EXAMPLES, tuned, per_split=2)
    assert got == (Miss("test_paraphrase", "yes_no", "question 5?", "No", "Yes"),
                   Miss("test_paraphrase", "yes_no", "question 6?", "No", "Yes, blue"))
    assert misses(EXAMPLES, None) == ()
