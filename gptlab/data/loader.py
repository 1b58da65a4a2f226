"""Batches of (input, target) windows from memmapped token shards.

``RandomWindowLoader`` draws windows uniformly over every valid start in every shard (or, with
``doc_starts``, over the document starts), from one generator whose state is the loader's whole
position, saved in checkpoints. With ``world_size`` ranks, every rank draws the same global batch
of ``batch_size * world_size`` windows and keeps its own slice, so ranks never share a window and
a resumed run sees the same data order. With ``doc_mask``, a target whose document differs from
its input's becomes -100, which ``F.cross_entropy`` ignores; ``next_batch_with_docs`` also returns
per-token document ids for attention masking in the model. A target whose shard's ``loss_mask`` is
false (fine-tuning: a prompt token) becomes -100 as well.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gptlab.data.cache import Shard

IGNORE_INDEX = -100  # F.cross_entropy's default ignore_index


def gather_windows(arrays: list[np.ndarray], array_ids: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """(len(starts), length) int64: row i is ``arrays[array_ids[i]][starts[i]:starts[i] + length]``."""
    out = np.empty((len(starts), length), dtype=np.int64)
    window = np.arange(length)
    for array_id in np.unique(array_ids):
        rows = np.flatnonzero(array_ids == array_id)
        out[rows] = arrays[array_id][starts[rows, None] + window]
    return out


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
        chunk = torch.from_numpy(
            gather_windows([s.tokens for s in self.shards], shard_ids, starts, self.block_size + 1)
        )
        x, y = chunk[:, :-1], chunk[:, 1:]
        if any(shard.loss_mask is not None for shard in self.shards):
            masks = [np.ones(len(s.tokens), bool) if s.loss_mask is None else s.loss_mask for s in self.shards]
            learned = torch.from_numpy(gather_windows(masks, shard_ids, starts, self.block_size + 1)[:, 1:] != 0)
            y = y.masked_fill(~learned, IGNORE_INDEX)
        if not with_docs:
            return self._to_device(x), self._to_device(y), None
        doc_ids = torch.from_numpy(self._document_ids(shard_ids, starts))
        if self.doc_mask:
            y = y.masked_fill(doc_ids[:, 1:] != doc_ids[:, :-1], IGNORE_INDEX)
        return self._to_device(x), self._to_device(y), self._to_device(doc_ids[:, :-1].contiguous())

    def _document_ids(self, shard_ids: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Per window position, how many documents started since the window's start (0 for the first)."""
        marks = np.zeros((len(starts), self.block_size + 1), dtype=np.int64)
        for row, (shard_id, start) in enumerate(zip(shard_ids, starts)):
            doc_starts = self.shards[shard_id].doc_starts
            first = np.searchsorted(doc_starts, start, side="right")
            last = np.searchsorted(doc_starts, start + self.block_size, side="right")
            marks[row, doc_starts[first:last] - start] = 1
        return np.cumsum(marks, axis=1)

    def next_batch_with_docs(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(inputs, targets, document ids of the inputs, numbered from 0 in each row)."""
        return self._batch(with_docs=True)

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        x, y, _ = self._batch(with_docs=self.doc_mask)
        return x, y

    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.device.type == "cuda":
            # one contiguous pinned copy sent without waiting: x and y are strided views of the windows,
            # and a strided tensor (pinned or not) goes to the GPU through a pageable staging copy,
            # which the profiler showed blocking the CPU for up to 20 ms while the GPU was busy
            pinned = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
            return pinned.copy_(tensor).to(self.device, non_blocking=True)
        return tensor.to(self.device)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


def evaluation_batches(tokens: np.ndarray | list[np.ndarray], block_size: int, batch_size: int, num_batches: int):
    """A fixed set of validation windows, evenly spaced over the split (the same at every eval).

    ``tokens`` is the split as one array or as its shards, read in place (never joined in memory);
    a window lies inside one shard, and shards of ``block_size`` tokens or fewer are passed over.
    """
    parts = [tokens] if isinstance(tokens, np.ndarray) else [t for t in tokens if len(t) > block_size]
    if not parts:
        raise ValueError(f"no validation shard holds more than block_size={block_size} tokens")
    offsets = np.cumsum([0, *(len(part) - block_size for part in parts)])  # window starts before each part
    count = max(1, min(batch_size * num_batches, int(offsets[-1])))
    picks = np.linspace(0, offsets[-1] - 1, count).astype(np.int64)
    part_ids = np.searchsorted(offsets, picks, side="right") - 1
    starts = picks - offsets[part_ids]
    for i in range(0, count, batch_size):
        chunk = torch.from_numpy(
            gather_windows(parts, part_ids[i : i + batch_size], starts[i : i + batch_size], block_size + 1)
        )
        yield chunk[:, :-1], chunk[:, 1:]
