"""The constant-answer baseline: build → the `constant` arm, with no model at all.

Every item is answered by a constant that never reads the question: open, either-or,
completion and instruction items get their rule's value ("Blue"), yes/no items the
verdict most of that rule's yes/no lessons in train have (ties → "Yes"). It is what
"always say the rule's answer" scores: right in scope, wrong for neighbours, chance on
balanced yes/no. A tuned model that does not beat it may have learned a reflex, not the
rule — which accuracy alone hides: in the founding spec it scores 0.77 on test_paraphrase
and 1.00 on test_form (every held-out completion's answer is "Blue").

Deterministic and model-free; it reads the build's data files only. A split it cannot
read is left out and the arm marked incomplete, as evaluation/arms.py does, so a check that
needs it fails closed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence

from ..build.read import Build, read_split
from ..errors import UsageError
from ..records import Example
from .results import ArmResult, Sample, Score
from ..spec.model import Spec
from ..build.tasks import report_order
from ..names import READINGS

MODEL = "constant answer"


@dataclass(frozen=True)
class _RuleAnswers:
    """One rule's two constants: its value, for questions whose answer is a value, and the
    train majority verdict, for yes/no questions."""

    value: str
    verdict: str


def _verdict(counts: Counter[str]) -> str:
    """Casefolded yes/no answer counts → the majority verdict; a tie (or none) → "Yes"."""
    return "No" if counts["no"] > counts["yes"] else "Yes"


def _rule_answers(spec: Spec, train: Sequence[Example]) -> dict[str, _RuleAnswers]:
    """Spec + train examples → rule id → its constants. Only train counts: the verdict is a
    prior learned from the lessons, never from the items it is scored on."""
    verdicts: dict[str, Counter[str]] = {}
    for ex in train:
        if ex.provenance.form_kind == "yes_no":
            verdicts.setdefault(ex.provenance.rule, Counter())[ex.answer.strip().casefold()] += 1
    return {r.id: _RuleAnswers(r.value, _verdict(verdicts.get(r.id, Counter()))) for r in spec.rules}


def _sample(ex: Example, answers: _RuleAnswers) -> Sample:
    """Example + its rule's constants → the constant's Sample (reply spelled as the item's choice)."""
    constant = answers.verdict if ex.provenance.form_kind == "yes_no" else answers.value
    key = constant.strip().casefold()
    reply = next((c for c in ex.choices if c.strip().casefold() == key), constant)
    return Sample(ex.id, ex.answer.strip().casefold() == key, reply)


def _split_samples(split: str, items: Sequence[Example],
                   answers: Mapping[str, _RuleAnswers]) -> tuple[tuple[Sample, ...], str | None]:
    """One split's examples → (samples, None), or ((), why not) when an item's rule is unknown."""
    unknown = sorted({ex.provenance.rule for ex in items} - answers.keys())
    if unknown:
        return (), f"{split}: items of rules the spec does not define ({', '.join(unknown)})"
    return tuple(_sample(ex, answers[ex.provenance.rule]) for ex in items), None


def _read(build: Build, split: str) -> tuple[tuple[Example, ...], str | None]:
    """Build + split → (its examples, None), or ((), why it could not be read)."""
    try:
        return read_split(build, split), None
    except UsageError as exc:
        return (), f"{split}: {exc}"
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        return (), f"{split}: data/{split}.jsonl is unreadable ({type(exc).__name__}: {exc})"


def constant_arm(build: Build) -> ArmResult:
    """Build → the `constant` ArmResult: a Score per scored split × the spec's readings.

    Both readings get the same samples: the constant is one answer word, which is right
    under mc exactly when it is the item's answer, and under gen a reply that is that word."""
    train, problem = _read(build, "train")
    if problem is not None:  # without train there is no yes/no verdict to answer with
        return ArmResult("constant", MODEL, build.manifest.sha256, False, (), problems=(problem,))
    answers = _rule_answers(build.spec, train)
    readings = [r for r in READINGS if r in build.spec.eval.readings]
    scores: list[Score] = []
    problems: list[str] = []
    for split in report_order(build.manifest.tasks):
        items, problem = _read(build, split)
        samples: tuple[Sample, ...] = ()
        if problem is None:
            samples, problem = _split_samples(split, items, answers)
        if problem is not None:
            problems.append(problem)
            continue
        scores += [Score.from_samples(split, reading, samples) for reading in readings]
    return ArmResult("constant", MODEL, build.manifest.sha256, not problems, tuple(scores), problems=tuple(problems))
