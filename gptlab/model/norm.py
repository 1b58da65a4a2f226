"""Normalization (registry kind ``norm``, ``model.norm`` and ``model.qk_norm``) and where it sits
in a residual branch (kind ``norm_placement``, ``model.norm_placement``: the block reads its ``post`` flag)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from gptlab.model.attributes import parameters
from gptlab.registry import register


@register("norm", "layernorm")
class LayerNorm(nn.LayerNorm):
    """LayerNorm (Ba et al. 2016, arXiv:1607.06450); its bias follows ``model.bias``; ``eps`` None: 1e-5."""

    def __init__(self, dim: int, bias: bool = True, eps: float | None = None):
        super().__init__(dim, eps=1e-5 if eps is None else eps, bias=bias)

    @staticmethod
    def param_count(dim: int, bias: bool) -> int:
        return dim * (2 if bias else 1)


@register("norm", "rmsnorm")
class RMSNorm(nn.Module):
    """RMSNorm (Zhang & Sennrich 2019, arXiv:1910.07467): scale by the root mean square, no centering or bias;
    ``eps`` None: 1e-6."""

    (weight,) = parameters("weight")

    def __init__(self, dim: int, bias: bool = True, eps: float | None = None):
        super().__init__()
        self.eps = 1e-6 if eps is None else eps
        self.weight = nn.Parameter(torch.ones(dim))
        # eps for the CPU formula as a 0-dim float32 tensor made once: a Python number is wrapped into a new
        # tensor on every call, and a float64 one is copied to float32 on every call (each as dear as the
        # addition itself on a decode step's (1, 1, d_model) input)
        self._eps = torch.tensor(self.eps, dtype=torch.float32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_cpu:  # torch's fused CPU kernel copies and runs 3x slower than the formula
            # mean(x^2) + eps as |x|^2 / d + eps: one norm and one addcmul instead of pow, mean (a sum, a
            # division and a copy of the divisor) and an addition; also faster in training (backward included)
            norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
            return x * torch.addcmul(self._eps, norm, norm, value=1 / x.size(-1)).rsqrt_() * self.weight
        return F.rms_norm(x, (x.size(-1),), self.weight, self.eps)

    @staticmethod
    def param_count(dim: int, bias: bool) -> int:
        return dim


@register("norm", "none")
class NoNorm(nn.Identity):
    """No normalization (identity), e.g. to see why transformers need it."""

    def __init__(self, dim: int = 0, bias: bool = True, eps: float | None = None):
        super().__init__()

    @staticmethod
    def param_count(dim: int, bias: bool) -> int:
        return 0


@register("norm_placement", "pre")
class PreNorm:
    """x + f(norm(x)): pre-norm (Xiong et al. 2020, arXiv:2002.04745; GPT-2, Llama)."""

    post = False  # the block reads this flag; the residual stream itself is written out in gptlab/model/gpt.py


@register("norm_placement", "post")
class PostNorm:
    """norm(x + f(x)): post-norm, as in the original Transformer (Vaswani et al. 2017, arXiv:1706.03762)."""

    post = True
