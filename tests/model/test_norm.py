"""gptlab/model/norm.py and model.norm_eps: each norm keeps its default epsilon, model.norm_eps sets all."""

from __future__ import annotations

import pytest

from gptlab.errors import ConfigError
from gptlab.model.gpt import GPT, GPTConfig
from gptlab.model.norm import LayerNorm, RMSNorm


def _eps_of_norms(model: GPT) -> set[float]:
    return {m.eps for m in model.modules() if isinstance(m, (LayerNorm, RMSNorm))}


@pytest.mark.parametrize("norm, default", [("layernorm", 1e-5), ("rmsnorm", 1e-6)])
def test_norm_eps_null_keeps_each_norms_default(norm, default):
    model = GPT(GPTConfig(norm=norm, qk_norm=norm, d_model=32, n_head=2), vocab_size=11)
    assert _eps_of_norms(model) == {default}


def test_norm_eps_reaches_every_norm_qk_norms_included():
    model = GPT(GPTConfig(norm="rmsnorm", qk_norm="rmsnorm", norm_eps=3e-5, d_model=32, n_head=2), vocab_size=11)
    norms = [m for m in model.modules() if isinstance(m, RMSNorm)]
    assert len(norms) == 2 * 2 + 2 * 2 + 1  # per layer: attention and MLP norms, q and k norms; the final norm
    assert _eps_of_norms(model) == {3e-5}


def test_norm_eps_must_be_positive():
    with pytest.raises(ConfigError, match="model.norm_eps=0.0"):
        GPTConfig(norm_eps=0.0)
