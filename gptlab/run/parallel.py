"""Where a distributed strategy wraps the built model (torchtitan's ``parallelize`` step).

The model code never mentions ranks: ``wrap_model`` takes the plain model and returns it prepared
to train (float8, activation checkpointing, compile, DDP/FSDP2: ``gptlab/distributed/``), with the
module that training forward passes go through. It runs before the optimizer is built, since
FSDP2 replaces the parameters by their shards.
"""

from __future__ import annotations

from torch import nn

from gptlab.distributed.parallelize import PreparedModel, parallelize
from gptlab.trainer.config import TrainerConfig
from gptlab.world import World


def wrap_model(model: nn.Module, world: World, trainer_cfg: TrainerConfig) -> PreparedModel:
    """The model prepared to train; checkpoints still save ``model``'s own (full) state dict."""
    return parallelize(model, trainer_cfg, world)
