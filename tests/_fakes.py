"""A hand-made build manifest for tests that write fake build folders: every key a real
compile writes, with empty breakdowns and audit unless a test passes its own."""

from __future__ import annotations

from compiler.build.read import BUILD_FORMAT


def fake_manifest(name: str, splits: dict[str, int], **fields) -> dict:
    """name, split → examples, overrides (system_prompt, tasks, spec_sha256, …) → manifest.json data."""
    return {
        "build_format": BUILD_FORMAT, "name": name, "spec_sha256": "0" * 64, "seed": 0, "system_prompt": "s",
        "counts": {"splits": dict(splits), "by_rule": {}, "by_form": {}, "by_scope": {}},
        "audit": {"ngram": 8, "refused": [], "splits": {}},
        "tasks": {"group": "g", "splits": {}}, "files": {},
        **fields,
    }
