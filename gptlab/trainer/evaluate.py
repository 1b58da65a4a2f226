"""Validation loss and bits per byte on a fixed set of validation windows.

Bits per byte = negative log-likelihood in bits / UTF-8 bytes, over the target tokens that stand for
text, so models with different tokenizers compare on the same scale. Special-token targets (EOS, BOS:
0 bytes) are left out of both sums, as nanochat counts them; the loss keeps every target.
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
    text_nats = torch.zeros((), dtype=torch.float64)
    count = byte_count = 0
    token_bytes = token_bytes.to(device)
    for x, y in evaluation_batches(tokens, block_size, batch_size, num_batches):
        x, y = x.to(device), y.to(device)
        with autocast:
            logits = model(x).logits  # the plain next-token loss, without the model's auxiliary terms
        losses = next_token_loss(logits, y, reduction="none").view_as(y).double()
        kept = y != IGNORE_INDEX
        target_bytes = torch.where(kept, token_bytes[y.clamp(min=0)], 0)
        nats += losses.sum().cpu()
        text_nats += losses[target_bytes > 0].sum().cpu()  # special tokens (0 bytes) count in neither sum
        count += int(kept.sum())
        byte_count += int(target_bytes.sum())
    model.train(was_training)
    return {"val_loss": nats.item() / count, "val_bpb": text_nats.item() / math.log(2) / max(1, byte_count)}
