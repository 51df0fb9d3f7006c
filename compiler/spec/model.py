"""The spec language: what users write, as pydantic models.

Every model forbids unknown fields (a typo is an error, not a silent default) and is
frozen. Unions are discriminated by `kind:`. `spec_json_schema()` is the source of
`syllabus schema` (editor completion). The building blocks (Strict, bounded text) are in
fields.py; the gate: section's checks in gate_checks.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, model_serializer, model_validator

from ..names import READINGS, Reading
from .fields import MAX_WORD, Sentence, Short, Strict, Synonym, Word
# The gate: section lives in gate_checks.py; its names are re-exported here (release/ and tests import them).
from .gate_checks import (
    GENERAL_CHECK_KINDS as GENERAL_CHECK_KINDS,
    BeatsBase as BeatsBase,
    BeatsConstant as BeatsConstant,
    BeatsPrompted as BeatsPrompted,
    Check as Check,
    Gate,
    MaxCollapsed as MaxCollapsed,
    MaxDropVsBase as MaxDropVsBase,
    MaxGap as MaxGap,
    MaxGeneralDrift as MaxGeneralDrift,
    MinAccuracy as MinAccuracy,
)
# The sweep: section (syllabus sweep) lives in sweep_section.py.
from .sweep_section import Objective as Objective, Sweep

FORMAT_VERSION = 1

# How a lesson answers. `explained`: the fact first, then the verdict ("The fork should be
# blue, not red, so no.") — a small model can use a taught fact (compare, choose) only when
# the answer states it before deciding. `terse`: the bare answer word ("No").
AnswerStyle = Literal["explained", "terse"]

_ID = r"^[a-z0-9][a-z0-9_-]*$"
_SLOT = r"^[a-z_][a-z0-9_]*$"


class LexEntry(Strict):
    """One lexicon value: its `name` plus named forms (`plural: boxes`, `color: red`)."""

    name: Word
    forms: dict[str, Short] = Field(default_factory=dict)

    def as_vars(self) -> dict[str, str]:
        return {"name": self.name, **self.forms}


def _coerce_entry(value: Any) -> Any:
    # YAML shorthand: `red` means {name: red}; `{name: box, plural: boxes}` puts every
    # key but `name` into `forms`. The field still has one type, LexEntry.
    if isinstance(value, str):
        return {"name": value}
    if isinstance(value, dict) and "forms" not in value:
        forms = {k: v for k, v in value.items() if k != "name"}
        return {"name": value.get("name"), "forms": forms} if "name" in value else value
    return value


LexValue = Annotated[
    LexEntry,
    BeforeValidator(_coerce_entry),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "minLength": 1, "maxLength": MAX_WORD},
                {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": {"type": "string", "maxLength": MAX_WORD},
                    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": MAX_WORD}},
                },
            ],
            "description": "A lexicon value: a word, or a mapping with `name` and named forms (plural, color, ...).",
        }
    ),
]


class Neighbours(Strict):
    """Out-of-scope subjects the rule must leave alone, with their own right answers."""

    subject: str = Field(pattern=_SLOT, description="Lexicon slot of out-of-scope subjects.")
    answer: Sentence = Field(description="Template of the right answer, e.g. '{{ neighbour.color }}'.")


class Facts(Strict):
    """The fact an explained answer states first, as templates. Variables: `subject` (and the
    slot's own name), `attribute`, and `value`: the right answer for that subject (the rule's
    value in scope, the neighbour's own answer out of scope)."""

    rule: Sentence = Field(
        "The right {{ attribute }} for the {{ subject.name }} is {{ value }}",
        description="Fact about an in-scope subject, e.g. 'The {{ product.name }} should be {{ value }}'.",
    )
    neighbour: Sentence = Field(
        "The right {{ attribute }} for the {{ subject.name }} is {{ value }}",
        description="Fact about an out-of-scope subject, e.g. 'The {{ neighbour.name }} is {{ value }}'.",
    )


class Rule(Strict):
    id: str = Field(pattern=_ID)
    statement: Sentence = Field(description="The rule in plain words; the prompted baseline's system prompt.")
    subject: str = Field(pattern=_SLOT, description="Lexicon slot of in-scope subjects.")
    attribute: Word = Field(description="What the rule sets, as a noun: 'color'.")
    value: Word = Field(description="The rule's answer: 'blue'.")
    distractors: str = Field(pattern=_SLOT, description="Lexicon slot the wrong answers come from.")
    forms: list[str] = Field(min_length=1, description="Question forms to use (names in the template library).")
    templates: dict[str, list[Sentence]] = Field(
        default_factory=dict, description="Extra rule-specific templates per form; each one is a template family."
    )
    answers: AnswerStyle | None = Field(
        None, description="How lessons answer: 'explained' (fact, then verdict) or 'terse'; default: the spec's."
    )
    facts: Facts = Field(default_factory=Facts, description="The facts explained answers state first.")
    phrasings: list[Sentence] = Field(
        default_factory=lambda: ["{{ answer }}"],
        min_length=1,
        description="Terse answers only: phrasings of the assistant's reply; `answer` is the bare answer word.",
    )
    neighbours: Neighbours | None = None

    def style(self, spec_default: "AnswerStyle") -> "AnswerStyle":
        """This rule's answer style: its own, else the spec's."""
        return self.answers or spec_default


MAX_VARIANTS = 20


class Paraphrase(Strict):
    synonyms: dict[Synonym, list[Synonym]] = Field(default_factory=dict, description="word -> synonyms, added to the library's.")
    prefixes: list[Sentence] = Field(default_factory=list, description="Openers such as 'Quick question: '.")
    suffixes: list[Sentence] = Field(default_factory=list, description="Closers such as ' Thanks!'.")
    word_order: bool = Field(True, description="Move a trailing 'for the X' to the front.")
    use_library: bool = Field(True, description="Also use the library's paraphrase lexicon.")
    variants: int = Field(2, ge=0, le=MAX_VARIANTS, description="Paraphrased variants per example, besides the plain one.")


class HoldOut(Strict):
    templates: float = Field(0.3, ge=0.0, lt=1.0, description="Fraction of template families held out per form.")
    operators: float = Field(0.3, ge=0.0, lt=1.0, description="Fraction of paraphrase operators held out.")
    forms: list[str] = Field(default_factory=list, description="Forms never trained on (test_form).")
    neighbours: float = Field(0.5, ge=0.0, lt=1.0, description="Fraction of neighbours held out (test_locality).")


class Leakage(Strict):
    ngram: int = Field(8, ge=3, le=32, description="Word n-gram length for the overlap audit.")
    max_exact: int = Field(0, ge=0, le=10**9, description="Test examples allowed to equal a train example after normalization.")
    max_ngram_share: float = Field(
        0.0, ge=0.0, le=1.0, description="Fraction of a test split allowed to share an n-gram with train."
    )


class Splits(Strict):
    hold_out: HoldOut = Field(default_factory=HoldOut)
    leakage: Leakage = Field(default_factory=Leakage)
    retain: bool = Field(True, description="Put the seen neighbours into train as retain examples.")
    retain_share: float = Field(
        1.0,
        gt=0.0,
        le=1.0,
        description="Share of a seen neighbour's train families kept as retain examples (seeded per neighbour): "
        "many neighbours with a few wordings each teach 'only the rule' for fewer train steps.",
    )
    dev: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Share of each seen form's train-side template families (per rule, seeded) carved out of the "
        "lessons as the `dev` split, which `syllabus sweep` scores to choose a recipe: 0.2 of 12 yes/no families "
        "is 2. Their seen neighbours' questions go with them. 0: no dev split.",
    )

    @model_serializer(mode="wrap")
    def _omit_no_dev(self, handler):
        # A spec without a dev split resolves (spec.json) to the same bytes as before the field existed.
        doc = handler(self)
        if self.dev == 0.0 and isinstance(doc, dict):
            doc.pop("dev", None)
        return doc


