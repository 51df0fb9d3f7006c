"""Trials on many workers: `syllabus sweep SPEC --worker I/N`, or N copies started by
torchrun / accelerate launch (RANK, WORLD_SIZE: training/ranks.py), each run the trials whose
position (0-based, in grid order) is I modulo N, into the one sweep folder, and stop. They do
not choose or examine: a plain `syllabus sweep SPEC` afterwards finds every trial done (none is
run again), chooses, and examines once.

Trials are independent, so a worker trains each of its trials alone: a process a launcher
started is made a standalone one (`standalone()`: its own GPU, LOCAL_RANK, made the only one it
sees; the launcher's rank variables removed so training does not join the others in DDP).
Workers never write the same file: each writes only its own trial folders (made exclusively),
sweep.json is the chooser's, and the shared build is written under a lock (building.py).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Sequence, TypeVar

from ..errors import UsageError

T = TypeVar("T")

# What torchrun / accelerate launch set for a process of a group: removed in a worker, so HF
# Trainer, accelerate and training/ranks.py see one process.
LAUNCHER_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE",
                 "ROLE_RANK", "ROLE_WORLD_SIZE", "ROLE_NAME", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Shard:
    """Worker `index` of `count`: the trials at positions p with p % count == index."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def take(self, items: Sequence[T]) -> list[T]:
        """Every item (trials, in grid order) → this worker's: positions index, index + count, …"""
        return [x for p, x in enumerate(items) if p % self.count == self.index]


def parse_worker(text: str) -> Shard:
    """'1/4' → Shard(1, 4); UsageError for anything but I/N with 0 ≤ I < N."""
    head, sep, tail = text.partition("/")
    try:
        index, count = int(head), int(tail)
    except ValueError:
        index, count = -1, 0
    if not sep or count < 1 or not 0 <= index < count:
        raise UsageError(f"--worker {text!r}: write I/N, worker I (from 0) of N, e.g. --worker 0/2 and --worker 1/2")
    return Shard(index, count)


def launched() -> Shard | None:
    """Under torchrun / accelerate launch with more than one process: this process's Shard (its
    RANK of WORLD_SIZE); None otherwise."""
    from ..training.ranks import ranks

    here = ranks()
    return Shard(here.rank, here.world) if here.world > 1 else None


def standalone() -> None:
    """A process a launcher started → one that trains alone on its own GPU: CUDA_VISIBLE_DEVICES
    narrowed to its LOCAL_RANK's device (before CUDA starts: the model is not loaded yet), the
    launcher's variables removed. Nothing without a launcher."""
    if "WORLD_SIZE" not in os.environ and "LOCAL_RANK" not in os.environ:
        return
    local = int(os.environ.get("LOCAL_RANK", "0") or 0)
    visible = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    os.environ["CUDA_VISIBLE_DEVICES"] = visible[local] if local < len(visible) else str(local)
    for name in LAUNCHER_VARS:
        os.environ.pop(name, None)


def owner() -> str:
    """This process, as a running trial's record names it: 'host:pid'."""
    return f"{socket.gethostname()}:{os.getpid()}"


def alive(who: str) -> bool:
    """'host:pid' → whether that process may still be running: on this host, whether the pid
    exists; on another host (a shared disk), assumed so: it cannot be asked."""
    host, _, pid = who.rpartition(":")
    if not pid.isdigit():
        return False
    if host != socket.gethostname():
        return True
    if int(pid) == os.getpid():
        return False  # this process is not running the trial it is looking at
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
