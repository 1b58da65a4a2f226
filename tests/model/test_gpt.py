"""Every model knob trains (loss falls in a few steps) and leaks no future token."""

from __future__ import annotations

import pytest
import torch

from gptlab import registry
from gptlab.model import counting
from gptlab.model.gpt import GPTConfig
from gptlab.model.output import IGNORE_INDEX, next_token_loss

VOCAB = 11
# One entry per knob value (the default config covers layernorm, pre-norm, learned, gelu, sdpa, tied,
# scaled_residual); each trains and is checked for causality.
KNOBS = {
    "default": {},
    "norm=rmsnorm": {"norm": "rmsnorm"},
    "norm=none": {"norm": "none"},
    "bias=false (layernorm without bias)": {"bias": False},
    "norm_placement=post": {"norm_placement": "post"},
    "final_norm=false": {"final_norm": False},
    "qk_norm=rmsnorm": {"qk_norm": "rmsnorm"},
    "qk_norm=layernorm": {"qk_norm": "layernorm"},
    "pos=sinusoidal": {"pos": "sinusoidal"},
    "pos=rope": {"pos": "rope", "rope_theta": 500.0},
    "pos=rope linear": {"pos": "rope", "rope_scaling": "linear", "rope_scaling_factor": 2.0},
    "pos=rope yarn": {"pos": "rope", "rope_scaling": "yarn", "rope_scaling_factor": 4.0},
    "pos=rope llama3": {"pos": "rope", "rope_scaling": "llama3", "rope_scaling_factor": 8.0},
    "pos=alibi": {"pos": "alibi"},
    "pos=none": {"pos": "none"},
    "mlp=gelu_tanh": {"mlp": "gelu_tanh"},
    "norm_eps": {"norm": "rmsnorm", "qk_norm": "rmsnorm", "norm_eps": 1e-5},
    "mlp=relu": {"mlp": "relu"},
    "mlp=silu": {"mlp": "silu"},
    "mlp=relu2": {"mlp": "relu2"},
    "mlp=swiglu": {"mlp": "swiglu"},
    "mlp=geglu": {"mlp": "geglu", "mlp_ratio": 2.0},
    "mlp=none": {"mlp": "none"},
    "mlp_hidden": {"mlp_hidden": 48},
    "gqa": {"n_head": 4, "n_kv_head": 2},
    "mqa": {"n_kv_head": 1},
    "window_pattern": {"window_pattern": ["local", "global"], "window_size": 3},
    "window all layers": {"window_size": 3, "pos": "rope"},
    "attn_softcap (math)": {"attention": "math", "attn_softcap": 5.0},
    "attention=auto": {"attention": "auto", "pos": "alibi", "n_kv_head": 1},
    "tie_embeddings=false": {"tie_embeddings": False},
    "embed_scale": {"embed_scale": 2.0},
    "logit_softcap": {"logit_softcap": 10.0},
    "z_loss": {"z_loss": 1e-3},
    "dropout": {"dropout": 0.1},
    "init=normal": {"init": "normal"},
    "init=zero_out": {"init": "zero_out"},
    "mtp_heads": {"mtp_heads": 2, "mtp_weights": [0.5, 0.25]},
    "moe": {"moe_experts": 4, "moe_top_k": 2, "moe_router_z_loss": 1e-3},
    "moe shared, capacity, bias balancing, one layer": {
        "moe_experts": 4,
        "moe_top_k": 1,
        "moe_shared_experts": 1,
        "moe_capacity_factor": 1.0,
        "moe_bias_balancing": 1e-2,
        "moe_aux_loss": 0.0,
        "moe_layers": [0],
    },
}


def _model(**knobs):
    torch.manual_seed(0)
    cfg = GPTConfig(**{"n_layer": 2, "n_head": 2, "d_model": 32, "block_size": 16, **knobs})
    return registry.build("model", cfg, vocab_size=VOCAB)


@pytest.mark.parametrize("knobs", KNOBS.values(), ids=KNOBS.keys())
def test_knob_trains_and_is_causal(knobs):
    model = _model(**knobs)
    idx = torch.randint(VOCAB, (4, 17), generator=torch.Generator().manual_seed(1))
    x, y = idx[:, :-1], idx[:, 1:]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(6):
        out = model(x, y)
        assert out.logits.shape == (4, 16, VOCAB) and out.loss.ndim == 0
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(out.loss.item())
    assert losses[-1] < losses[0] - 0.05, f"loss did not fall: {losses}"

    model.eval()
    for t in (0, 7, 15):
        changed = x.clone()
        changed[:, t] = (x[:, t] + 1) % VOCAB
        with torch.no_grad():
            a, b = model(x).logits, model(changed).logits
        torch.testing.assert_close(a[:, :t], b[:, :t], atol=1e-5, rtol=1e-5)
        assert not torch.allclose(a[:, t:], b[:, t:])


def test_parameter_count_matches_formula():
    model = _model(n_layer=2, d_model=16, block_size=12)
    d, v, t, layers = 16, VOCAB, 12, 2
    per_block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d)
    assert model.num_parameters() == v * d + t * d + layers * per_block + 2 * d
    assert model.head.weight is model.token_embedding.weight


