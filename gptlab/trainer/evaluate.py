"""Validation loss and bits per byte on a fixed set of validation windows.

Bits per byte = total negative log-likelihood in bits / UTF-8 bytes of the evaluated target
tokens, so models with different tokenizers compare on the same scale.

With several ranks, each evaluates its share of every batch of ``batch_size * world_size``
windows and the sums are added over the ranks: the same windows, and the same result, as one
process with the global batch.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager

import numpy as np
import torch
from torch import nn

from gptlab.data.loader import evaluation_batches
from gptlab.model.output import IGNORE_INDEX, next_token_loss


@torch.no_grad()
def evaluate(
    model: nn.Module,
    tokens: np.ndarray | list[np.ndarray],
    token_bytes: torch.Tensor,
    block_size: int,
    batch_size: int,
    num_batches: int,
    device: torch.device,
    autocast: AbstractContextManager,
    rank: int = 0,
    world_size: int = 1,
) -> dict[str, float]:
    was_training = model.training
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64)  # nats, tokens, bytes
    for x, y in evaluation_batches(tokens, block_size, batch_size * world_size, num_batches):
        x, y = x[rank::world_size].to(device), y[rank::world_size].to(device)
        with autocast:
            logits = model(x).logits  # the plain next-token loss, without the model's auxiliary terms
        kept = y[y != IGNORE_INDEX].cpu()
        nats = next_token_loss(logits, y, reduction="sum").double().cpu()
        sums += torch.stack([nats, torch.tensor(kept.numel()), token_bytes[kept].sum()]).double()
    if world_size > 1:
        sums = sums.to(device)
        torch.distributed.all_reduce(sums)
    model.train(was_training)
    total, count, byte_count = sums.tolist()
    return {"val_loss": total / count, "val_bpb": total / math.log(2) / max(1, byte_count)}
