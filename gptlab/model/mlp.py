"""Feed-forward blocks (registry kind ``mlp``, selected by ``model.mlp``)."""

import torch
from torch import nn
from torch.nn import functional as F

from gptlab.registry import register


@register("mlp", "gelu")
class GeluMLP(nn.Module):
    """Linear -> GELU -> Linear (Hendrycks & Gimpel 2016, arXiv:1606.08415; GPT-2's MLP)."""

    def __init__(self, dim: int, hidden: int, bias: bool = True, dropout: float = 0.0):
        super().__init__()
        self.up = nn.Linear(dim, hidden, bias=bias)
        self.down = nn.Linear(hidden, dim, bias=bias)
        self.down.is_residual_projection = True
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.down(F.gelu(self.up(x))))
