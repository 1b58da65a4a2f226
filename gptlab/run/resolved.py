"""The run config after every check: each group's typed config, the seed and the cache dir.

Past ``ResolvedRun.from_config`` no code reads the raw Hydra config: the steps of a run get
typed fields, and ``plain`` (the resolved config as plain containers) is what checkpoints save
and what a resume compares.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from gptlab.config import resolve
from gptlab.sweep.config import SweepConfig
from gptlab.trainer.config import TrainerConfig


@dataclass
class ResolvedRun:
    model: Any
    optimizer: Any
    schedule: Any
    data: Any
    tokenizer: Any
    logger: Any
    trainer: TrainerConfig
    sweep: SweepConfig
    seed: int
    cache_dir: Path
    plain: dict[str, Any]  # the whole resolved config as plain dicts and lists

    @classmethod
    def from_config(cls, cfg: DictConfig) -> ResolvedRun:
        """Every config check runs here, before any data is read."""
        typed = resolve(cfg)
        return cls(
            model=typed["model"],
            optimizer=typed["optimizer"],
            schedule=typed["schedule"],
            data=typed["data"],
            tokenizer=typed["tokenizer"],
            logger=typed["logger"],
            trainer=typed["trainer"],
            sweep=typed["sweep"],
            seed=int(cfg.seed),
            cache_dir=Path(str(cfg.cache_dir)).expanduser(),
            plain=OmegaConf.to_container(cfg, resolve=True),
        )
