"""What a model returns, and the plain next-token loss that validation always uses.

A model owns its training loss: ``model(idx, targets)`` returns a :class:`ModelOutput` whose
``loss`` already holds every auxiliary term the model's knobs add (z-loss, ...), and whose
``metrics`` name the parts, so the trainer can log them without knowing which knobs are on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from gptlab.registry import lookup

IGNORE_INDEX = -100  # targets with this id (e.g. masked by the data pipeline) add nothing to any loss


@dataclass
class ModelOutput:
    logits: torch.Tensor | None  # (batch, seq, vocab); None from a chunked training loss (model.loss_chunk_tokens)
    loss: torch.Tensor | None = None  # the total training loss; None without targets
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)  # extra scalars to log, e.g. lm_loss, z_loss


def next_token_loss(
    logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean", kernel: str = "auto"
) -> torch.Tensor:
    """Cross-entropy of ``logits`` against ``targets``, computed in float32 by the ``loss_kernel`` named
    ``kernel`` (:mod:`gptlab.model.cross_entropy`); IGNORE_INDEX targets are skipped. ``reduction``: ``mean``
    over the counted targets, ``sum``, or ``none`` (one loss per target, 0 where ignored)."""
    losses = lookup("loss_kernel", kernel, key="model.loss_kernel").target(logits.flatten(0, -2), targets.flatten())
    return reduce_losses(losses, targets, reduction)


def reduce_losses(losses: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Per-target ``losses`` (0 where ignored) reduced as ``next_token_loss`` reduces them."""
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / (targets != IGNORE_INDEX).sum().clamp(min=1)
