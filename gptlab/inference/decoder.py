"""A model plus its running state, seen by the engine as two calls: ``start`` (prefill) and ``step`` (decode).

:class:`CachedDecoder` keeps keys and values in a preallocated :class:`gptlab.model.cache.KVCache`
(the decoding scheme of Pope et al. 2022, "Efficiently Scaling Transformer Inference",
arXiv:2211.05102): a step runs the model on the new token only. :class:`UncachedDecoder` re-runs the
whole (cropped) context for every token, as ``gptlab-sample`` did before the cache; it is the
reference that the cache must reproduce and the baseline of ``make bench-generate``. A Hugging Face
model gets its own decoder in :mod:`gptlab.inference.backends.hf`.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from gptlab.inference.layout import column_major_weights


class Decoder(Protocol):
    context: int  # the most tokens the model attends to at once
    device: torch.device

    @property
    def full(self) -> bool:
        """True when one more token does not fit: the engine then starts over on the recent tokens."""

    def start(self, ids: torch.Tensor) -> torch.Tensor:
        """Forget any state, read ``ids`` (rows, seq); the next-token logits (rows, vocab)."""

    def step(self, ids: torch.Tensor) -> torch.Tensor:
        """Read one new token per row (rows, 1); the next-token logits (rows, vocab)."""


class CachedDecoder:
    """A gptlab model decoding on a KV cache allocated once per batch size. ``compile=True`` runs the
    decode step through ``torch.compile`` (dynamic shapes: one compilation serves every cache length),
    which fuses the step's small operations; the first step then takes a while to compile. The linear
    weights of a model on the CPU are moved to the column-major layout that one token's matrix-vector
    products stream fastest (:mod:`gptlab.inference.layout`; same parameters and values)."""

    def __init__(self, model: nn.Module, context: int | None = None, compile: bool = False):
        column_major_weights(model)
        self.model = model.eval()
        self.step_model = torch.compile(model, dynamic=True) if compile else model
        self.context = min(context or model.block_size, model.block_size)
        self.device = next(model.parameters()).device
        self.cache, self.rows = None, 0

    @property
    def full(self) -> bool:
        return self.cache is not None and self.cache.length >= self.cache.max_len

    @torch.inference_mode()
    def start(self, ids: torch.Tensor) -> torch.Tensor:
        from gptlab.model.cache import KVCache

        if self.cache is None or self.rows != ids.size(0):
            self.rows = ids.size(0)
            self.cache = KVCache.for_model(self.model, self.rows, max_len=self.context, device=self.device)
        else:
            self.cache.reset()
        return self.model(ids, cache=self.cache, logits_to_keep=1).logits.select(1, -1)

    @torch.inference_mode()
    def step(self, ids: torch.Tensor) -> torch.Tensor:
        return self.step_model(ids, cache=self.cache).logits.select(1, -1)


class UncachedDecoder:
    """A model re-reading its last ``context`` tokens for every new token (no cache)."""

    full = False  # it crops the context itself

    def __init__(self, model: nn.Module, context: int | None = None):
        self.model = model.eval()
        self.context = min(context or model.block_size, model.block_size)
        self.device = next(model.parameters()).device
        self.ids = torch.zeros(0, 0, dtype=torch.long)

    @torch.inference_mode()
    def start(self, ids: torch.Tensor) -> torch.Tensor:
        self.ids = ids
        return self.model(ids[:, -self.context :]).logits[:, -1]

    @torch.inference_mode()
    def step(self, ids: torch.Tensor) -> torch.Tensor:
        self.ids = torch.cat([self.ids, ids], dim=1)
        return self.model(self.ids[:, -self.context :]).logits[:, -1]
