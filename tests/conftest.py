"""Shared fixtures: the project root and specs, compiled builds cached per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

# Keep the model cache out of the user's home in tests unless they point it somewhere.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):  # `-n 2`: two workers share the cores, so idle threads sleep
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before any test imports torch: see compiler/__init__.py


@pytest.fixture(scope="session")
def blue_build(tmp_path_factory) -> Path:
    """build of specs/blue_products.yaml, compiled once per test session."""
    from compiler.pipeline import compile_spec

    out = tmp_path_factory.mktemp("builds") / "blue-products"
    compile_spec(SPECS / "blue_products.yaml", out)
    return out
