"""Where this process sits in a run of several processes (torchrun): rank, world size, device.

One ``World`` value flows to everything that logs, saves, samples or slices data, so that only
rank 0 writes and every rank reads its own part of each batch. A plain run is ``World.single``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @classmethod
    def single(cls, device: torch.device) -> World:
        return cls(0, 1, 0, torch.device(device))

    @classmethod
    def from_env(cls, device: torch.device) -> World:
        """torchrun's RANK, WORLD_SIZE and LOCAL_RANK; with several processes, joins the process group
        (NCCL on CUDA, gloo on the CPU) and takes the GPU of the local rank."""
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size == 1:
            return cls.single(device)
        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device(device)
        if device.type == "cuda":
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group("cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo")
        return cls(rank, world_size, local_rank, device)

    def barrier(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.barrier()
