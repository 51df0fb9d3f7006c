"""The build writer: byte-identical builds across processes and hash seeds, atomic writes."""

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.build.read import read_build, read_split
from compiler.build.rows import EXAMPLE_ROWS
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
    from compiler.build.commands import command_templates

    spec = read_build(blue_build).spec
    assert manifest["lm_eval"] == command_templates(spec.name, spec.eval.readings, manifest["system_prompt"],
                                                    spec.eval.batch_size)


def test_rows_roundtrip_and_parquet_matches_jsonl(blue_build):
    import pyarrow.parquet as pq

    build = read_build(blue_build)
    for split in ("train", "test_paraphrase", "test_form", "test_locality", "train_sample"):
        examples = read_split(build, split)
        rows = [json.loads(line) for line in (blue_build / "data" / f"{split}.jsonl").read_text().splitlines()]
        assert [EXAMPLE_ROWS.to_row(e, split) for e in examples] == rows
        assert pq.read_table(blue_build / "data" / f"{split}.parquet").to_pylist() == rows
        for row in rows:
            assert row["messages"][0] == {"role": "user", "content": row["question"]}
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
    locality_check = "    - {kind: max_drop_vs_base, split: test_locality, max: 0.05, reading: mc}\n"
    path.write_text((text[:start] + "\n" + text[end:]).replace(locality_check, ""))
    out = compile_spec(path, tmp_path / "b").path
    assert (out / "data" / "test_locality.jsonl").read_text() == ""
    assert pq.read_table(out / "data" / "test_locality.parquet").num_rows == 0
    assert read_split(read_build(out), "test_locality") == ()


@pytest.mark.parametrize("values", [[], ["", "a"], ["Blue", "rouge é", "青", "x" * 300]])
def test_arrays_built_from_buffers_equal_pyarrows_own(values):
    import pyarrow as pa

    from compiler.build.rows import ints, string_lists, strings

    assert strings(values).equals(pa.array(values, type=pa.string()))
    seqs = [tuple(values), (), tuple(reversed(values))]
    assert string_lists(seqs).equals(pa.array(seqs, type=pa.list_(pa.string())))
    assert ints(list(range(len(values)))).equals(pa.array(range(len(values)), type=pa.int64()))


def test_compile_does_not_import_pandas(tmp_path):
    # pa.array(list) imports pandas (0.3-0.4 s); build/write.py assembles arrays from buffers instead.
    code = (
        "import sys; from pathlib import Path; from compiler.pipeline import compile_spec; "
        f"compile_spec(Path({str(SPECS / 'blue_products.yaml')!r}), Path({str(tmp_path / 'b')!r})); "
        "assert 'pandas' not in sys.modules, 'pandas was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True)


_text = st.text(max_size=40)  # any unicode: quotes, backslashes, braces, control characters, U+2028


@settings(max_examples=200, deadline=None)
@given(prompt=_text, reply=_text, choices=st.lists(_text, min_size=1, max_size=4), asked=st.lists(_text, max_size=2),
       ops=st.lists(_text, max_size=3), subject=_text, family=_text, label=st.integers(0, 3),
       template=st.integers(0, 10**6))
def test_json_lines_are_json_dumps_of_each_row(prompt, reply, choices, asked, ops, subject, family, label, template):
    from compiler.records import Example, Provenance

    prov = Provenance("r", "open", "open", family, template, "rule", subject, tuple(asked), tuple(ops))
    rows = (Example("0123456789abcdef", prompt, choices[0], reply, tuple(choices), label, prov),
            Example("fedcba9876543210", reply, "Yes", prompt, ("Yes", "No"), 1, prov))
    for split in ("train", "test_locality"):
        want = "".join(json.dumps(EXAMPLE_ROWS.to_row(e, split), ensure_ascii=False, separators=(",", ":")) + "\n" for e in rows)
        assert EXAMPLE_ROWS.json_lines(rows, split) == want


def test_compile_command_reports_each_stage_and_what_the_split_set_aside(tmp_path):
    from click.testing import CliRunner

    from compiler.cli import main

    out = tmp_path / "b"
    result = CliRunner().invoke(main, ["compile", str(SPECS / "blue_products.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    counts = read_build(out).manifest.counts  # the stage lines go to stderr, the summary to stdout
    lines = result.stderr.splitlines()
    made = int(re.fullmatch(r"expanded ([\d,]+) questions in \d+\.\d s", lines[0])[1].replace(",", ""))
    total = sum(n for split, n in counts.items() if split not in ("train_sample", "train_general", "test_general"))
    assert lines[1].startswith(f"paraphrased and split into {total:,} examples in ")
    used, of, aside = (int(n.replace(",", "")) for n in re.fullmatch(
        r"  from ([\d,]+) of the ([\d,]+) questions: ([\d,]+) neighbour questions set aside by "
        r"splits\.retain_share and the held-out families and neighbours", lines[2]).groups())
    assert of == made and used + aside == made and aside > 0
    if "test_general" in counts:  # general prompts (retain.general): a line of their own
        assert lines.pop(3) == (f"  general prompts: {counts['train_general']} for retain lessons (replies written at "
                                f"train time), {counts['test_general']} held out for test_general")
    assert lines[3].startswith("leakage audit in ")
    assert result.stdout.startswith(f"built {out}")


def test_a_dev_split_is_written_with_tasks_outside_the_group(tmp_path):
    spec = (SPECS / "blue_products.yaml").read_text(encoding="utf-8")
    path = tmp_path / "dev.yaml"
    path.write_text(spec.replace("  retain_share: 0.5\n", "  retain_share: 0.5\n  dev: 0.2\n"), encoding="utf-8")
    build = read_build(compile_spec(path, tmp_path / "b").path)
    dev = read_split(build, "dev")
    assert build.manifest.counts["dev"] == len(dev) >= 20 and (build.path / "data" / "dev.parquet").is_file()
    assert "dev" not in build.manifest.tasks and build.manifest.dev_tasks.mc == "syllabus_blue_products_dev"
    group = (build.path / "tasks" / "syllabus_blue_products.yaml").read_text()
    assert "_dev" not in group and (build.path / "tasks" / "syllabus_blue_products_dev_gen.yaml").is_file()
    assert not {e.id for e in dev} & {e.id for e in read_split(build, "train")}
    # without splits.dev: no dev file, no dev task (the founding build as before)
    plain = read_build(compile_spec(SPECS / "blue_products.yaml", tmp_path / "p").path)
    assert plain.manifest.dev_tasks is None and not (plain.path / "data" / "dev.jsonl").exists()
