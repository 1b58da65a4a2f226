"""The processes of a run: this one's rank, how many there are, and its device.

Everything in a run that logs, saves, samples or slices data asks ``world``: only the main
process (rank 0) writes files and logs, the data loader keeps rank ``rank``'s slice of each global
batch. One process is ``World.single(device)``; ``World.from_env`` reads what ``torchrun`` sets
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``). Setting up the process group (``torch.distributed``)
is the distributed strategy's job (``gptlab/run/parallel.py``), not this value's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from gptlab.device import resolve_device
from gptlab.errors import ConfigError


@dataclass(frozen=True)
class World:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0  # the rank among the processes of this machine: picks its GPU
    device: torch.device = torch.device("cpu")

    def __post_init__(self) -> None:
        if not 0 <= self.rank < self.world_size or not 0 <= self.local_rank < self.world_size:
            raise ConfigError(
                f"RANK={self.rank} and LOCAL_RANK={self.local_rank} must lie in 0..WORLD_SIZE-1={self.world_size - 1}."
            )

    @property
    def is_main(self) -> bool:
        """The process that writes files, logs and samples (rank 0)."""
        return self.rank == 0

    @classmethod
    def single(cls, device: torch.device | str = "cpu") -> World:
        return cls(device=torch.device(device))

    @classmethod
    def from_env(cls, device_name: str = "auto", env: Mapping[str, str] = os.environ) -> World:
        """The world torchrun describes in ``env`` (one process when it describes none); a CUDA
        device without an index becomes this process's GPU, ``cuda:LOCAL_RANK``."""
        try:
            rank, world_size, local_rank = (int(env.get(key, default)) for key, default in _TORCHRUN_KEYS)
        except ValueError:
            values = ", ".join(f"{key}={env.get(key)!r}" for key, _ in _TORCHRUN_KEYS)
            raise ConfigError(f"torchrun's environment must hold integers: {values}.") from None
        device = resolve_device(device_name)
        if device.type == "cuda" and device.index is None and world_size > 1:
            device = torch.device("cuda", local_rank)
        return cls(rank, world_size, local_rank, device)

    def barrier(self) -> None:
        """Wait for every process (a no-op for one process or without a process group)."""
        if self.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.barrier()


_TORCHRUN_KEYS = (("RANK", "0"), ("WORLD_SIZE", "1"), ("LOCAL_RANK", "0"))
