"""A saved adapter folder → one that loads on another machine (issue #15), and the merged model.

  base_ref(name, sha256)  the model name a run trained ('default' | local folder | hub id) → the
                          BaseRef run.json records: what adapter_config.json names as the base —
                          the Hub id for 'default' (with the GGUF its weights were dequantized
                          from), the hub id as given, or a local folder as an absolute path.
  make_portable(folder, tokenizer, record)
                          peft's adapter folder → base_model_name_or_path set to record.base, the
                          tokenizer and its chat template saved beside the adapter, and syllabus's
                          own model card (README.md, "not yet gated"; the gate completes it) in
                          place of peft's placeholder. Train calls it before it hashes the folder:
                          the tokenizer files are part of the adapter's sha256, the card is not
                          (integrity.adapter_sha256), so the gate may rewrite the card.
  merge_adapter(adapter, base_name, out)
                          → the base model with the adapter merged in, as safetensors + tokenizer.

peft writes the path the base was loaded from; for 'default' that is the dequantized cache
($SYLLABUS_CACHE/models/<sha>), which exists on the training machine only.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ModelError, UsageError
from ..integrity import ADAPTER_CARD, write_atomic
from ..model.embedded import DEFAULT_HUB_ID, DEFAULT_NAME, embedded_gguf
from ..model.load import model_source
from .record import BaseRef, GgufRef, RunRecord

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedTokenizerBase

ADAPTER_CONFIG = "adapter_config.json"
UNKNOWN = "unknown"
_FILE_TYPE_KEY = "general.file_type"
# A quantization named in a GGUF file name: SmolLM2-135M-Instruct.Q4_1.gguf, x-q4_k_m.gguf, x.F16.gguf
_NAMED = re.compile(r"[.\-_]((?:I?Q\d[\w]*?)|BF16|F16|F32)\.gguf$", re.IGNORECASE)


def gguf_quantization(path: Path) -> str:
    """GGUF file → its quantization as llama.cpp names it ('Q4_1', 'Q8_0', 'F16'), read from the
    `general.file_type` key of its metadata (the gguf package's LlamaFileType), else from the
    file name, else 'unknown'. Reads only the key/value header before that key: gguf.GGUFReader
    parses every tensor and token too (2.1 s for the embedded 90 MB file; this: 0.1 ms)."""
    try:
        code = _header_value(Path(path), _FILE_TYPE_KEY)
    except (OSError, ValueError, struct.error, UnicodeDecodeError):
        code = None
    if isinstance(code, int):
        from gguf import LlamaFileType

        try:
            return LlamaFileType(code).name.removeprefix("MOSTLY_").removeprefix("ALL_")
        except ValueError:
            pass
    named = _NAMED.search(Path(path).name)
    return named.group(1).upper() if named else UNKNOWN


def _header_value(path: Path, wanted: str) -> object:
    """GGUF file → the value of metadata key `wanted` (None when absent), reading the little-endian
    header (magic, version, tensor count, key/value count, then key, type, value …) only as far
    as that key. ValueError for a file that is not GGUF v2+."""
    from gguf import GGUFValueType as T

    scalar = {T.UINT8: "<B", T.INT8: "<b", T.UINT16: "<H", T.INT16: "<h", T.UINT32: "<I", T.INT32: "<i",
              T.FLOAT32: "<f", T.BOOL: "<?", T.UINT64: "<Q", T.INT64: "<q", T.FLOAT64: "<d"}
    with path.open("rb") as fh:
        def read(fmt: str):
            return struct.unpack(fmt, fh.read(struct.calcsize(fmt)))[0]

        def value(kind: T) -> object:  # arrays are skipped (None): the keys wanted here are scalars
            if kind == T.STRING:
                return fh.read(read("<Q")).decode("utf-8")
            if kind != T.ARRAY:
                return read(scalar[kind])
            item, n = T(read("<I")), read("<Q")
            if item in scalar:  # fixed-size items: jump over them
                fh.seek(n * struct.calcsize(scalar[item]), 1)
            else:
                for _ in range(n):
                    value(item)
            return None

        if fh.read(4) != b"GGUF" or not 2 <= read("<I") < 1 << 16:  # a byte-swapped version: big-endian
            raise ValueError(f"{path}: not a little-endian GGUF v2+ file")
        read("<Q")  # tensor count
        for _ in range(read("<Q")):
            key = fh.read(read("<Q")).decode("utf-8")
            got = value(T(read("<I")))
            if key == wanted:
                return got
    return None


def gguf_ref(path: Path, sha256: str) -> GgufRef:
    """GGUF file + its sha256 (model/load.file_sha256: hashed once per file) → GgufRef."""
    return GgufRef(file=Path(path).name, quantization=gguf_quantization(path), sha256=sha256)


def base_ref(name: str, sha256: str) -> BaseRef:
    """A model name as the run names it + its weights' sha256 → where the base loads from elsewhere.

    'default' → the Hub id of the model its GGUF quantizes, and that GGUF (the weights trained on
    are a dequantized Q4_1, not the Hub's bf16: the card says so). A hub id → itself. A local
    folder → its absolute path (it loads only there: the card says so); one that is gone stays a
    path. model/load.model_source decides which a name is (a bare 'tiny' reads as a hub id)."""
    if name == DEFAULT_NAME:
        return BaseRef(DEFAULT_HUB_ID, "hub", gguf_ref(embedded_gguf(), sha256))
    try:
        source = model_source(name)
    except ModelError:  # a folder that is gone: still a path
        return BaseRef(str(Path(name).expanduser().absolute()), "local")
    if isinstance(source, Path):
        return BaseRef(str(source.resolve()), "local")
    return BaseRef(source, "hub")


def make_portable(folder: Path, tokenizer: "PreTrainedTokenizerBase", record: RunRecord) -> None:
    """peft's saved adapter folder + the tokenizer it trained with + the run's record (status
    running, record.base set) → the folder, portable: adapter_config.json names record.base, the
    tokenizer (with its chat template) is saved beside it, peft's placeholder card is gone."""
    folder = Path(folder)
    if record.base is not None:
        path = folder / ADAPTER_CONFIG
        config = json.loads(path.read_text(encoding="utf-8"))
        config["base_model_name_or_path"] = record.base.name_or_path
        write_atomic(path, json.dumps(config, indent=2, sort_keys=True) + "\n")  # peft's own layout
    tokenizer.save_pretrained(str(folder))
    # peft's placeholder card ("More Information Needed") goes: syllabus's own is written by the
    # train stage once the adapter is in place (release/model_card.write_train_card) and completed
    # by the gate; README.md is outside the adapter's sha256, so neither changes what was trained.
    (folder / ADAPTER_CARD).unlink(missing_ok=True)


def merge_adapter(adapter: Path, base_name: str, out: Path, *, want_sha256: str = "") -> Path:
    """An adapter folder + the name of the base it trained on (run.json model.name) → `out` (new)
    holding the base with the adapter merged in (peft merge_and_unload): config, safetensors
    weights, tokenizer; fp32 on the CPU. `want_sha256` (run.json model.sha256): the base loaded
    must be those weights, else UsageError: a merge onto other weights is not what was trained."""
    from peft import PeftModel

    from ..model.load import load_model

    loaded = load_model(base_name, device="cpu")  # syllabus's attention function is not saved in config.json
    if want_sha256 and loaded.sha256 and loaded.sha256 != want_sha256:
        raise UsageError(f"--merged: the base model {base_name!r} here has weights sha256 {loaded.sha256[:12]}…, "
                         f"not the {want_sha256[:12]}… the adapter was trained on; merge where that model is")
    merged = PeftModel.from_pretrained(loaded.model, str(adapter)).merge_and_unload()
    merged.save_pretrained(str(out))  # safetensors
    loaded.tokenizer.save_pretrained(str(out))
    return Path(out)
