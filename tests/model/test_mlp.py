"""gptlab/model/mlp.py: the activation each MLP name promises."""

from __future__ import annotations

import math

import torch

from gptlab.registry import build_part


def test_gelu_tanh_is_gpt2s_tanh_approximation_not_the_exact_erf():
    torch.manual_seed(0)
    mlp = build_part("mlp", "gelu_tanh", 4, 8)
    h = torch.linspace(-4, 4, 101)
    gpt2 = 0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h**3)))  # Radford et al. 2019's code
    assert torch.allclose(mlp.activation(h), gpt2, atol=1e-6)
    exact = build_part("mlp", "gelu", 4, 8).activation(h)
    assert (mlp.activation(h) - exact).abs().max() > 1e-4  # the two GELUs differ: export parity needs the right one
