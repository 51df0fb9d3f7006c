"""The CPU benchmarks still run, on small inputs, and print the figures their docstrings
promise (a benchmark that rotted would be found only by the next person who needs it).
No timing is asserted: timings belong to the benchmark's own run, not to a test."""

import re
import subprocess
import sys

from tests.conftest import ROOT


def _run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_bench_compile_prints_ratio_stages_yardstick_and_audit_growth():
    out = _run("tests/benchmarks/bench_compile.py", "--subjects", "3", "--audit-max", "100000", "--repeat", "1")
    assert re.search(r"^examples compiled: +[\d,]+ \(from [\d,]+ rendered questions\)$", out, re.M), out
    assert re.search(r"^ratio full / bare: +\d+\.\d\dx", out, re.M), out
    assert re.search(r"^  per example rendered: +\d+\.\d\dx", out, re.M), out
    for stage in ("expand (renders)", "paraphrase + split", "audit", "write (JSONL, Parquet, manifest)"):
        assert re.search(rf"^  {re.escape(stage)} +\d+\.\d\d s +\d+\.\d\dx bare", out, re.M), (stage, out)
    assert re.search(r"^data files of the splits: \d+\.\d\d s = \d+\.\d\dx bare; the plain way .* = \d+\.\d\dx bare "
                     r"\(\d+\.\dx syllabus's writer\)$", out, re.M), out
    assert re.search(r"^audit +100,000 examples:", out, re.M), out
    assert re.search(r"^audit growth vs linear: +\d+\.\d\d", out, re.M), out


def test_bench_diff_prints_ratio_to_its_baseline():
    out = _run("tests/benchmarks/bench_diff.py", "1000")
    assert re.search(r"= \d+\.\d\d× baseline", out), out


def test_bench_train_tiny_prints_useful_tokens_and_the_ratio():
    out = _run("tests/benchmarks/bench_train.py", "--tiny", "--steps", "3", "--rounds", "1")
    assert re.search(r"^  round 1 ours +[\d.]+ tok/s wall +[\d.]+ tok/CPU-s +[\d.]+ answer tok/s", out, re.M), out
    assert re.search(r"^ratio ours/baseline: \d+\.\d\dx wall, \d+\.\d\dx per CPU-second, \d+\.\d\dx answer tokens", out,
                     re.M), out
