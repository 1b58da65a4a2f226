"""Validation loss and bits per byte on a fixed set of validation windows.

Bits per byte = negative log-likelihood in bits / UTF-8 bytes, over the target tokens that stand for
text, so models with different tokenizers compare on the same scale. Special-token targets (EOS, BOS:
0 bytes) are left out of both sums, as nanochat counts them; the loss keeps every target.

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
    precise = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
    sums = torch.zeros(4, dtype=precise, device=device)  # nats, text nats, targets, bytes
    token_bytes = token_bytes.to(device)
    for x, y in evaluation_batches(tokens, block_size, batch_size * world_size, num_batches):
        x, y = x[rank::world_size].to(device), y[rank::world_size].to(device)
        with autocast:
            logits = model(x).logits  # the plain next-token loss, without the model's auxiliary terms
        losses = next_token_loss(logits, y, reduction="none").view_as(y).to(precise)
        kept = y != IGNORE_INDEX
        target_bytes = torch.where(kept, token_bytes[y.clamp(min=0)], 0)
        text_nats = losses[target_bytes > 0].sum()  # special tokens (0 bytes) count in neither sum
        sums += torch.stack([losses.sum(), text_nats, kept.sum().to(precise), target_bytes.sum().to(precise)])
    if world_size > 1:
        torch.distributed.all_reduce(sums)
    model.train(was_training)
    nats, text_nats, count, byte_count = sums.tolist()
    return {"val_loss": nats / count, "val_bpb": text_nats / math.log(2) / max(1, byte_count)}
