"""Verdict + ReportContext → adapter/README.md: the Hugging Face model card (YAML front matter
with base_model and a model-index of the tuned scores, then the rules, the evaluation, the
gate's checks, the training settings and how to load the adapter).
"""

from __future__ import annotations

import math
import os

import yaml

from ..markdown import md_escape
from ..names import REPORT_ARMS
from .context import ReportContext
from .formatting import ARMS_NOTE, MARK, cell, general_line, score_keys
from .verdict import Verdict

DEFAULT_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # what model "default" is

def _hub_id(model: str) -> str | None:
    """A name the Hub metadata accepts as base_model: 'default' → its hub id; a local path → None."""
    if model == "default":
        return DEFAULT_HUB_ID
    parts = model.split("/")
    if model.startswith((".", "/", "~")) or len(parts) > 2 or os.sep in model.replace("/", ""):
        return None
    return model


def render_model_card(verdict: Verdict, context: ReportContext) -> str:
    tuned = [r for r in verdict.table if r.arm == "tuned" and r.split != "train_sample" and math.isfinite(r.acc)]
    front: dict = {"library_name": "peft"}
    hub = _hub_id(context.model)
    if hub:
        front["base_model"] = hub
    front["tags"] = ["syllabus", "lora", "peft", "rule-tuning", context.build.name]
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
    body = [f"# {context.build.name}: LoRA adapter", ""]
    if context.description:
        body += [md_escape(context.description), ""]
    body += [f"A LoRA adapter for `{hub or context.model}` trained by syllabus to follow "
             f"{'this rule' if len(context.rules) == 1 else 'these rules'}:", ""]
    body += [f"> **{r.id}**: {md_escape(r.statement)}" for r in context.rules]
    body += ["", f"## Evaluation: {verdict.status.upper()} (exit {verdict.exit_code})", "",
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
    if context.training:
        body += ["", "## Training", ""] + [f"- {k}: {v}" for k, v in context.training]
    body += ["", "## Use", "", "```python", "from peft import AutoPeftModelForCausalLM",
             'model = AutoPeftModelForCausalLM.from_pretrained("path/to/this/adapter")', "```", "",
             f"Build `{context.build.name}` (manifest sha256 `{context.build.sha256}`), {context.created_with}.", ""]
    return "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n\n" + "\n".join(body)
