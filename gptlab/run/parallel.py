"""Where a distributed strategy wraps the built model (torchtitan's ``parallelize`` step).

The model code never mentions ranks: ``wrap_model`` takes the plain model and returns the module
that training forward passes go through. One process gets the model itself (compiled when
``trainer.compile``); a strategy for several processes (DDP, FSDP2) plugs in here.
"""

from __future__ import annotations

import torch
from torch import nn

from gptlab.errors import ConfigError
from gptlab.trainer.config import TrainerConfig
from gptlab.world import World


def wrap_model(model: nn.Module, world: World, trainer_cfg: TrainerConfig) -> nn.Module:
    """The module the training loop calls; checkpoints still save ``model``'s own state dict."""
    if world.world_size > 1:
        raise ConfigError(
            f"WORLD_SIZE={world.world_size}: this gptlab has no distributed strategy yet, so every process would "
            f"train its own copy of the model. Run one process (without torchrun)."
        )
    return torch.compile(model) if trainer_cfg.compile else model
