"""Analytic parameter counts and training FLOPs per token match the built model and torch's FLOP counter."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from gptlab import registry
from gptlab.model import counting
from gptlab.model.gpt import GPTConfig

VOCAB = 37
CONFIGS = {
    "default": {},
    "llama-like (gqa, swiglu, rope, untied, no bias)": {
        "n_head": 4,
        "n_kv_head": 2,
        "mlp": "swiglu",
        "pos": "rope",
        "norm": "rmsnorm",
        "tie_embeddings": False,
        "bias": False,
    },
    "mqa, qk-norm, sinusoidal, no final norm": {
        "n_kv_head": 1,
        "qk_norm": "layernorm",
        "pos": "sinusoidal",
        "final_norm": False,
    },
    "attention only": {"mlp": "none", "norm": "none", "pos": "alibi"},
    "windows": {"window_pattern": ["local", "global"], "window_size": 5},
    "multi-token prediction": {"mtp_heads": 2, "tie_embeddings": False},
    "moe (top-2 of 4, a shared expert, on layer 1)": {
        "moe_experts": 4,
        "moe_shared_experts": 1,
        "moe_layers": [1],
        "mlp": "swiglu",
    },
}


def _cfg(knobs) -> GPTConfig:
    return GPTConfig(**{"n_layer": 2, "n_head": 2, "d_model": 32, "block_size": 16, "attention": "math", **knobs})


@pytest.mark.parametrize("knobs", CONFIGS.values(), ids=CONFIGS.keys())
def test_counts_match_the_model_and_the_flop_counter(knobs):
    cfg = _cfg(knobs)
    model = registry.build("model", cfg, vocab_size=VOCAB)
    assert counting.parameter_count(cfg, VOCAB) == model.num_parameters()

    idx = torch.randint(VOCAB, (3, cfg.block_size))
    with FlopCounterMode(display=False) as counter:
        model(idx, idx).loss.backward()
    measured = counter.get_total_flops() / idx.numel()
    analytic = model.flops_per_token()
    if cfg.window_size:  # the math kernel computes every score and masks; the count credits the window only
        head_dim = cfg.d_model // cfg.n_head
        skipped = 12 * cfg.n_head * head_dim * (cfg.block_size - cfg.window_size)
        assert analytic + skipped == measured
    else:
        assert analytic == measured


def test_dense_counts_scale_as_6n_plus_attention():
    cfg = _cfg({})
    n = counting.matmul_weights(cfg, VOCAB)
    assert counting.flops_per_token(cfg, VOCAB) == 6 * n + 2 * 12 * 32 * 16
    assert counting.flops_per_token(cfg, VOCAB, seq_len=32) - counting.flops_per_token(cfg, VOCAB) == 2 * 12 * 32 * 16
