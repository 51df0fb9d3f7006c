"""Golden builds: every text file of each shipped spec's build, byte for byte.

After an intended change to compile output, regenerate with `make golden`
(SYLLABUS_UPDATE_GOLDEN=1) and review the diff like code.
"""

import os
import shutil
from pathlib import Path

import pytest

from compiler.pipeline import compile_spec
from tests.conftest import SPECS

GOLDEN = Path(__file__).parent / "golden" / "builds"
UPDATE = os.environ.get("SYLLABUS_UPDATE_GOLDEN") == "1"


def _text_files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in {".jsonl", ".json", ".yaml", ".py", ".md"} and "__pycache__" not in p.parts
    }


@pytest.mark.parametrize("spec", sorted(p.name for p in SPECS.glob("*.yaml")))
def test_build_matches_golden(spec, tmp_path):
    out = tmp_path / "build"
    compile_spec(SPECS / spec, out)
    got = _text_files(out)
    golden = GOLDEN / Path(spec).stem
    if UPDATE:
        shutil.rmtree(golden, ignore_errors=True)
        for rel, text in got.items():
            (golden / rel).parent.mkdir(parents=True, exist_ok=True)
            (golden / rel).write_text(text, encoding="utf-8", newline="\n")
    want = _text_files(golden)
    assert sorted(got) == sorted(want), "files differ from the golden build; `make golden` regenerates it"
    for rel in want:
        assert got[rel] == want[rel], f"{rel} differs from tests/golden/builds/{Path(spec).stem}/{rel}; `make golden` regenerates it"