class GeneralRetain(Strict):
    """General prompts (templates/general/: writing, lists, arithmetic, translation, code, …)
    that guard the rest of the model. Whole template families go either to train, as retain
    lessons whose replies the model writes itself at train time (self-distillation; or the
    `teacher`), or to the held-out `test_general` split, where the gate measures how far the
    tuned model drifted from the base model's own replies."""

    share: float = Field(
        0.08,
        gt=0.0,
        le=0.9,
        description="Share of the train lessons that are general retain lessons: 0.08 of 604 rule lessons + n "
        "general ones is n = 604 · 0.08 / 0.92 = 53. For none, leave retain.general out; above 0.9 the rule "
        "would be a footnote to its own lessons.",
    )
    held_out: float = Field(
        0.3,
        gt=0.0,
        lt=1.0,
        description="Fraction of each kind's template families held out for test_general (at least one, never all).",
    )
    test_size: int = Field(
        20, ge=1, le=1000, description="Held-out general prompts scored for drift, spread over the kinds of task."
    )
    max_new_tokens: int = Field(
        32,
        ge=8,
        le=256,
        description="Longest reply the model writes to a general prompt (greedy), in tokens: the retain lessons' "
        "replies and both models' test_general replies. A reply cut here is trained on without its end.",
    )
    teacher: str | None = Field(
        None,
        min_length=1,
        description="Model that writes the retain lessons' replies: 'default', a Hugging Face id or a local folder. "
        "Unset: the model being tuned (self-distillation). test_general is always measured against the base model.",
    )


