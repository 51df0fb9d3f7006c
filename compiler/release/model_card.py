"""(Verdict or None) + ReportContext → adapter/README.md: the Hugging Face model card.

One card, written twice: `train` writes it with no verdict once the adapter is in place
(write_train_card, from pipeline.train: base model, GGUF provenance, LoRA settings, build, rules,
"not yet gated"), and `gate` rewrites it with the verdict and scores (report.py). YAML front matter with base_model (and, once gated, a
model-index of the tuned scores), then the rules, the base model, the evaluation, the training
settings and how to load the adapter. The card is left out of the adapter's sha256
(integrity.adapter_sha256), so rewriting it never breaks the gate's verification.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import yaml

from ..build.read import read_build
from ..errors import UsageError
from ..integrity import ADAPTER_CARD, write_atomic
from ..markdown import md_escape
from ..model.embedded import DEFAULT_HUB_ID, DEFAULT_NAME
from ..names import REPORT_ARMS
from ..training.record import RunRecord
from .context import ReportContext, RuleInfo
from .formatting import ARMS_NOTE, MARK, cell, general_line, score_keys
from .verdict import BuildRef, Verdict


def _hub_id(context: ReportContext) -> str | None:
    """The base as Hub metadata accepts it (base_model): run.json's base when recorded (a hub id,
    or None for a local folder), else guessed from the name: 'default' → its hub id; a path → None."""
    if context.base is not None:
        return context.base.name_or_path if context.base.kind == "hub" else None
    model = context.model
    if model == DEFAULT_NAME:
        return DEFAULT_HUB_ID
    parts = model.split("/")
    if model.startswith((".", "/", "~")) or len(parts) > 2 or os.sep in model.replace("/", ""):
        return None
    return model


def _base_lines(context: ReportContext, hub: str | None) -> list[str]:
    """Where the base model comes from, and what the adapter was trained on exactly."""
    base = context.base
    if base is None:  # a run.json written before run.json recorded it
        return [f"- `{hub or context.model}` (the model as the run names it)."]
    if base.kind == "local":
        return [f"- A local folder, `{md_escape(base.name_or_path)}`: `adapter_config.json` names that path, so "
                "the adapter loads as it is only where that folder exists. Elsewhere load the base yourself, "
                "then `PeftModel.from_pretrained(base, \"path/to/this/adapter\")`."]
    lines = [f"- [`{base.name_or_path}`](https://huggingface.co/{base.name_or_path}) on the Hugging Face Hub: "
             "`adapter_config.json` names it, so `AutoPeftModelForCausalLM` fetches it."]
    g = base.gguf
    if g is not None:
        lines += [
            f"- **Trained on a quantized copy of it.** The weights this adapter was trained and evaluated on were "
            f"dequantized to float32 from `{md_escape(g.file)}` ({g.quantization} quantization, sha256 `{g.sha256}`), "
            f"not the Hub's own weights. On the Hub's weights the adapter's scores can differ a little"
            + (" (Q4_1 stores each block of 32 weights as 16 levels, a scale and a minimum)" if g.quantization == "Q4_1" else "")
            + f"; for the weights it was gated on, load that GGUF as the base: "
            f"`AutoModelForCausalLM.from_pretrained(folder, gguf_file=\"{md_escape(g.file)}\")`.",
        ]
    return lines


def _front(verdict: Verdict | None, context: ReportContext, hub: str | None) -> dict:
    front: dict = {"library_name": "peft"}
    if hub:
        front["base_model"] = hub
    front["pipeline_tag"] = "text-generation"
    front["tags"] = ["syllabus", "lora", "peft", "rule-tuning", context.build.name]
    if verdict is None:
        return front
    tuned = [r for r in verdict.table if r.arm == "tuned" and r.split != "train_sample" and math.isfinite(r.acc)]
    front["model-index"] = [{
        "name": f"{context.build.name}-{context.run_id}",
        "results": [
            {"task": {"type": "text-generation", "name": f"rule following ({r.split}, {r.reading})"},
             "dataset": {"name": f"{context.build.name} {r.split}", "type": f"syllabus/{context.build.name}",
                         "split": r.split},
             "metrics": [{"type": "accuracy", "value": round(r.acc, 4), "name": f"accuracy ({r.reading})",
                          "verified": False}]}
            for r in tuned
        ],
    }]
    return front


def _evaluation(verdict: Verdict | None, context: ReportContext) -> list[str]:
    if verdict is None:
        return ["## Evaluation: not yet gated", "",
                "No held-out score or verdict is claimed yet: `syllabus eval` and `syllabus gate "
                f"runs/{context.run_id}` write them here."]
    body = [f"## Evaluation: {verdict.status.upper()} (exit {verdict.exit_code})", "",
            "Accuracy with Wilson 95% interval. The `test_` splits were held out of training "
            "(new phrasings, a new question form, out-of-scope subjects); `train_sample` is a sample "
            "of the lessons, to show memorization.", "", ARMS_NOTE, "",
            "| split | reading | " + " | ".join(REPORT_ARMS) + " |", "|---|---|" + "---|" * len(REPORT_ARMS)]
    body += [f"| {s} | {r} | " + " | ".join(cell(verdict, a, s, r) for a in REPORT_ARMS) + " |"
             for s, r in score_keys(verdict)]
    if verdict.general:
        body += ["", "General behaviour on held-out general prompts (drift of the base model's own replies, "
                 "collapsed replies):", ""] + [f"- {general_line(g)}" for g in verdict.general]
    body += ["", "Gate checks:", ""] + [f"- {MARK[c.passed]} `{c.name}`: {c.detail}" for c in verdict.checks]
    return body


def render_model_card(verdict: Verdict | None, context: ReportContext) -> str:
    """(the gate's verdict, or None before the gate) + context → the card's Markdown text."""
    hub = _hub_id(context)
    body = [f"# {context.build.name}: LoRA adapter", ""]
    if context.description:
        body += [md_escape(context.description), ""]
    if context.rules:
        body += [f"A LoRA adapter for `{hub or context.model}` trained by syllabus to follow "
                 f"{'this rule' if len(context.rules) == 1 else 'these rules'}:", ""]
        body += [f"> **{r.id}**: {md_escape(r.statement)}" for r in context.rules] + [""]
    body += ["## Base model", ""] + _base_lines(context, hub) + [""]
    body += _evaluation(verdict, context)
    if context.training:
        body += ["", "## Training", ""] + [f"- {k}: {v}" for k, v in context.training]
    body += ["", "## Use", "", "This folder holds the adapter and the tokenizer it was trained with (and its chat "
             "template).", "", "```python", "from peft import AutoPeftModelForCausalLM",
             "from transformers import AutoTokenizer", "",
             'model = AutoPeftModelForCausalLM.from_pretrained("path/to/this/adapter")',
             'tokenizer = AutoTokenizer.from_pretrained("path/to/this/adapter")', "```", ""]
    made = f"Build `{context.build.name}` (manifest sha256 `{context.build.sha256}`), run `{context.run_id}`"
    if context.adapter_sha256:
        made += f", adapter sha256 `{context.adapter_sha256}` (every file here but this card)"
    body += [f"{made}, {context.created_with}.", ""]
    return "---\n" + yaml.safe_dump(_front(verdict, context, hub), sort_keys=False, allow_unicode=True) + "---\n\n" + "\n".join(body)


def card_context(record: RunRecord) -> ReportContext:
    """A run's record → the ReportContext the model card reads before any verdict: the build's
    name and rules when run.json says where the build is and it reads, else its sha256 alone."""
    from .judge import training_facts

    build = None
    if record.build_path is not None:
        try:
            build = read_build(Path(record.build_path))
        except (UsageError, OSError):
            build = None  # the card says less; training goes on
    name = build.manifest.name if build is not None else record.run_id
    return ReportContext(
        run_id=record.run_id, build=BuildRef(name, record.build_sha256),
        spec_sha256=build.manifest.spec_sha256 if build is not None else "",
        rules=tuple(RuleInfo(r.id, r.statement) for r in build.spec.rules) if build is not None else (),
        model=record.model.name, description=build.spec.description if build is not None else "",
        training=training_facts(record), base=record.base,
    )


def write_train_card(adapter: Path, record: RunRecord) -> Path:
    """adapter folder + its run's record → adapter/README.md: the card as train writes it (base
    model, GGUF provenance, LoRA settings, build, rules; not yet gated)."""
    return write_atomic(Path(adapter) / ADAPTER_CARD, render_model_card(None, card_context(record)))
