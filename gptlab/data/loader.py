"""Batches of (input, target) windows from memmapped token shards.

``RandomWindowLoader`` draws windows uniformly over every valid start in every shard (or, with
``doc_starts``, over the document starts), from one generator whose state is the loader's whole
position, saved in checkpoints. With ``world_size`` ranks, every rank draws the same global batch
of ``batch_size * world_size`` windows and keeps its own slice, so ranks never share a window and
a resumed run sees the same data order. With ``doc_mask``, a target whose document differs from
its input's becomes -100, which ``F.cross_entropy`` ignores; ``next_batch_with_docs`` also returns
per-token document ids for attention masking in the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gptlab.data.cache import Shard

IGNORE_INDEX = -100  # F.cross_entropy's default ignore_index


def _windows(tokens: np.ndarray, starts: np.ndarray, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    idx = starts[:, None] + np.arange(block_size + 1)[None, :]
    chunk = torch.from_numpy(tokens[idx].astype(np.int64))
    return chunk[:, :-1], chunk[:, 1:]


class RandomWindowLoader:
    """Uniformly random training windows across shards; the generator state is the loader's position."""

    def __init__(
        self,
        shards: list[Shard] | np.ndarray,
        block_size: int,
        batch_size: int,
        seed: int,
        device: torch.device,
        *,
        doc_starts: bool = False,
        doc_mask: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ):
        if isinstance(shards, np.ndarray):
            shards = [Shard.of(shards)]
        if not 0 <= rank < world_size:
            raise ValueError(f"rank={rank} must lie in 0..world_size-1={world_size - 1}")
        self.shards = [s for s in shards if len(s.tokens) > block_size]
        if not self.shards:
            raise ValueError(f"no shard holds more than block_size={block_size} tokens")
        self.block_size, self.batch_size, self.device = block_size, batch_size, device
        self.doc_mask, self.rank, self.world_size = doc_mask, rank, world_size
        self.generator = torch.Generator().manual_seed(seed)
        # candidate starts: every valid offset, or the valid document starts (shards without any keep every offset)
        self._starts = []
        for shard in self.shards:
            last = len(shard.tokens) - block_size - 1
            aligned = shard.doc_starts[shard.doc_starts <= last] if doc_starts else None
            self._starts.append(aligned if aligned is not None and len(aligned) else last + 1)
        counts = [len(s) if isinstance(s, np.ndarray) else s for s in self._starts]
        self._offsets = np.cumsum([0, *counts])

    def _draw(self) -> tuple[np.ndarray, np.ndarray]:
        """(shard index, start offset) of each of this rank's windows of the next global batch."""
        picks = torch.randint(int(self._offsets[-1]), (self.world_size * self.batch_size,), generator=self.generator)
        picks = picks.numpy()[self.rank * self.batch_size : (self.rank + 1) * self.batch_size]
        shard_ids = np.searchsorted(self._offsets, picks, side="right") - 1
        starts = picks - self._offsets[shard_ids]
        for shard_id in np.unique(shard_ids):
            aligned = self._starts[shard_id]
            if isinstance(aligned, np.ndarray):  # doc_starts: the pick numbers a document start
                rows = shard_ids == shard_id
                starts[rows] = aligned[starts[rows]]
        return shard_ids, starts

    def _batch(self, with_docs: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        shard_ids, starts = self._draw()
        window = np.arange(self.block_size + 1)
        chunk = np.empty((len(starts), self.block_size + 1), dtype=np.int64)
        docs = np.empty_like(chunk) if with_docs else None
        for shard_id in np.unique(shard_ids):
            rows = np.flatnonzero(shard_ids == shard_id)
            shard = self.shards[shard_id]
            positions = starts[rows, None] + window
            chunk[rows] = shard.tokens[positions]
            if with_docs:  # mark where a document starts inside each window, then count the marks
                first = np.searchsorted(shard.doc_starts, starts[rows], side="right")
                last = np.searchsorted(shard.doc_starts, starts[rows] + self.block_size, side="right")
                marks = np.zeros((len(rows), self.block_size + 1), dtype=np.int64)
                for i, (lo, hi) in enumerate(zip(first, last)):
                    marks[i, shard.doc_starts[lo:hi] - starts[rows[i]]] = 1
                docs[rows] = np.cumsum(marks, axis=1)
        chunk = torch.from_numpy(chunk)
        x, y = chunk[:, :-1], chunk[:, 1:]
        if not with_docs:
            return self._to_device(x), self._to_device(y), None
        doc_ids = torch.from_numpy(docs)
        if self.doc_mask:
            y = y.masked_fill(doc_ids[:, 1:] != doc_ids[:, :-1], IGNORE_INDEX)
        return self._to_device(x), self._to_device(y), self._to_device(doc_ids[:, :-1].contiguous())

    def next_batch_with_docs(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(inputs, targets, document ids of the inputs, numbered from 0 in each row)."""
        return self._batch(with_docs=True)

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        x, y, _ = self._batch(with_docs=self.doc_mask)
        return x, y

    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.device.type == "cuda":
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.device)

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