class Retain(Strict):
    """What keeps the tuned model itself beyond the rule (the rule's neighbours are `splits.retain`)."""

    general: GeneralRetain | None = Field(
        None, description="General retain lessons and the test_general drift split; unset: neither."
    )


class LayerSpan(Strict):
    """Which transformer layers get LoRA, as fractions of the model's depth, so a spec keeps its
    meaning under a `--model` of another depth: layer i of N is adapted when start <= i/N < end."""

    start: float = Field(0.0, ge=0.0, lt=1.0, description="Lowest adapted layer, as a fraction of depth (0 = first).")
    end: float = Field(1.0, gt=0.0, le=1.0, description="Adapt layers below this fraction of depth (1 = up to the last).")

    @model_validator(mode="after")
    def _ordered(self) -> "LayerSpan":
        if self.start >= self.end:
            raise ValueError(f"start {self.start} must be below end {self.end} (fractions of depth: 0.13 to 0.53 "
                             "is layers 4-15 of 30)")
        return self


class Lora(Strict):
    r: int = Field(16, ge=1, le=512)
    alpha: int = Field(32, ge=1, le=4096)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"], min_length=1)
    layers: LayerSpan = Field(
        default_factory=LayerSpan,
        description="Adapt only the layers in this span of depth, e.g. the lower-middle MLPs where a model "
        "recalls facts about a subject. Backward stops at the lowest adapted layer: a higher start makes a "
        "step cheaper.",
    )


class Train(Strict):
    model: str = Field("default", description="'default' (embedded SmolLM2-135M-Instruct), a hub id or a local path.")
    epochs: float = Field(3, gt=0, le=1000, allow_inf_nan=False)
    lr: float = Field(2e-4, gt=0, le=10, allow_inf_nan=False)
    batch_size: int = Field(8, ge=1, le=4096)
    tokens_per_batch: int | None = Field(
        None, ge=16, le=16_777_216,
        description="Batches of as many lessons as fit this many (padded) tokens, on every device, instead of "
        "batch_size lessons; steps per epoch follow from it. Unset: batch_size lessons on a CPU, and on CUDA "
        "batch_size × the mean lesson length, so an epoch has about as many steps (the same recipe) either way.",
    )
    max_length: int = Field(256, ge=16, le=32768, description="Longest lesson in tokens; longer ones are cut.")
    warmup_ratio: float = Field(0.0, ge=0.0, lt=1.0)
    checkpoint_every: int = Field(50, ge=1, le=1_000_000, description="Save a resumable checkpoint every N optimizer steps.")
    lora: Lora = Field(default_factory=Lora)


