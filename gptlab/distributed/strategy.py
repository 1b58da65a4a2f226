"""Data parallelism over processes (registry kind ``strategy``, selected by ``trainer.strategy``).

Every rank holds the model and trains on its slice of each global batch (the loader slices it);
gradients are averaged over ranks before the optimizer step. ``ddp`` keeps a full replica per GPU
and all-reduces gradients in buckets while the backward pass runs (PyTorch DDP, Li et al. 2020,
arXiv:2006.15704); ``fsdp`` shards parameters, gradients and optimizer state over the ranks and
gathers each block's weights only while it runs (FSDP2's ``fully_shard``, Zhao et al. 2023,
arXiv:2304.11277), for models that do not fit one GPU. ``none`` is a single process.

A strategy also says how to skip the all-reduce on all but the last micro-batch of a gradient
accumulation step, and how to save and load checkpoints that every rank can resume from: rank 0
writes full (unsharded) state dicts, every rank reads them.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

from gptlab.errors import ConfigError
from gptlab.registry import lookup, register
from gptlab.world import World


class Strategy:
    """One process: the model as built."""

    # whether a fused optimizer may skip a non-finite step on the device (found_inf); FSDP2's
    # sharded parameters (DTensors) do not mix with the plain flag tensor, so there the host checks
    device_skip = True

    def wrap(self, model: nn.Module, world: World, dtype: torch.dtype) -> nn.Module:
        """The module that training calls (the built ``model`` keeps the checkpoint's names)."""
        return model

    def gradient_sync(self, wrapped: nn.Module, enabled: bool) -> contextlib.AbstractContextManager:
        """Inside: backward passes all-reduce gradients only when ``enabled`` (the last micro-batch)."""
        return contextlib.nullcontext()

    def model_state(self, model: nn.Module) -> dict[str, Any]:
        return model.state_dict()

    def load_model_state(self, model: nn.Module, state: dict[str, Any]) -> None:
        model.load_state_dict(state)

    def optimizer_state(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        return optimizer.state_dict()

    def load_optimizer_state(self, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
        optimizer.load_state_dict(state)


register("strategy", "none")(Strategy)


@register("strategy", "ddp")
class DistributedDataParallel(Strategy):
    """A full replica per rank; gradients all-reduced in buckets during the backward pass."""

    def wrap(self, model: nn.Module, world: World, dtype: torch.dtype) -> nn.Module:
        from torch.nn.parallel import DistributedDataParallel as DDP

        device_ids = [world.device.index] if world.device.type == "cuda" else None
        return DDP(model, device_ids=device_ids, gradient_as_bucket_view=True)

    def gradient_sync(self, wrapped: nn.Module, enabled: bool) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext() if enabled else wrapped.no_sync()


@register("strategy", "fsdp")
class FullyShardedDataParallel(Strategy):
    """Parameters, gradients and optimizer state sharded over the ranks, block by block (FSDP2)."""

    device_skip = False

    def wrap(self, model: nn.Module, world: World, dtype: torch.dtype) -> nn.Module:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        policy = MixedPrecisionPolicy(param_dtype=dtype if dtype != torch.float32 else None, reduce_dtype=torch.float32)
        for block in getattr(model, "blocks", []):
            fully_shard(block, mp_policy=policy)
        fully_shard(model, mp_policy=policy)
        return model

    def gradient_sync(self, wrapped: nn.Module, enabled: bool) -> contextlib.AbstractContextManager:
        wrapped.set_requires_gradient_sync(enabled)
        return contextlib.nullcontext()

    @staticmethod
    def _options():
        from torch.distributed.checkpoint.state_dict import StateDictOptions

        return StateDictOptions(full_state_dict=True, cpu_offload=True)

    def model_state(self, model: nn.Module) -> dict[str, Any]:
        from torch.distributed.checkpoint.state_dict import get_model_state_dict

        return get_model_state_dict(model, options=self._options())

    def load_model_state(self, model: nn.Module, state: dict[str, Any]) -> None:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        set_model_state_dict(model, state, options=StateDictOptions(full_state_dict=True))

    def optimizer_state(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

        return get_optimizer_state_dict(model, optimizer, options=self._options())

    def load_optimizer_state(self, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        set_optimizer_state_dict(model, optimizer, state, options=StateDictOptions(full_state_dict=True))


def strategy_choice(name: str, world: World) -> str:
    """The registered strategy for ``trainer.strategy``: ``auto`` is ``ddp`` with several processes,
    else ``none``. A data-parallel strategy needs torchrun's several processes."""
    if name == "auto":
        return "ddp" if world.world_size > 1 else "none"
    lookup("strategy", name, key="trainer.strategy")
    if name != "none" and not world.world_size > 1:
        raise ConfigError(
            f"trainer.strategy={name} spreads training over several processes, but this is one process. Start it "
            f"with torchrun, e.g. `torchrun --nproc_per_node=2 -m gptlab.train trainer.strategy={name}`, or use "
            f"trainer.strategy=auto."
        )
    if name == "none" and world.world_size > 1:
        raise ConfigError(
            f"trainer.strategy=none but torchrun started {world.world_size} processes; use trainer.strategy=auto, ddp or fsdp."
        )
    return name


def build_strategy(name: str) -> Strategy:
    return lookup("strategy", name, key="trainer.strategy").target()
