"""torch.compile of the model (registry kind ``compile``, selected by ``trainer.compile``).

``model`` compiles the whole forward into one graph (the fastest steps, the longest compile);
``blocks`` compiles each transformer block on its own (one graph reused by every block: a short
compile, and the form FSDP2 and activation checkpointing work best with); ``none`` runs eagerly.
A compiler acts twice: ``prepare`` on the built model before the data-parallel strategy wraps it,
``finish`` on the wrapped module (a whole-model compile of a DDP module lets dynamo split the
graph at DDP's buckets, so the all-reduce overlaps the backward pass). Block forwards are compiled
on the instance, so state-dict keys never change. ``trainer.compile_mode`` is torch.compile's
``mode``: ``reduce-overhead`` replays CUDA graphs, ``max-autotune-no-cudagraphs`` searches matmul
configurations without them.
"""

from __future__ import annotations

import torch
from torch import nn

from gptlab.registry import lookup, register


def _mode(mode: str) -> str | None:
    return None if mode == "default" else mode


@register("compile", "none")
class NoCompile:
    """Eager execution."""

    @staticmethod
    def prepare(model: nn.Module, mode: str) -> None:
        pass

    @staticmethod
    def finish(wrapped: nn.Module, mode: str) -> nn.Module:
        return wrapped


@register("compile", "model")
class CompileModel(NoCompile):
    """The whole model as one graph."""

    @staticmethod
    def finish(wrapped: nn.Module, mode: str) -> nn.Module:
        return torch.compile(wrapped, mode=_mode(mode))


@register("compile", "blocks")
class CompileBlocks(NoCompile):
    """Each block of ``model.blocks`` as its own graph; the embedding and head stay eager."""

    @staticmethod
    def prepare(model: nn.Module, mode: str) -> None:
        for block in getattr(model, "blocks", []):
            block.forward = torch.compile(block.forward, mode=_mode(mode))


def compile_choice(name: str, device_type: str, strategy: str) -> str:
    """The registered compile name for ``trainer.compile``: ``auto`` is ``model`` on CUDA (``blocks``
    under FSDP, which gathers weights block by block) and ``none`` elsewhere."""
    if name != "auto":
        lookup("compile", name, key="trainer.compile")
        return name
    if device_type != "cuda":
        return "none"
    return "blocks" if strategy == "fsdp" else "model"
