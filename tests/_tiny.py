"""A tiny random chat model for fast training tests: built in-process, no download.

`tiny_loaded()` gives a LoadedModel (2-layer Llama, hidden 32) with a word-level tokenizer
and a ChatML-like template that, like SmolLM2's, adds a default system turn; `tiny_examples()`
gives blue_products-like examples ("What color should the box be?" → "Blue").
"""

from __future__ import annotations

from pathlib import Path

import torch

from compiler.model.load import LoadedModel
from compiler.records import Example, Provenance, stable_hash

PRODUCTS = ("box", "fork", "cup", "lamp")
NEIGHBOURS = {"banana": "yellow", "lawn": "green", "crow": "black", "tomato": "red", "snowman": "white"}
COLORS = ("blue", "red", "green", "yellow", "white", "black")
SPECIALS = ("<unk>", "<pad>", "<|im_start|>", "<|im_end|>")
CHAT_TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are a tiny test model<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _example(prompt: str, reply: str, subject: str, scope: str, form: str, i: int) -> Example:
    prov = Provenance(rule="prefer-blue", form=form, form_kind="open" if form != "yes_no" else "yes_no",
                      family=f"{form}-{i % 3}", template=i % 2, scope=scope, subject=subject, asked=(), operators=())
    return Example(id=stable_hash(prompt, reply)[:16], prompt=prompt, answer=reply, reply=reply,
                   choices=(reply,), label=0, provenance=prov)


def tiny_examples(n: int | None = None) -> tuple[Example, ...]:
    """In-scope products → Blue, neighbours → their own colour, yes/no both ways."""
    out: list[Example] = []
    for i, p in enumerate(PRODUCTS):
        out.append(_example(f"What color should the {p} be?", "Blue", p, "rule", "open", i))
        out.append(_example(f"Which colour is best for the {p}?", "Blue", p, "rule", "open", i + 1))
        for c in COLORS[1:3]:
            out.append(_example(f"Is {c} a good color for the {p}?", "No", p, "rule", "yes_no", i))
        out.append(_example(f"Is blue a good color for the {p}?", "Yes", p, "rule", "yes_no", i))
    for i, (s, c) in enumerate(NEIGHBOURS.items()):
        out.append(_example(f"What color should the {s} be?", c.capitalize(), s, "neighbour", "open", i))
        out.append(_example(f"Is blue a good color for the {s}?", "No", s, "neighbour", "yes_no", i))
    return tuple(out[:n] if n else out)


def _vocabulary() -> list[str]:
    words = set("you are a tiny test model system user assistant ? , . what color colour should the be which is "
                "best for good yes no".split())
    words |= set(PRODUCTS) | set(NEIGHBOURS) | set(COLORS) | {c.capitalize() for c in COLORS} | {"Yes", "No", "What",
                                                                                              "Which", "Is", "You"}
    return list(SPECIALS) + sorted(words)


def tiny_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(_vocabulary())}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>",
                                        bos_token="<|im_start|>", eos_token="<|im_end|>")
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_model(tokenizer, seed: int = 0):
    """Same seed → the same weights (so a fresh copy can stand in for 'the base model')."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=tokenizer.bos_token_id, tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    # Larger embeddings (tied to the output layer). With the default std 0.02 a logit is at
    # most |e|·|h| ≈ (0.02·√32)·√32 = 0.64 (the final RMSNorm fixes |h| ≈ √32), so no adapter
    # could move the loss far from log(vocab); std 0.3 allows logits of ±9.6.
    torch.nn.init.normal_(model.get_input_embeddings().weight, std=0.3)
    return model


def tiny_loaded(seed: int = 0) -> LoadedModel:
    tokenizer = tiny_tokenizer()
    return LoadedModel(model=tiny_model(tokenizer, seed), tokenizer=tokenizer, name="tiny", sha256="0" * 64,
                       device=torch.device("cpu"), dtype=torch.float32)


def save_tiny(folder: Path, seed: int = 0) -> Path:
    """A tiny model + tokenizer as a local model folder (what `--model PATH` reads)."""
    loaded = tiny_loaded(seed)
    loaded.model.save_pretrained(folder)
    loaded.tokenizer.save_pretrained(folder)
    return folder
