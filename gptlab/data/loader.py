"""Batches of (input, target) windows from memmapped token ids."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def _windows(tokens: np.ndarray, starts: np.ndarray, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    idx = starts[:, None] + np.arange(block_size + 1)[None, :]
    chunk = torch.from_numpy(tokens[idx].astype(np.int64))
    return chunk[:, :-1], chunk[:, 1:]


class RandomWindowLoader:
    """Uniformly random training windows; the generator state is the loader's whole position."""

    def __init__(self, tokens: np.ndarray, block_size: int, batch_size: int, seed: int, device: torch.device):
        self.tokens, self.block_size, self.batch_size, self.device = tokens, block_size, batch_size, device
        self.generator = torch.Generator().manual_seed(seed)

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        high = len(self.tokens) - self.block_size - 1
        starts = torch.randint(high + 1, (self.batch_size,), generator=self.generator).numpy()
        x, y = _windows(self.tokens, starts, self.block_size)
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


def evaluation_batches(tokens: np.ndarray, block_size: int, batch_size: int, num_batches: int):
    """A fixed set of validation windows, evenly spaced over the split (the same at every eval)."""
    last_start = len(tokens) - block_size - 1
    count = max(1, min(batch_size * num_batches, last_start + 1))
    starts = np.linspace(0, last_start, count).astype(np.int64)
    for i in range(0, count, batch_size):
        yield _windows(tokens, starts[i : i + batch_size], block_size)
