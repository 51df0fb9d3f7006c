"""An exported folder → a Hugging Face Hub repo (`--push REPO`), through huggingface_hub's
HfApi.upload_folder. Nothing here runs without --push; tests never reach the network.

  check_push(repo)               before any work: the client is installed, REPO is a repo id,
                                 the hub is not switched off (HF_HUB_OFFLINE) → else UsageError (2)
  push_folder(folder, repo, kind) → the commit's URL; PushFailed (3) naming the cause (no network,
                                 no token, no write access …): the export itself is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ..errors import PushFailed, UsageError


def _repo_type(kind: Literal["build", "run"]) -> str:
    return "dataset" if kind == "build" else "model"  # a build is a dataset repo, a run's adapter a model repo


def check_push(repo: str) -> None:
    """--push REPO → None when an upload can be tried; UsageError (2) saying what to fix."""
    try:
        from huggingface_hub import constants
        from huggingface_hub.utils import HFValidationError, validate_repo_id
    except ImportError:
        raise UsageError("--push needs the huggingface_hub package: pip install huggingface_hub") from None
    try:
        validate_repo_id(repo)
    except HFValidationError as exc:
        raise UsageError(f"--push {repo!r}: not a Hugging Face repo id ({exc}); use OWNER/NAME") from None
    if constants.HF_HUB_OFFLINE:
        raise UsageError(f"--push {repo}: HF_HUB_OFFLINE is set, so nothing can be uploaded; unset it, or export "
                         "without --push and upload the folder later")


def push_folder(folder: Path, repo: str, kind: Literal["build", "run"]) -> str:
    """An exported folder + REPO + what it holds → the URL of the commit that uploaded it (the repo
    is created when missing, private by the account's default); PushFailed otherwise."""
    from huggingface_hub import HfApi

    repo_type = _repo_type(kind)
    api = HfApi()
    try:
        api.create_repo(repo, repo_type=repo_type, exist_ok=True)
        info = api.upload_folder(repo_id=repo, folder_path=str(folder), repo_type=repo_type,
                                 commit_message=f"syllabus export of {Path(folder).name}")
    except Exception as exc:  # noqa: BLE001 - connection, auth, permission, quota: all end the push alike
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PushFailed(
            f"--push {repo}: the upload failed ({type(exc).__name__}: {first}); {folder} was written and is kept: "
            f"check the network and your token (`hf auth login`), then run "
            f"`hf upload {repo} {folder} --repo-type {repo_type}`"
        ) from None
    return str(getattr(info, "commit_url", "") or f"https://huggingface.co/{'datasets/' if kind == 'build' else ''}{repo}")
