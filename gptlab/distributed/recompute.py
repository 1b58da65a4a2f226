"""Activation checkpointing (Chen et al. 2016, "Training Deep Nets with Sublinear Memory Cost",
arXiv:1604.06174): each block keeps only its input for the backward pass and runs its forward
again there, trading about a third more compute for the activations of every layer.
"""

from __future__ import annotations

import functools

from torch import nn
from torch.utils.checkpoint import checkpoint


def _recomputed(forward, *args, **kwargs):
    return checkpoint(forward, *args, use_reentrant=False, **kwargs)


def checkpoint_blocks(model: nn.Module) -> None:
    """Recompute every block of ``model.blocks`` in the backward pass. The block's forward is
    replaced on the instance, so module names (state-dict keys) stay as they are."""
    for block in getattr(model, "blocks", []):
        block.forward = functools.partial(_recomputed, block.forward)
