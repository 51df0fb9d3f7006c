"""stats.py: a build → counts tables that agree with its data files, audit lines, examples."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest

from compiler.build.read import read_build, read_general, read_split
from compiler.names import GENERAL_SPLITS
from compiler.errors import UsageError
from compiler.build.stats import render_stats


def _row(text: str, label: str) -> list[str]:
    return next(line.split() for line in text.splitlines() if line.split()[:1] == [label])


def test_counts_agree_with_the_data_files(blue_build):
    text = render_stats(blue_build)
    build = read_build(blue_build)
    header = _row(text, "split")[1:]
    assert header == list(build.manifest.counts)
    for split in set(header) & set(GENERAL_SPLITS):  # general prompts: counted, in no form or scope table
        assert build.manifest.counts[split] == len(read_general(build, split))
    header = [s for s in header if s not in GENERAL_SPLITS]
    for form in ("open", "yes_no", "either_or", "completion", "instruction"):
        counted = [Counter(e.provenance.form for e in read_split(build, s))[form] for s in header]
        assert [int(n) for n in _row(text, form)[1:]] == counted
    scopes = {s: Counter(e.provenance.scope for e in read_split(build, s)) for s in header}
    assert [int(n) for n in _row(text, "neighbour")[1:]] == [scopes[s]["neighbour"] for s in header]


def test_audit_lines_and_examples_of_each_split(blue_build):
    text = render_stats(blue_build, n_examples=1)
    for split in ("test_paraphrase", "test_form", "test_locality"):
        assert f"audit {split}: exact 0, shared 8-grams 0 (0.0%), structural 0" in text
        first = read_split(read_build(blue_build), split)[0]
        assert f"{first.prompt}  → {first.answer}" in text
    assert "train_sample:" not in text  # a sample of train; train itself is shown


def test_a_damaged_manifest_is_a_usage_error(tmp_path, blue_build):
    copy = shutil.copytree(blue_build, tmp_path / "b")
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["audit"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UsageError, match="manifest.json lacks 'audit'"):
        render_stats(copy)
