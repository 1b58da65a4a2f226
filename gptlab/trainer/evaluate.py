"""Validation loss and bits per byte on a fixed set of validation windows.

Bits per byte = total negative log-likelihood in bits / UTF-8 bytes of the evaluated target
tokens, so models with different tokenizers compare on the same scale.
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
) -> dict[str, float]:
    was_training = model.training
    model.eval()
    nats = torch.zeros((), dtype=torch.float64)
    count = byte_count = 0
    for x, y in evaluation_batches(tokens, block_size, batch_size, num_batches):
        x, y = x.to(device), y.to(device)
        with autocast:
            logits = model(x).logits  # the plain next-token loss, without the model's auxiliary terms
        nats += next_token_loss(logits, y, reduction="sum").double().cpu()
        kept = y[y != IGNORE_INDEX].cpu()
        count += kept.numel()
        byte_count += int(token_bytes[kept].sum())
    model.train(was_training)
    total = nats.item()
    return {"val_loss": total / count, "val_bpb": total / math.log(2) / max(1, byte_count)}