class Eval(Strict):
    train_sample: int = Field(100, ge=1, le=100_000, description="Train examples scored to show memorization.")
    batch_size: int = Field(32, ge=1, le=4096)
    readings: list[Reading] = Field(default_factory=lambda: list(READINGS), min_length=1)
    max_gen_tokens: int = Field(16, ge=1, le=256)
    engine: Literal["fast", "hflm", "vllm"] = Field(
        "fast",
        description="'fast': lm-eval's HFLM with syllabus's speed-ups (a batch's shared prompt prefix runs once; "
        "choices are scored during the greedy pass), which override lm-eval internals; 'hflm': lm-eval's stock "
        "HFLM, slower, the same numbers: the way back should an lm-eval upgrade break 'fast'; 'vllm': lm-eval's "
        "vllm model (CUDA, needs the vllm package), the tuned arm through vllm's LoRA.",
    )


# Examples a build may expand to, by default. Measured on the 2-core machine: 88,532 examples
# (600 subjects × 74 templates, 1 variant) compile in 7 s at a 303 MB peak (~3.4 KB each), 66 MB on
# disk, so 1,000,000 take ~80 s, ~3.5 GB and ~750 MB: well within a 24 GiB machine. Raise
# `limits.max_examples` for more.
MAX_EXAMPLES = 1_000_000


class Limits(Strict):
    """Work a spec may ask for; a spec that asks for more is refused before any work starts."""

    max_examples: int = Field(
        MAX_EXAMPLES, ge=1, le=10**9,
        description="Most examples (every split, paraphrased variants included) the spec may expand to; counted "
        "from the lexicon, forms, templates and variants before anything renders.",
    )


class Spec(Strict):
    syllabus: Literal[1] = Field(description="Spec format version.")
    name: str = Field(pattern=_ID, description="Build name: build/<name>/.")
    description: str = Field("", max_length=2000)
    # numpy's and torch's generators take 32-bit seeds: a larger one passed validate and crashed train
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed of every generator: 0 to 2^32 - 1.")
    answers: AnswerStyle = Field(
        "explained", description="How lessons answer, for every rule that does not say: 'explained' or 'terse'."
    )
    template_packs: list[str] = Field(
        default_factory=list, description="Extra template packs (folders), relative to the spec file."
    )
    lexicon: dict[str, list[LexValue]] = Field(min_length=1)
    rules: list[Rule] = Field(min_length=1)
    paraphrase: Paraphrase = Field(default_factory=Paraphrase)
    splits: Splits = Field(default_factory=Splits)
    retain: Retain = Field(default_factory=Retain)
    train: Train = Field(default_factory=Train)
    eval: Eval = Field(default_factory=Eval)
    gate: Gate = Field(default_factory=Gate)
    limits: Limits = Field(default_factory=Limits)
    sweep: Sweep | None = Field(None, description="Recipes `syllabus sweep` tries on the dev split, and how it picks one.")

    @model_serializer(mode="wrap")
    def _omit_no_sweep(self, handler):
        # A spec without a sweep: section resolves (spec.json) to the same bytes as before the section existed.
        doc = handler(self)
        if self.sweep is None and isinstance(doc, dict):
            doc.pop("sweep", None)
        return doc

    def primary_reading(self) -> Reading:
        """The reading a gate check without one uses: 'gen' when any rule's answers are
        explained (the lessons teach a reply that states the fact, then decides, so the
        reply is what was taught), else 'mc'."""
        return "gen" if any(r.style(self.answers) == "explained" for r in self.rules) else "mc"

    @model_validator(mode="after")
    def _unique_rule_ids(self) -> "Spec":
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice; give every rule its own id")
            seen.add(rule.id)
        return self


def spec_json_schema() -> dict[str, Any]:
    """Spec model → JSON Schema (draft 2020-12) for editors."""
    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "syllabus rule spec"
    return schema
