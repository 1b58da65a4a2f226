"""Typed config of a job's place in a sweep (``conf/sweep/``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from hydra.core.config_store import ConfigStore

from gptlab.errors import ConfigError


@dataclass
class SweepConfig:
    name: Optional[str] = None  # wandb group and summary title; null: from hydra.sweep.dir
    skip_finished: bool = True  # multirun: skip finished jobs (same config hash), resume interrupted ones
    gpus: Optional[list[int]] = None  # GPU pool for parallel jobs; null: every GPU torch sees
    jobs_per_gpu: int = 1  # parallel jobs sharing one GPU (hydra/launcher=gpus runs pool x this many)

    def __post_init__(self) -> None:
        if self.jobs_per_gpu <= 0:
            raise ConfigError(f"sweep.jobs_per_gpu={self.jobs_per_gpu} must be a positive integer.")
        if self.gpus is not None and (not self.gpus or any(g < 0 for g in self.gpus)):
            raise ConfigError(f"sweep.gpus={self.gpus} must be a non-empty list of GPU indices, or null for all GPUs.")


ConfigStore.instance().store(group="schema/sweep", name="default", node=SweepConfig)
