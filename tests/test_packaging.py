"""Packaging: `pip install .` (a wheel, not an editable install) carries the built-in template
pack (compiler/templates/, package data), and the installed syllabus validates and compiles a
shipped spec from wherever it is installed, byte-identical to the checkout's compile.

Offline: the wheel is built from a copy of the source in tmp (so no build/ or *.egg-info
lands in the checkout) with the venv's own setuptools, and installed with --target."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from compiler.errors import StorageError
from compiler.spec import library
from tests.conftest import ROOT, SPECS

TEMPLATES = ROOT / "compiler" / "templates"
# What the wheel must hold: every file of the built-in pack, as a path inside the wheel.
PACK_FILES = sorted(p.relative_to(ROOT).as_posix() for p in TEMPLATES.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
PIP_ENV = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}


def _pip(*args: str | Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", *map(str, args)], capture_output=True, text=True,
                          env=PIP_ENV, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _source(dest: Path) -> Path:
    """A copy of what a build reads (pyproject, README, the package): building writes build/
    and syllabus.egg-info beside it, so they land in tmp, not in the checkout."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "compiler", dest / "compiler", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built offline from a copy of the source."""
    src = _source(tmp_path_factory.mktemp("src"))
    dist = tmp_path_factory.mktemp("dist")
    _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "--no-cache-dir", "-w", dist, src)
    (whl,) = dist.glob("syllabus-*.whl")
    return whl


@pytest.fixture(scope="module")
def site(wheel, tmp_path_factory) -> Path:
    """The wheel installed (not editable) into a folder of its own."""
    target = tmp_path_factory.mktemp("site")
    _pip("install", "--no-deps", "--no-index", "--no-cache-dir", "--target", target, wheel)
    return target


def _run(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """python ARGS with only the installed copy importable: PYTHONPATH is the install folder and
    cwd a temp folder, so the checkout's compiler/ (or its templates) cannot stand in for it."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_the_pack_lives_inside_the_package():
    assert library.BUILTIN_PACK == TEMPLATES and not (ROOT / "templates").exists()
    assert {"compiler/templates/paraphrase.yaml", "compiler/templates/forms/yes_no.yaml",
            "compiler/templates/general/writing.yaml"} <= set(PACK_FILES)


def test_the_wheel_carries_the_template_pack(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [f for f in PACK_FILES if f not in names]
    assert not missing, f"not in {wheel.name}: {missing}"
    assert "compiler/spec/library.py" in names
    assert not any(n.startswith(("tests/", "specs/", "templates/")) for n in names)  # only the package ships


def test_the_sdist_carries_the_template_pack_without_a_manifest_in(tmp_path):
    (tmp_path / "src").mkdir()
    src = _source(tmp_path / "src")
    build = "import sys, setuptools.build_meta as b; print(b.build_sdist(sys.argv[1]))"
    proc = subprocess.run([sys.executable, "-c", build, str(tmp_path / "dist")], capture_output=True, text=True,
                          cwd=src, timeout=600)
    assert proc.returncode == 0, proc.stderr
    with tarfile.open(tmp_path / "dist" / proc.stdout.split()[-1]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}  # drop the syllabus-<version>/ folder
    assert not [f for f in PACK_FILES if f not in names]


def test_the_installed_copy_validates_and_compiles_a_shipped_spec(site, tmp_path, blue_build):
    work = tmp_path / "work"
    work.mkdir()
    spec = work / "blue_products.yaml"
    shutil.copy2(SPECS / "blue_products.yaml", spec)

    where = _run(site, work, "-c", "import compiler, compiler.spec.library as l; print(compiler.__file__); print(l.BUILTIN_PACK)")
    assert where.returncode == 0, where.stderr
    module, pack = (Path(line) for line in where.stdout.split())
    assert module.resolve() == (site / "compiler" / "__init__.py").resolve()  # not the checkout
    assert pack.resolve() == (site / "compiler" / "templates").resolve() and (pack / "forms" / "open.yaml").is_file()

    validate = _run(site, work, "-m", "compiler.cli", "validate", spec.name)
    assert validate.returncode == 0, validate.stderr
    out = work / "build" / "blue-products"
    compiled = _run(site, work, "-m", "compiler.cli", "compile", spec.name)
    assert compiled.returncode == 0, compiled.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["name"] == "blue-products" and manifest["counts"]["splits"]["test_form"] > 0
    # The same templates from another folder: every file the checkout's compile wrote, byte for byte.
    ours = {p.relative_to(blue_build).as_posix(): p.read_bytes() for p in blue_build.rglob("*") if p.is_file()}
    theirs = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert ours.keys() == theirs.keys()
    assert [name for name in sorted(ours) if ours[name] != theirs[name]] == []


def test_a_missing_built_in_pack_is_named_not_a_wall_of_unknown_forms(tmp_path, monkeypatch):
    monkeypatch.setattr(library, "BUILTIN_PACK", tmp_path / "gone")
    with pytest.raises(StorageError, match="built-in template pack is missing"):
        library.load_library.__wrapped__(())
