"""The one place a built model is made ready to train: precision, float8, activation checkpointing,
compile and the data-parallel strategy, applied in torchtitan's order (float8 swaps the linear
layers first, checkpointing and per-block compile then wrap the blocks, the strategy wraps last,
and a whole-model compile wraps the strategy's module so DDP's buckets overlap the backward pass).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gptlab.distributed.compile import compile_choice
from gptlab.distributed.fp8 import convert_to_fp8
from gptlab.distributed.precision import autocast_dtype, low_precision_residual, set_tf32
from gptlab.distributed.recompute import checkpoint_blocks
from gptlab.distributed.strategy import Strategy, build_strategy, strategy_choice
from gptlab.registry import lookup
from gptlab.world import World


@dataclass
class PreparedModel:
    model: nn.Module  # the built model: its state dict is the checkpoint's
    forward: nn.Module  # what a training step calls (compiled and/or wrapped)
    wrapped: nn.Module  # the strategy's module (DDP / FSDP), which evaluation calls uncompiled
    strategy: Strategy
    world: World
    dtype: torch.dtype  # autocast dtype
    compile: str  # the compile choice that ran
    fp8_layers: int = 0

    def describe(self) -> str:
        strategy = type(self.strategy).__name__
        where = f"{self.world.world_size} processes ({strategy})" if self.world.world_size > 1 else "one process"
        dtype = f"{self.dtype}".removeprefix("torch.") + (
            " autocast" if self.dtype != torch.float32 else " (no autocast)"
        )
        fused = getattr(getattr(self.model, "head", None), "float8_loss", False)
        fp8 = f", float8 in {self.fp8_layers} linear layers" if self.fp8_layers else ""
        fp8 += " (the head fused with the loss's backward)" if fused else ""
        return f"fast path: {dtype}{fp8}, compile={self.compile}, {where}"


def parallelize(model: nn.Module, cfg, world: World) -> PreparedModel:
    """Apply the trainer's speed and scale knobs (``cfg``: the TrainerConfig) to ``model``, in place."""
    dtype = autocast_dtype(cfg.dtype, world.device)
    if world.device.type == "cuda":
        set_tf32(cfg.tf32)
    strategy_name = strategy_choice(cfg.strategy, world)
    compile_name = compile_choice(cfg.compile, world.device.type, strategy_name)
    if cfg.low_precision_residual:
        low_precision_residual(model, dtype)
    fp8_layers = (
        convert_to_fp8(model, world.device, blocks=cfg.fp8, head=cfg.fp8_head) if cfg.fp8 or cfg.fp8_head else 0
    )
    if cfg.activation_checkpointing:
        checkpoint_blocks(model)
    strategy = build_strategy(strategy_name)
    compiler = lookup("compile", compile_name).target
    compiler.prepare(model, cfg.compile_mode)
    wrapped = strategy.wrap(model, world, dtype)
    forward = compiler.finish(wrapped, cfg.compile_mode)
    return PreparedModel(model, forward, wrapped, strategy, world, dtype, compile_name, fp8_layers)
