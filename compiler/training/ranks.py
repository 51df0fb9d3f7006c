"""Many processes, one run: `torchrun --nproc_per_node N -m compiler.cli train …` and
`accelerate launch -m compiler.cli train …` start N copies of `syllabus train`; the launcher
sets RANK, WORLD_SIZE and LOCAL_RANK. HF Trainer wraps the model in DDP (gradients averaged
across ranks each step); the batch samplers (model/batching.py) give each rank its own share of
every epoch; rank 0 alone writes the run folder, run.json, train_log.jsonl, checkpoints and the
adapter, and the other ranks wait for it at a barrier. One process (no launcher): rank 0 of 1,
and every function here does nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Ranks:
    rank: int  # 0 .. world − 1
    world: int  # processes in the run
    local: int  # this process's index on its machine: its GPU

    @property
    def main(self) -> bool:
        """Whether this process writes the run's files."""
        return self.rank == 0


def ranks() -> Ranks:
    """The launcher's environment (RANK, WORLD_SIZE, LOCAL_RANK) → Ranks; (0, 1, 0) without one."""
    env = lambda name, default: int(os.environ.get(name, default) or default)  # noqa: E731
    return Ranks(env("RANK", 0), env("WORLD_SIZE", 1), env("LOCAL_RANK", 0))


def join(on_cpu: bool) -> Ranks:
    """Under a launcher, join the process group (nccl on CUDA, gloo on CPU) the way HF Trainer
    will (accelerate's PartialState, the one state Trainer then reuses) → Ranks."""
    here = ranks()
    if here.world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            from accelerate import PartialState

            PartialState(cpu=on_cpu)
    return here


def _group() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def barrier() -> None:
    """Wait until every rank is here (nothing with one process)."""
    if ranks().world > 1 and _group():
        import torch.distributed as dist

        dist.barrier()


def from_main(value: T) -> T:
    """Rank 0's `value`, on every rank (a picklable object: a run folder's path)."""
    if ranks().world == 1 or not _group():
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def total(value: int) -> int:
    """The sum of an integer over the ranks (tokens each rank trained on)."""
    if ranks().world == 1 or not _group():
        return value
    import torch.distributed as dist

    box: list = [None] * dist.get_world_size()
    dist.all_gather_object(box, int(value))
    return sum(box)
