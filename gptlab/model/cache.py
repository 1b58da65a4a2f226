"""A preallocated key/value cache for incremental decoding (Pope et al. 2022, "Efficiently Scaling
Transformer Inference", arXiv:2211.05102).

Every attention layer stores the keys and values of the tokens seen so far, so a new token costs one
position's work instead of the whole context's. The memory is allocated once, for ``max_len``
positions; the model writes the new tokens' keys and values at ``[length, length + new)`` and then
attends over ``[0, length + new)``. All rows of a batch share one length.

    cache = KVCache.for_model(model, batch_size=1)
    logits = model(prompt_ids, cache=cache).logits        # prefill: positions 0 .. len(prompt) - 1
    logits = model(next_id[:, None], cache=cache).logits  # one more position
"""

from __future__ import annotations

import torch
from torch import nn


class LayerCache:
    """One attention layer's keys and values, (batch, kv_heads, max_len, head_dim) each."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor):
        self.keys, self.values = keys, values

    def store(self, k: torch.Tensor, v: torch.Tensor, start: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Write ``k`` and ``v`` (batch, kv_heads, new, head_dim) at ``start``; return every key and value
        up to and including them."""
        new, end = k.size(2), start + k.size(2)
        self.keys.narrow(2, start, new).copy_(k)
        self.values.narrow(2, start, new).copy_(v)
        return self.keys.narrow(2, 0, end), self.values.narrow(2, 0, end)


class KVCache:
    """Keys and values of every layer for ``max_len`` positions; ``length`` of them are filled."""

    def __init__(
        self,
        n_layer: int,
        batch_size: int,
        kv_heads: int,
        max_len: int,
        head_dim: int,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ):
        shape = (n_layer, batch_size, kv_heads, max_len, head_dim)
        self.keys = torch.zeros(shape, dtype=dtype, device=device)
        self.values = torch.zeros(shape, dtype=dtype, device=device)
        self.layers = [LayerCache(k, v) for k, v in zip(self.keys, self.values)]
        self.length = 0

    @classmethod
    def for_model(
        cls,
        model: nn.Module,
        batch_size: int,
        max_len: int | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> KVCache:
        """A cache shaped for ``model`` (a GPT); ``max_len`` defaults to its context, dtype and device to
        its weights' (pass ``dtype=torch.bfloat16`` when decoding under bf16 autocast)."""
        cfg = model.cfg
        max_len = max_len or cfg.block_size
        if not 0 < max_len <= cfg.block_size:
            raise ValueError(f"max_len={max_len} must lie in 1..model.block_size={cfg.block_size}.")
        weight = next(model.parameters())
        return cls(
            cfg.n_layer,
            batch_size,
            cfg.kv_heads,
            max_len,
            cfg.d_model // cfg.n_head,
            dtype or weight.dtype,
            device or weight.device,
        )

    @property
    def batch_size(self) -> int:
        return self.keys.size(1)

    @property
    def max_len(self) -> int:
        return self.keys.size(3)

    @property
    def room(self) -> int:
        """Positions still free."""
        return self.max_len - self.length

    def check_room(self, new_tokens: int, batch_size: int) -> None:
        if batch_size != self.batch_size:
            raise ValueError(f"the cache holds {self.batch_size} rows but the input has {batch_size}.")
        if new_tokens > self.room:
            raise ValueError(
                f"{new_tokens} new tokens do not fit the cache: {self.length} of {self.max_len} positions are "
                f"filled. Truncate or reset the cache (generation slides its window at the model's context)."
            )

    def advance(self, new_tokens: int) -> None:
        """Count ``new_tokens`` more positions as filled (the model calls this after every layer stored them)."""
        self.length += new_tokens

    def truncate(self, length: int) -> None:
        """Forget every position from ``length`` on (their memory is overwritten by the next tokens)."""
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot truncate a cache of {self.length} positions to {length}.")
        self.length = length

    def reset(self) -> None:
        self.length = 0

    def select(self, rows: torch.Tensor | list[int]) -> None:
        """Keep only the batch ``rows`` (e.g. sequences still generating), in that order."""
        rows = torch.as_tensor(rows, device=self.keys.device)
        self.keys, self.values = self.keys[:, rows], self.values[:, rows]
        self.layers = [LayerCache(k, v) for k, v in zip(self.keys, self.values)]
