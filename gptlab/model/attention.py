"""Causal self-attention (registry kind ``attention``, selected by ``model.attention``).

The projections and the head split live in :class:`CausalSelfAttention`; the kernel that
turns q, k, v into the attended values is the registered part, so a KV cache or another kernel
plugs in without touching the projections.
"""

import torch
from torch import nn
from torch.nn import functional as F

from gptlab.registry import register


@register("attention", "sdpa")
def sdpa_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout: float) -> torch.Tensor:
    """torch's fused scaled dot-product attention (Vaswani et al. 2017), causal mask."""
    return F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: project to q, k, v, attend per head, project back."""

    def __init__(self, dim: int, n_head: int, kernel, bias: bool = True, dropout: float = 0.0):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=bias)
        self.proj.is_residual_projection = True
        self.kernel = kernel
        self.dropout = dropout
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, dim = x.shape
        q, k, v = self.qkv(x).view(batch, seq, 3, self.n_head, dim // self.n_head).permute(2, 0, 3, 1, 4)
        y = self.kernel(q, k, v, self.dropout if self.training else 0.0)
        return self.resid_dropout(self.proj(y.transpose(1, 2).reshape(batch, seq, dim)))
