"""Evaluation at accelerator speed: the eval batch from a token budget on CUDA, and
`eval.engine: vllm` (lm-eval's own `vllm` model, when the vllm package is installed).

  eval_batch_size   (build, model, tokenizer, batch size asked for) → rows per batch: the spec's
                    eval.batch_size on a CPU (the founding recipe's); on CUDA as many rows as fit
                    EVAL_TOKENS tokens of the longest scored prompt plus its reply.
  check_engine      spec, its file → None, or SpecError at eval.engine (exit 2) when it asks
                    for vllm and vllm is not installed. Cheap: callers run it before loading a model.
  vllm_lm           the vllm engine: lm-eval's VLLM over the model's folder, the adapter (if any)
                    applied to the tuned arm only.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from typing import TYPE_CHECKING

from ..build.read import Build
from ..errors import Problem, SpecError
from .commands import pretrained_source

if TYPE_CHECKING:  # pragma: no cover
    from ..spec.model import Spec

# Tokens one evaluation batch may hold on CUDA. 64k tokens of SmolLM2-135M (576 wide, 30 layers)
# keep activations and KV cache ≈ 64k × 30 × 2 × 192 (kv width) × 2 bytes = 1.5 GB: small on any
# current accelerator, and hundreds of rows per forward, where the CPU recipe has 32.
EVAL_TOKENS = 65536
VLLM_MEMORY = 0.5  # vllm's share of the GPU: the in-process model (training, drift) keeps the rest


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def check_engine(spec: "Spec", file: Path) -> None:
    """A spec and the file it was read from → SpecError at its eval.engine when that asks for an
    engine that is not installed."""
    if spec.eval.engine == "vllm" and not vllm_installed():
        raise SpecError([Problem(
            str(file), 0, 0, "eval.engine",
            "'vllm' needs the vllm package, which is not installed",
            "pip install vllm (a CUDA machine), or use eval.engine: fast",
        )])


def eval_batch_size(build: Build, model, tokenizer, asked: int | None) -> int:
    """→ rows per evaluation batch: `asked` when given; on a CPU the spec's eval.batch_size; on
    CUDA EVAL_TOKENS // (longest scored prompt + eval.max_gen_tokens), at least the spec's."""
    spec_size = build.spec.eval.batch_size
    if asked:
        return asked
    device = getattr(model, "device", None)
    if getattr(device, "type", "cpu") != "cuda":
        return spec_size
    from ..build.read import read_split

    longest = 1
    for split in build.manifest.tasks:
        for example in read_split(build, split):
            longest = max(longest, len(tokenizer(example.prompt)["input_ids"]))
    # + the chat template's turns (SmolLM2: ~30 tokens with its system turn) and the reply
    per_row = longest + 64 + build.spec.eval.max_gen_tokens
    return max(spec_size, EVAL_TOKENS // per_row)


def vllm_lm(model, tokenizer, batch_size: int, progress: bool, adapter: Path | None = None):
    """→ lm-eval's VLLM over the model's own folder (bf16), with the attributes evaluate_arm sets
    on any engine. With `adapter`, its LoRA serves the tuned arm; reset() (called per arm after
    its label is set) turns it off for the others."""
    from lm_eval.models.vllm_causallms import VLLM

    class VllmLM(VLLM):
        def __init__(self):
            lora: dict = {}
            if adapter is not None:  # lm-eval turns vllm's LoRA on with the path; the rank bounds its buffers
                import json

                rank = int(json.loads((Path(adapter) / "adapter_config.json").read_text(encoding="utf-8"))["r"])
                lora = {"lora_local_path": str(adapter), "max_lora_rank": max(16, rank)}
            super().__init__(pretrained=pretrained_source(model), dtype="bfloat16", batch_size=batch_size,
                             gpu_memory_utilization=VLLM_MEMORY, **lora)
            self.progress, self.label, self.score_choices = progress, "", False
            self._lora = getattr(self, "lora_request", None)

        def reset(self) -> None:
            self.lora_request = self._lora if self.label == "tuned" else None

    return VllmLM()
