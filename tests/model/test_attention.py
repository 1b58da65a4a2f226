"""The attention kernels agree with the math reference, and refuse what they cannot do."""

from __future__ import annotations

import pytest
import torch

from gptlab import registry
from gptlab.errors import ConfigError
from gptlab.model.attention import FlashAttention, FlexAttention, MathAttention, SdpaAttention, auto_attention
from gptlab.model.gpt import GPTConfig
from gptlab.model.position import alibi_slopes

CASES = {  # name: (features, kernel keyword arguments, kv heads, extra cached keys)
    "plain": (set(), {}, 4, 0),
    "gqa": ({"gqa"}, {}, 2, 0),
    "mqa_cached": ({"gqa"}, {}, 1, 5),
    "window": ({"window"}, {"window": 3}, 4, 0),
    "window_gqa_cached": ({"window", "gqa"}, {"window": 4}, 2, 3),
    "alibi": ({"alibi"}, {"alibi": alibi_slopes(4)}, 4, 0),
    "alibi_window_gqa": ({"alibi", "window", "gqa"}, {"alibi": alibi_slopes(4), "window": 5}, 2, 2),
    "softcap": ({"softcap"}, {"softcap": 2.0}, 4, 0),
    "softcap_alibi_window": (
        {"softcap", "alibi", "window"},
        {"softcap": 2.0, "alibi": alibi_slopes(4), "window": 3},
        4,
        0,
    ),
}


def _qkv(kv_heads: int, cached: int):
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(2, 4, 10, 16, generator=gen)
    k, v = (torch.randn(2, kv_heads, 10 + cached, 16, generator=gen) for _ in range(2))
    return q, k, v


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("kernel", [SdpaAttention, FlexAttention, FlashAttention])
def test_kernels_match_the_math_reference(kernel, case):
    features, kwargs, kv_heads, cached = CASES[case]
    if kernel.unavailable() and kernel is not FlexAttention:  # flex runs forward-only on the CPU
        pytest.skip(kernel.unavailable())
    if not features <= kernel.features:
        with pytest.raises(ConfigError, match="cannot do"):
            kernel(frozenset(features), check_available=False)
        return
    q, k, v = _qkv(kv_heads, cached)
    expected = MathAttention(frozenset(features))(q, k, v, **kwargs)
    with torch.no_grad():
        got = kernel(frozenset(features), check_available=False)(q, k, v, **kwargs)
    tolerance = 2e-2 if kernel is FlashAttention else 1e-5  # flash-attn computes in bfloat16
    torch.testing.assert_close(got.float(), expected, atol=tolerance, rtol=tolerance)


def test_math_reference_is_causal_softmax_attention():
    q, k, v = _qkv(4, 0)
    out = MathAttention()(q, k, v)
    scores = (q @ k.transpose(-2, -1)) / 4.0
    scores = scores.masked_fill(torch.ones(10, 10, dtype=torch.bool).triu(1), float("-inf"))
    torch.testing.assert_close(out, scores.softmax(-1) @ v)
    # the last query of a cached (longer) key sequence sees every key: plain softmax attention
    q1, k1, v1 = q[:, :, -1:], k, v
    torch.testing.assert_close(MathAttention()(q1, k1, v1), ((q1 @ k1.transpose(-2, -1)) / 4.0).softmax(-1) @ v1)


def test_document_mask_hides_other_documents():
    q, k, v = _qkv(4, 0)
    doc = torch.tensor([0] * 4 + [1] * 6)
    mask = (doc[:, None] == doc[None, :]).expand(2, 10, 10)
    out = SdpaAttention(frozenset({"mask"}))(q, k, v, mask=mask)
    torch.testing.assert_close(out, MathAttention(frozenset({"mask"}))(q, k, v, mask=mask), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        out[:, :, 4:], MathAttention()(q[:, :, 4:], k[:, :, 4:], v[:, :, 4:]), atol=1e-5, rtol=1e-5
    )


def test_auto_picks_a_kernel_that_supports_the_config():
    assert isinstance(auto_attention(frozenset()), (SdpaAttention, FlashAttention))
    picked = auto_attention(frozenset({"softcap", "dropout"}))
    assert {"softcap", "dropout"} <= picked.features
    if not torch.cuda.is_available():
        assert isinstance(picked, MathAttention)


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"attention": "sdpa", "attn_softcap": 30.0}, "kernel SdpaAttention cannot do softcap"),
        ({"attention": "flex", "dropout": 0.1}, "cannot do dropout"),
        ({"attention": "flash"}, "not available here"),
        ({"window_pattern": ["local", "global"]}, "model.window_size=0"),
        ({"window_pattern": ["sliding"], "window_size": 4}, "must be one of local, global"),
        ({"n_kv_head": 2}, "must divide model.n_head=3"),
        ({"pos": "rope", "d_model": 15}, "must be even"),
    ],
)
def test_impossible_attention_configs_fail_early(overrides, message):
    if overrides.get("attention") == "flash" and not FlashAttention.unavailable():
        pytest.skip("flash-attn is available here")
    with pytest.raises(ConfigError, match=message):
        GPTConfig(**overrides)


def test_kernels_train_the_same_model():
    """One optimizer step with the sdpa kernel and the math kernel gives the same loss and gradients."""
    losses, grads = [], []
    for kernel in ("math", "sdpa"):
        cfg = GPTConfig(n_layer=2, n_head=4, n_kv_head=2, d_model=32, block_size=12, pos="alibi", attention=kernel,
                        window_pattern=["local", "global"], window_size=5)  # fmt: skip
        torch.manual_seed(0)
        model = registry.build("model", cfg, vocab_size=11)
        idx = torch.randint(11, (2, 12), generator=torch.Generator().manual_seed(1))
        out = model(idx, idx)
        out.loss.backward()
        losses.append(out.loss.item())
        grads.append(model.blocks[0].attn.branch.qkv.weight.grad)
    assert losses[0] == pytest.approx(losses[1], abs=1e-5)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-5, rtol=1e-4)
