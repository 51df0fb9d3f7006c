"""Evaluation engines at accelerator speed (evaluation/engines.py): the eval batch from a token
budget on CUDA (the spec's batch on a CPU), and eval.engine: vllm — refused, located, where vllm
is not installed; run where it is (and CUDA is there)."""

from __future__ import annotations

import types
from pathlib import Path

import pytest
import torch

from compiler.errors import SpecError
from compiler.evaluation import engines as E
from tests._tiny import tiny_tokenizer
from tests.conftest import SPECS


def _fake_model(device: str):
    return types.SimpleNamespace(device=torch.device(device))  # torch.device("cuda") needs no GPU


def test_cpu_keeps_the_specs_eval_batch_and_cuda_fills_a_token_budget(blue_build):
    from compiler.build.read import read_build, read_split

    build = read_build(blue_build)
    tok = tiny_tokenizer()
    assert E.eval_batch_size(build, _fake_model("cpu"), tok, None) == build.spec.eval.batch_size == 32
    assert E.eval_batch_size(build, _fake_model("cuda"), tok, 7) == 7  # asked for: kept
    longest = max(len(tok(ex.prompt)["input_ids"]) for split in build.manifest.tasks for ex in read_split(build, split))
    cuda = E.eval_batch_size(build, _fake_model("cuda"), tok, None)
    assert cuda == max(32, E.EVAL_TOKENS // (longest + 64 + build.spec.eval.max_gen_tokens)) and cuda > 32


def test_vllm_engine_without_vllm_is_a_located_error(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from compiler.cli import main
    from compiler.spec.model import Spec

    monkeypatch.setattr(E, "vllm_installed", lambda: False)
    spec = Spec.model_validate({**_spec_doc(), "eval": {"engine": "vllm"}})
    with pytest.raises(SpecError) as err:
        E.check_engine(spec, Path("specs/x.yaml"))
    assert err.value.exit_code == 2 and "specs/x.yaml: eval.engine: 'vllm' needs the vllm package" in str(err.value)
    E.check_engine(Spec.model_validate(_spec_doc()), Path("x.yaml"))  # fast: nothing to check

    text = (SPECS / "blue_products.yaml").read_text(encoding="utf-8")
    assert text.count("\neval:\n") == 1
    path = tmp_path / "vllm.yaml"
    path.write_text(text.replace("\neval:\n", "\neval:\n  engine: vllm\n"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # run compiles into ./build/<name> first
    out = CliRunner().invoke(main, ["run", str(path), "--runs", str(tmp_path / "runs"), "--device", "cpu"])
    assert out.exit_code == 2, out.output
    assert f"{path}: eval.engine: 'vllm' needs the vllm package" in out.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # refused before a run began


def _spec_doc() -> dict:
    import yaml

    return yaml.safe_load((SPECS / "blue_products.yaml").read_text(encoding="utf-8"))


@pytest.mark.skipif(not E.vllm_installed() or not torch.cuda.is_available(), reason="needs vllm and CUDA")
def test_vllm_engine_scores_the_base_arm(blue_build, tmp_path):  # pragma: no cover - CUDA machines with vllm
    from dataclasses import replace

    from compiler.build.read import read_build
    from compiler.evaluation.arms import evaluate_arms
    from compiler.model.load import load_model

    build = read_build(blue_build)
    build = replace(build, spec=build.spec.model_copy(update={"eval": build.spec.eval.model_copy(update={"engine": "vllm"})}))
    loaded = load_model("default", "cuda")
    result = evaluate_arms(loaded.model, loaded.tokenizer, build, ("base",), tmp_path, limit=8, progress=False)
    assert result["base"].complete, result["base"].problems
