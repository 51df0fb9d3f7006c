"""The spec's `gate:` section: the checks a release must pass, as pydantic models.

Each check class is one `kind:` of the discriminated union `Check`; release/checks.py
evaluates them. Re-exported from model.py, where the rest of the spec language lives.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field

from .fields import Strict
from ..names import GeneralSplit, Reading, ScoredSplit


def _reading() -> Any:
    # A field of its own per check class: pydantic keeps one FieldInfo per field.
    return Field(
        None,
        description="'mc' (multiple-choice log-likelihood) or 'gen' (greedy reply); default: the spec's primary "
        "reading, 'gen' when any rule's answers are explained (the verdict follows the stated fact), else 'mc'.",
    )


class MinAccuracy(Strict):
    kind: Literal["min_accuracy"]
    split: ScoredSplit
    min: float = Field(ge=0.0, le=1.0)
    reading: Reading | None = _reading()
    bound: Literal["point", "wilson_lower"] = "point"


class MaxDropVsBase(Strict):
    kind: Literal["max_drop_vs_base"]
    split: ScoredSplit
    max: float = Field(ge=0.0, le=1.0)
    reading: Reading | None = _reading()


class BeatsBase(Strict):
    kind: Literal["beats_base"]
    split: ScoredSplit
    min_gain: float = Field(0.0, ge=-1.0, le=1.0)
    alpha: float = Field(0.05, gt=0.0, lt=1.0, description="Significance of the paired McNemar test, tuned vs base.")
    reading: Reading | None = _reading()


class BeatsPrompted(Strict):
    """The tuned model must beat the base model given the rules as a system prompt: else a
    prompt would do, and the adapter is not worth shipping."""

    kind: Literal["beats_prompted"]
    split: ScoredSplit
    min_gain: float = Field(0.0, ge=-1.0, le=1.0)
    alpha: float = Field(0.05, gt=0.0, lt=1.0, description="Significance of the paired McNemar test, tuned vs prompted.")
    reading: Reading | None = _reading()


class BeatsConstant(Strict):
    """The tuned model must beat always giving the rule's answer (the `constant` arm): else
    it may have learned a reflex ("Blue" to everything), not the rule."""

    kind: Literal["beats_constant"]
    split: ScoredSplit
    min_gain: float = Field(
        0.0, ge=0.0, le=1.0, description="Accuracy the tuned model needs above the constant answer's; 0: any gain."
    )
    reading: Reading | None = _reading()


class MaxGap(Strict):
    kind: Literal["max_gap"]
    split: ScoredSplit = Field(description="Held-out split compared with train_sample.")
    max: float = Field(ge=0.0, le=1.0)
    reading: Reading | None = _reading()


class MaxGeneralDrift(Strict):
    """The tuned model must still answer general prompts as the base did: the base model's own
    greedy replies to the held-out general prompts may lose at most `max` nats per token of
    log-likelihood under the tuned model (the mean over prompts; 0 = unchanged)."""

    kind: Literal["max_general_drift"]
    split: GeneralSplit = Field("test_general", description="The held-out general prompts (retain.general).")
    max: float = Field(ge=0.0, le=100.0, description="Largest mean drop allowed, in nats per token.")


class MaxCollapsed(Strict):
    """The tuned model must not collapse to a word or two where the base wrote a reply: a held-out
    general prompt collapsed when the tuned reply has at most 3 words and the base's at least 8."""

    kind: Literal["max_collapsed"]
    split: GeneralSplit = Field("test_general", description="The held-out general prompts (retain.general).")
    max: float = Field(ge=0.0, le=1.0, description="Largest share of prompts allowed to collapse: 0.05 = 1 in 20.")


# The checks that read test_general (drift), not an accuracy under a reading.
GENERAL_CHECK_KINDS = frozenset({"max_general_drift", "max_collapsed"})

Check = Annotated[
    Union[MinAccuracy, MaxDropVsBase, BeatsBase, BeatsPrompted, BeatsConstant, MaxGap, MaxGeneralDrift, MaxCollapsed],
    Field(discriminator="kind"),
]


def _default_checks() -> list[Check]:
    return [
        MinAccuracy(kind="min_accuracy", split="test_paraphrase", min=0.9),
        MinAccuracy(kind="min_accuracy", split="test_form", min=0.8),
        BeatsBase(kind="beats_base", split="test_paraphrase", min_gain=0.5),
        # mc: the base model's knowledge of the neighbours, whatever the format of its replies
        MaxDropVsBase(kind="max_drop_vs_base", split="test_locality", max=0.05, reading="mc"),
    ]


class Gate(Strict):
    checks: list[Check] = Field(
        default_factory=_default_checks, min_length=1,
        description="What a release must show; at least one: a gate without checks could vouch for nothing.",
    )
