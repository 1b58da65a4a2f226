"""Feed-forward blocks (registry kind ``mlp``, selected by ``model.mlp``).

The hidden width is ``model.mlp_hidden`` when set, else ``model.mlp_ratio * d_model * hidden_scale``:
gated (GLU) variants have three matrices instead of two, so their ``hidden_scale`` of 2/3 keeps the
parameter count of the plain MLP (Shazeer 2020, arXiv:2002.05202).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from gptlab.model.attributes import Linear, submodules
from gptlab.model.dropout import Dropout
from gptlab.registry import register


class MLP(nn.Module):
    """Linear -> activation -> Linear; subclasses name the activation."""

    matrices = 2
    hidden_scale = 1.0
    up, down = submodules("up", "down")

    def __init__(self, dim: int, hidden: int, bias: bool = True, dropout: float = 0.0):
        super().__init__()
        self.up = Linear(dim, hidden * (self.matrices - 1), bias=bias)
        self.down = Linear(hidden, dim, bias=bias)
        self.down.is_residual_projection = True
        self.dropout = Dropout(dropout)

    def activation(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.down(self.activation(self.up(x)))
        return self.dropout(y) if self.training else y  # eval: no module call (~5 us each in a decode step)

    @classmethod
    def param_count(cls, dim: int, hidden: int, bias: bool) -> int:
        return cls.matrices * dim * hidden + (hidden * (cls.matrices - 1) + dim if bias else 0)


@register("mlp", "gelu")
class GeluMLP(MLP):
    """GELU (Hendrycks & Gimpel 2016, arXiv:1606.08415; GPT-2's MLP)."""

    def activation(self, h: torch.Tensor) -> torch.Tensor:
        return F.gelu(h)


@register("mlp", "gelu_tanh")
class GeluTanhMLP(MLP):
    """GELU in its tanh approximation, as GPT-2 computes it (Hendrycks & Gimpel 2016, arXiv:1606.08415;
    Hugging Face's ``gelu_new``): exported GPT-2 models match Hugging Face's logits exactly."""

    def activation(self, h: torch.Tensor) -> torch.Tensor:
        return F.gelu(h, approximate="tanh")


@register("mlp", "relu")
class ReluMLP(MLP):
    """ReLU (Nair & Hinton 2010; the original Transformer's MLP, Vaswani et al. 2017)."""

    def activation(self, h: torch.Tensor) -> torch.Tensor:
        return F.relu(h)


@register("mlp", "silu")
class SiluMLP(MLP):
    """SiLU / swish (Ramachandran et al. 2017, arXiv:1710.05941)."""

    def activation(self, h: torch.Tensor) -> torch.Tensor:
        return F.silu(h)


@register("mlp", "relu2")
class Relu2MLP(MLP):
    """Squared ReLU (So et al. 2021, Primer, arXiv:2109.08668; nanochat's MLP)."""

    def activation(self, h: torch.Tensor) -> torch.Tensor:
        return F.relu(h).square()


def halves(h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The gate and value halves of a gated MLP's hidden vector (split_with_sizes: one op where chunk costs three)."""
    half = h.size(-1) // 2
    return h.split_with_sizes([half, half], -1)


@register("mlp", "swiglu")
class SwigluMLP(MLP):
    """SwiGLU: silu(x W) * (x V), then down (Shazeer 2020, arXiv:2002.05202; Llama's MLP)."""

    matrices = 3
    hidden_scale = 2 / 3

    def activation(self, h: torch.Tensor) -> torch.Tensor:
        gate, value = halves(h)
        return F.silu(gate) * value


@register("mlp", "geglu")
class GegluMLP(SwigluMLP):
    """GeGLU: gelu(x W) * (x V), then down (Shazeer 2020, arXiv:2002.05202)."""

    def activation(self, h: torch.Tensor) -> torch.Tensor:
        gate, value = halves(h)
        return F.gelu(gate) * value


@register("mlp", "none")
class NoMLP(nn.Module):
    """No feed-forward block: the branch adds zero (attention-only models of the learning ladder)."""

    matrices = 0
    hidden_scale = 1.0

    def __init__(self, dim: int, hidden: int, bias: bool = True, dropout: float = 0.0):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)

    @classmethod
    def param_count(cls, dim: int, hidden: int, bias: bool) -> int:
        return 0
