"""Weight initializations (registry kind ``init``, selected by ``model.init``).

Each is a function of (model, init_std, n_layer) applied once after the model is built. Linear
layers marked ``is_residual_projection`` are the output projections of attention and MLP.
"""

from __future__ import annotations

import math

from torch import nn

from gptlab.registry import register


def _normal(model: nn.Module, std: float, residual_std: float | None) -> None:
    for module in model.modules():
        if isinstance(module, nn.Linear):
            residual = getattr(module, "is_residual_projection", False) and residual_std is not None
            nn.init.normal_(module.weight, std=residual_std if residual else std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=std)


@register("init", "normal")
def normal_init(model: nn.Module, std: float, n_layer: int) -> None:
    """Every weight from normal(0, init_std), biases zero (GPT, Radford et al. 2018)."""
    _normal(model, std, None)


@register("init", "scaled_residual")
def scaled_residual_init(model: nn.Module, std: float, n_layer: int) -> None:
    """normal(0, init_std), output projections scaled by 1/sqrt(2 n_layer) (GPT-2, Radford et al. 2019)."""
    _normal(model, std, std / math.sqrt(2 * n_layer))


@register("init", "zero_out")
def zero_out_init(model: nn.Module, std: float, n_layer: int) -> None:
    """normal(0, init_std), output projections zero so every block starts as the identity
    (Fixup/ReZero-style, Zhang et al. 2019, arXiv:1901.09321; modded-nanogpt, nanochat)."""
    _normal(model, std, 0.0)
