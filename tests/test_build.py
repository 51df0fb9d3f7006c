"""The build writer: byte-identical builds across processes and hash seeds, atomic writes."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.buildio import read_build, read_split
from compiler.errors import BuildError
from compiler.pipeline import compile_spec
from tests.conftest import ROOT, SPECS


def _tree(path: Path) -> dict[str, str]:
    return {
        p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def _compile_in_subprocess(out: Path, hashseed: str) -> None:
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    code = "import sys; from pathlib import Path; from compiler.pipeline import compile_spec; compile_spec(Path(sys.argv[1]), Path(sys.argv[2]))"
    subprocess.run([sys.executable, "-c", code, str(SPECS / "blue_products.yaml"), str(out)], check=True, env=env, cwd=ROOT)


def test_same_spec_same_bytes_across_processes_and_hash_seeds(tmp_path, blue_build):
    _compile_in_subprocess(tmp_path / "a", "1")
    _compile_in_subprocess(tmp_path / "b", "987654")
    a, b, here = _tree(tmp_path / "a"), _tree(tmp_path / "b"), _tree(blue_build)
    assert a == b == here
    assert any(k.endswith(".parquet") for k in a)


def test_manifest_lists_every_file_with_its_sha256(blue_build):
    manifest = json.loads((blue_build / "manifest.json").read_text())
    on_disk = {k: v for k, v in _tree(blue_build).items() if k != "manifest.json"}
    assert manifest["files"] == on_disk
    assert manifest["counts"]["splits"]["train"] == len(read_split(read_build(blue_build), "train"))
    assert manifest["spec_sha256"] == hashlib.sha256((SPECS / "blue_products.yaml").read_bytes()).hexdigest()


def test_rows_roundtrip_and_parquet_matches_jsonl(blue_build):
    import pyarrow.parquet as pq

    build = read_build(blue_build)
    for split in ("train", "test_paraphrase", "test_form", "test_locality", "train_sample"):
        examples = read_split(build, split)
        rows = [json.loads(line) for line in (blue_build / "data" / f"{split}.jsonl").read_text().splitlines()]
        assert [e.to_row(split) for e in examples] == rows
        assert pq.read_table(blue_build / "data" / f"{split}.parquet").to_pylist() == rows
        for row in rows:
            assert row["messages"][0] == {"role": "user", "content": row["prompt"]}
            assert row["messages"][1]["role"] == "assistant"


def test_a_refused_build_leaves_the_old_build_in_place(tmp_path):
    out = tmp_path / "b"
    compile_spec(SPECS / "blue_products.yaml", out)
    before = _tree(out)
    spec = (SPECS / "blue_products.yaml").read_text()
    # Train on a wording the exam also uses: a rule template equal to a held-out one.
    leaky = spec.replace(
        '        - "What color should I paint the {{ product.name }}?"',
        '        - "What color should I paint the {{ product.name }}?"\n'
        '        - "Quick question: What color should I paint the {{ product.name }} today, please?"\n'
        '        - "What color should I paint the {{ product.name }} today, please?"',
    ).replace("templates: 0.3", "templates: 0.6")
    assert leaky != spec
    path = tmp_path / "leaky.yaml"
    path.write_text(leaky)
    with pytest.raises(BuildError) as info:
        compile_spec(path, out)
    assert "leakage audit refused" in str(info.value)
    assert _tree(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temp folder left behind"


def test_a_spec_without_neighbours_writes_an_empty_locality_split(tmp_path):
    import pyarrow.parquet as pq

    text = (SPECS / "blue_products.yaml").read_text()
    start = text.index("    neighbours:\n      subject: neighbour")
    end = text.index("paraphrase:")
    path = tmp_path / "no_neighbours.yaml"
    path.write_text(text[:start] + "\n" + text[end:])
    out = compile_spec(path, tmp_path / "b").path
    assert (out / "data" / "test_locality.jsonl").read_text() == ""
    assert pq.read_table(out / "data" / "test_locality.parquet").num_rows == 0
    assert read_split(read_build(out), "test_locality") == ()
