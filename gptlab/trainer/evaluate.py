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
from torch.nn import functional as F

from gptlab.data.loader import evaluation_batches


@torch.no_grad()
def evaluate(
    model: nn.Module,
    tokens: np.ndarray,
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
            logits = model(x)
        nats += F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="sum").double().cpu()
        count += y.numel()
        byte_count += int(token_bytes[y.cpu()].sum())
    model.train(was_training)
    total = nats.item()
    return {"val_loss": total / count, "val_bpb": total / math.log(2) / max(1, byte_count)}
