"""The dataset card of a build: build/<name>/README.md, which makes the folder a Hugging Face
dataset repo. Pure: spec + counts + audit → markdown text, deterministic (no date, no path).

Its YAML header's `configs:` maps each split to its Parquet file, so `load_dataset(build_dir)`
and the Hub viewer show exactly the build's splits: the lessons and the held-out splits in the
default config; the scored sample of train (`train_sample`, a copy of some lessons) and the
general prompts (other columns) each in a config of their own, never merged into `train`.
"""

from __future__ import annotations

import json
import shlex
from typing import Mapping, Sequence

from ..compilation.audit import AuditReport
from ..markdown import md_escape, md_fence
from ..spec.model import Spec

# What each split is and how it was kept apart from the lessons: the card's "how the held-out
# splits were made". A split not named here is listed without a description.
_MADE = {
    "train": "the lessons: the rule's questions in their trained wordings and forms, plus retain lessons "
             "about seen neighbours (answered as the base facts say)",
    "dev": "questions from whole template families of the train side that no lesson uses: for choosing a "
           "recipe, so the test splits are read once",
    "test_paraphrase": "new wordings: whole template families held out per form ({templates:.0%}) and paraphrase "
                       "operators held out ({operators:.0%}); no lesson uses them",
    "test_form": "question forms never trained on ({forms}), in scope and out of scope",
    "test_locality": "out-of-scope neighbours held out whole ({neighbours:.0%} of them): the rule must not reach them",
    "train_sample": "a seeded sample of train, scored to measure memorization (a copy of lessons, not a test)",
    "train_general": "general prompts whose replies the model writes at train time (self-distillation): retain lessons",
    "test_general": "held-out general prompts (whole template families), scored as drift from the base model's replies",
}

_LOADING = '''```python
from datasets import load_dataset

ds = load_dataset("{path}")  # splits: {default}
sample = load_dataset("{path}", "train_sample")  # the scored sample of train
```'''

_TRL = '''```python
from trl import SFTConfig, SFTTrainer

trainer = SFTTrainer(model=..., train_dataset=ds["train"], args=SFTConfig(output_dir="out"))
```'''


def _yaml_str(text: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar: any text on one line.
    return json.dumps(text, ensure_ascii=False)


def _config(name: str, splits: Sequence[str]) -> list[str]:
    lines = [f"- config_name: {name}", "  data_files:"]
    for split in splits:
        lines += [f"  - split: {split}", f"    path: data/{split}.parquet"]
    return lines


def _header(spec: Spec, default: Sequence[str], general: Sequence[str], total: int) -> list[str]:
    # size_categories as the Hub names them: n<1K, 1K<n<10K, …
    sizes = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))
    size = next((label for bound, label in sizes if total < bound), "1M<n<10M")
    lines = ["---", f"pretty_name: {_yaml_str(spec.name)}", "language:", "- en", "task_categories:",
             "- text-generation", "- question-answering", "tags:", "- syllabus", "- synthetic", "- rule-following",
             "size_categories:", f"- {size}", "configs:"]
    lines += _config("default", default) + ["  default: true"]
    lines += _config("train_sample", ["train_sample"])
    if general:
        lines += _config("general", general)
    return lines + ["---"]


def dataset_card(spec: Spec, counts: Mapping[str, int], audit: AuditReport, default: Sequence[str],
                 general: Sequence[str], task_group: str) -> str:
    """Resolved spec, examples per split, the audit, the default config's splits (in order), the
    general splits (empty without retain.general), the lm-eval group → README.md's text."""
    hold = spec.splits.hold_out
    made = {k: v.format(templates=hold.templates, operators=hold.operators,
                        forms=", ".join(hold.forms) or "none held out", neighbours=hold.neighbours)
            for k, v in _MADE.items()}
    lines = _header(spec, default, general, sum(counts.values()))
    lines += ["", f"# {md_escape(spec.name)}", "", "Compiled by syllabus from a rule spec: lessons that teach "
              "a rule, and held-out splits that test whether it was learned rather than memorized.", ""]
    if spec.description:
        lines += [md_escape(spec.description), ""]
    lines += ["## Rules", "", *(f"- **{md_escape(r.id)}**: {md_escape(r.statement)}" for r in spec.rules), "",
              "## Splits", "", "| split | examples | what it is |", "|---|---:|---|"]
    for split in [*default, "train_sample", *general]:
        lines.append(f"| `{split}` | {counts.get(split, 0)} | {made.get(split, '')} |")
    lines += ["", "Held-out splits are made from whole template families, forms and neighbours, never single "
              "questions, so no test question is a re-wording of a lesson the model saw. Same spec and seed "
              f"(`{spec.seed}`) → the same bytes.", "", "## Leakage audit", "",
              f"Each test split against `train`: questions equal after normalization (exact), sharing a word "
              f"{audit.ngram}-gram (ngram), or from a family, form or neighbour that is also in train (structural).",
              "", "| split | n | exact | ngram | structural |", "|---|---:|---:|---:|---:|"]
    lines += [f"| `{s.split}` | {s.n} | {s.exact} | {s.ngram} ({s.ngram_share:.1%}) | {s.structural} |"
              for s in audit.splits]
    lines += ["", "## Columns", "",
              "- `messages`: the chat (user question, assistant reply), as TRL's `SFTTrainer`, Axolotl "
              "(`type: chat_template`) and LLaMA-Factory (sharegpt, `messages`) read it;",
              "- `question`, `answer`, `choices`, `label`: the question, its right answer and the options "
              "(multiple-choice scoring); `choice_replies`: the reply each option would get;",
              "- `id`, `content_sha`, `provenance`: where the example came from (rule, form, template family, "
              "subject, scope).", "", "## Use", "",
              _LOADING.format(path="path/to/this/folder", default=", ".join(default)), "",
              "Fine-tune on the lessons with TRL (the `messages` column is read as chat data):", "", _TRL, "",
              "Score a model on the held-out splits with lm-evaluation-harness (the tasks are in `tasks/`; "
              "`--apply_chat_template` is what syllabus's numbers assume):", "",
              md_fence(f"lm_eval --model hf --model_args pretrained=MODEL --include_path tasks --tasks {task_group} "
                       "--apply_chat_template"), "",
              "For the prompted baseline (the base model told the rule) add:", "",
              md_fence(f"--system_instruction {shlex.quote(' '.join(r.statement for r in spec.rules))}"), ""]
    return "\n".join(lines)
