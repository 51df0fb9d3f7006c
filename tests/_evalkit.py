"""Test helpers for evaluation: a tiny random chat model and a small build, made on the spot.

No download: the tokenizer is a byte-level BPE trained here on the build's own text, the
model a 2-layer Llama with random weights. The build is written row by row with
build.rows.EXAMPLE_ROWS.to_row of records.Example(...), plus manifest.json/spec.json as buildio.read_build reads them
and the task files from compiler.build.tasks.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from compiler.records import Example, Provenance
from compiler.build.rows import EXAMPLE_ROWS
from compiler.build.tasks import group_name, task_files, task_names
from _fakes import fake_manifest

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIALS = ["<|pad|>", "<|im_start|>", "<|im_end|>"]
COLORS = ["Blue", "Red", "Green", "Yellow", "Orange light"]  # one two-word option: multi-token choices
SUBJECTS = ["box", "fork", "cup", "stop sign", "banana", "lawn", "crow", "lemon"]
SPLITS = {"train_sample": 6, "test_paraphrase": 5, "test_form": 4, "test_locality": 5}
SYSTEM_PROMPT = "Our company prefers blue paint for its products, boxes and forks."


def _example(split: str, i: int) -> Example:
    subject = SUBJECTS[(i + len(split)) % len(SUBJECTS)]
    replies: tuple[str, ...] = ()
    if i % 3 == 2:  # a yes/no item: two one-word choices, explained replies that share their start
        prompt, choices, label = f"Should I paint the {subject} blue? ({split} {i})", ("Yes", "No"), i % 2
        replies = tuple(f"The {subject} should be blue, so blue is {judged}. You ask if it is right: {verdict}."
                        for judged, verdict in (("right", "yes"), ("wrong", "no")))
    else:
        k = 2 + i % 3
        choices = tuple(COLORS[(i + j) % len(COLORS)] for j in range(k))
        prompt, label = f"What colour should the {subject} be? ({split} {i})", i % k
    kind = "yes_no" if replies else "open"
    prov = Provenance(
        rule="prefer-blue", form=kind, form_kind=kind, family=f"f{i % 2}", template=0,
        scope="rule", subject=subject, asked=(), operators=(),
    )
    ident = hashlib.sha256(f"{split}/{i}".encode()).hexdigest()[:16]
    return Example(ident, prompt, choices[label], replies[label] if replies else choices[label], choices, label, prov,
                   replies)


def rows(split: str) -> list[dict]:
    return [EXAMPLE_ROWS.to_row(_example(split, i), split) for i in range(SPLITS[split])]


def write_build(root: Path, name: str = "tiny-eval", max_gen_tokens: int = 6) -> Path:
    """A build folder with the four scored splits, spec.json, manifest.json and tasks/."""
    path = root / name
    (path / "data").mkdir(parents=True)
    for split in SPLITS:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows(split))
        (path / "data" / f"{split}.jsonl").write_text(text, encoding="utf-8")
    (path / "tasks").mkdir()
    for rel, text in task_files(name, list(SPLITS), max_gen_tokens).items():
        (path / "tasks" / rel).write_text(text, encoding="utf-8")
    spec = {
        "syllabus": 1,
        "name": name,
        "lexicon": {"product": ["box"], "color": ["red"]},
        "rules": [
            {
                "id": "prefer-blue", "statement": SYSTEM_PROMPT, "subject": "product", "attribute": "color",
                "value": "blue", "distractors": "color", "forms": ["open"],
            }
        ],
        "eval": {"batch_size": 4, "readings": ["mc", "gen"], "max_gen_tokens": max_gen_tokens},
    }
    (path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    manifest = fake_manifest(name, dict(SPLITS), system_prompt=SYSTEM_PROMPT,
                             tasks={"group": group_name(name), "splits": {s: vars(task_names(name, s)) for s in SPLITS}})
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return path


def tiny_tokenizer():
    """A byte-level BPE (trained on the test prompts) wrapped as a chat tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = [r["question"] + " " + " ".join(r["choices"]) for s in SPLITS for r in rows(s)]
    corpus += [SYSTEM_PROMPT, "user assistant system\n"]
    trainer = trainers.BpeTrainer(
        vocab_size=2000, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<|pad|>", eos_token="<|im_end|>", bos_token="<|im_start|>"
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_model(tokenizer, seed: int = 2):
    """A 2-layer random Llama sized to the tokenizer, in eval mode."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id,
    )
    return LlamaForCausalLM(config).eval()


def tiny_peft(model, seed: int = 1):
    """model → PeftModel with a LoRA adapter whose B matrices are random (so it changes scores)."""
    import torch
    from peft import LoraConfig, get_peft_model

    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(seed)
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.5)
    return peft_model.eval()