def test_glu_keeps_the_parameter_count_of_the_plain_mlp():
    gelu, swiglu = _model(), _model(mlp="swiglu")
    assert abs(swiglu.num_parameters() - gelu.num_parameters()) / gelu.num_parameters() < 0.01


def test_loss_is_cross_entropy_and_ignores_masked_targets():
    model = _model().eval()
    idx = torch.randint(VOCAB, (2, 16), generator=torch.Generator().manual_seed(2))
    targets = idx.roll(-1, 1)
    targets[:, :5] = IGNORE_INDEX
    out = model(idx, targets)
    logits = out.logits[:, 5:]
    torch.testing.assert_close(
        out.loss, torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets[:, 5:].flatten())
    )
    assert out.metrics == {}


def test_z_loss_adds_to_the_loss_and_is_reported():
    model = _model(z_loss=0.5)
    idx = torch.randint(VOCAB, (2, 16), generator=torch.Generator().manual_seed(3))
    out = model(idx, idx)
    z = out.logits.float().logsumexp(-1).square().mean()
    torch.testing.assert_close(out.metrics["lm_loss"], next_token_loss(out.logits, idx))
    torch.testing.assert_close(out.metrics["z_loss"], z.detach())
    torch.testing.assert_close(out.loss, out.metrics["lm_loss"] + 0.5 * z)


def test_logit_softcap_bounds_the_logits():
    model = _model(logit_softcap=0.5, init_std=1.0)
    assert model(torch.arange(16)[None] % VOCAB).logits.abs().max() <= 0.5


def test_meta_device_build_counts_without_memory():
    cfg = GPTConfig(n_layer=12, n_head=12, d_model=768, block_size=1024)
    with torch.device("meta"):
        model = registry.build("model", cfg, vocab_size=50257)
    assert model.num_parameters() == counting.parameter_count(cfg, 50257)
    assert 124_000_000 < model.num_parameters() < 125_000_000  # GPT-2 small


def test_a_registered_mlp_is_a_new_knob_value():
    """The README's example: one registered class makes model.mlp=<name> selectable."""
    from gptlab.model.mlp import MLP
    from gptlab.registry import register

    @register("mlp", "tanh_for_test")
    class TanhMLP(MLP):
        """Linear -> tanh -> Linear."""

        def activation(self, h: torch.Tensor) -> torch.Tensor:
            return torch.tanh(h)

    model = _model(mlp="tanh_for_test")
    assert isinstance(model.blocks[0].mlp, TanhMLP)
    assert counting.parameter_count(model.cfg, VOCAB) == model.num_parameters()


def test_multi_token_heads_add_weighted_losses_and_leave_the_logits():
    plain, mtp = _model(), _model(mtp_heads=2, mtp_weights=[0.5, 0.25])
    mtp.load_state_dict(plain.state_dict(), strict=False)  # same trunk and head
    idx = torch.randint(VOCAB, (2, 16), generator=torch.Generator().manual_seed(4))
    a, b = plain(idx, idx.roll(-1, 1)), mtp(idx, idx.roll(-1, 1))
    torch.testing.assert_close(a.logits, b.logits)
    assert set(b.metrics) == {"lm_loss", "mtp_loss_1", "mtp_loss_2"}
    torch.testing.assert_close(b.metrics["lm_loss"], a.loss.detach())
    expected = a.loss + 0.5 * b.metrics["mtp_loss_1"] + 0.25 * b.metrics["mtp_loss_2"]
    torch.testing.assert_close(b.loss, expected)


def test_mtp_weights_must_match_the_heads():
    from gptlab.errors import ConfigError

    with pytest.raises(ConfigError, match="one weight per extra head"):
        GPTConfig(mtp_heads=2, mtp_weights=[1.0])


def test_moe_reports_load_drops_and_aux_losses():
    model = _model(moe_experts=4, moe_top_k=1, moe_capacity_factor=0.5, moe_router_z_loss=1e-2, moe_bias_balancing=0.1)
    idx = torch.randint(VOCAB, (4, 16), generator=torch.Generator().manual_seed(5))
    out = model(idx, idx)
    m = out.metrics
    loads = torch.stack([m[f"moe_load_{e}"] for e in range(4)])
    torch.testing.assert_close(loads.sum(), torch.tensor(1.0))
    # capacity 0.5 * 64 tokens * 1 / 4 experts = 8 per expert: at most half the tokens are kept
    assert m["moe_dropped_fraction"] >= 0.5 and (loads <= 0.5 + 1e-6).all()
    # two MoE layers: each adds its aux losses; the metrics are the averages over the layers
    expected = m["lm_loss"] + 2 * (0.01 * m["moe_balance_loss"] + 1e-2 * m["moe_router_z_loss"])
    torch.testing.assert_close(out.loss.detach(), expected)
    assert model.blocks[0].mlp.balance_bias.abs().sum() > 0, "the aux-loss-free bias moved"
    model.eval()
    assert model(idx, idx).metrics["moe_dropped_fraction"] == 0, "no capacity limit outside training"
