"""The attention kernels agree with the math reference, and refuse what they cannot do."""

from __future__ import annotations

import pytest
import torch

from gptlab import registry
from gptlab.errors import ConfigError
from gptlab.model.attention import (
    Flash4Attention,
    FlashAttention,
    FlexAttention,
    MathAttention,
    SdpaAttention,
    auto_attention,
)
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


KERNELS = [SdpaAttention, FlexAttention, FlashAttention, Flash4Attention]
HALF_PRECISION = (FlashAttention, Flash4Attention)  # they compute in bfloat16
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU"))]


def _qkv(kv_heads: int, cached: int, device: str = "cpu", requires_grad: bool = False):
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(2, 4, 10, 16, generator=gen)
    k, v = (torch.randn(2, kv_heads, 10 + cached, 16, generator=gen) for _ in range(2))
    return tuple(t.to(device).requires_grad_(requires_grad) for t in (q, k, v))


def _kernel_for(kernel, case: str, device: str, backward: bool):
    """The kernel built for ``case``, or None once checked that it refuses a feature it lacks; skips
    where the kernel cannot run (flash-attn off CUDA; FlexAttention's CPU path has no backward)."""
    features = CASES[case][0]
    if not features <= kernel.features:
        with pytest.raises(ConfigError, match="cannot do"):
            kernel(frozenset(features), check_available=False)
        return None
    if device == "cpu" and kernel in HALF_PRECISION:
        pytest.skip("flash-attn kernels run on CUDA only")
    if device == "cpu" and kernel is FlexAttention and backward:
        pytest.skip("FlexAttention has no CPU backward")
    if device == "cuda" and kernel.unavailable():
        pytest.skip(kernel.unavailable())
    return kernel(frozenset(features), check_available=False)


def _case_arguments(case: str, device: str) -> dict:
    return {key: value.to(device) if torch.is_tensor(value) else value for key, value in CASES[case][1].items()}


def _relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    return ((got.float() - expected).norm() / expected.norm()).item()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("kernel", KERNELS)
def test_kernels_match_the_math_reference(kernel, case, device):
    attend = _kernel_for(kernel, case, device, backward=False)
    if attend is None:
        return
    features, _, kv_heads, cached = CASES[case]
    kwargs = _case_arguments(case, device)
    q, k, v = _qkv(kv_heads, cached, device)
    expected = MathAttention(frozenset(features))(q, k, v, **kwargs)
    with torch.no_grad():
        got = attend(q, k, v, **kwargs)
    assert got.shape == expected.shape and got.dtype == q.dtype
    tolerance = 2e-2 if kernel in HALF_PRECISION else (1e-5 if device == "cpu" else 2e-4)
    torch.testing.assert_close(got, expected, atol=tolerance, rtol=tolerance)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_gradients_match_the_math_reference(kernel, case, device):
    """d(loss)/d(q, k, v) through each kernel equals the math kernel's (relative error of the whole tensor)."""
    attend = _kernel_for(kernel, case, device, backward=True)
    if attend is None:
        return
    features, _, kv_heads, cached = CASES[case]
    kwargs = _case_arguments(case, device)
    weights = torch.randn(2, 4, 10, 16, generator=torch.Generator().manual_seed(1)).to(device)
    grads = []
    for run in (MathAttention(frozenset(features)), attend):
        q, k, v = _qkv(kv_heads, cached, device, requires_grad=True)
        (run(q, k, v, **kwargs) * weights).sum().backward()
        grads.append((q.grad, k.grad, v.grad))
    tolerance = 2e-2 if kernel in HALF_PRECISION else 1e-4
    for name, expected, got in zip("qkv", *grads):
        assert got is not None and torch.isfinite(got).all(), name
        assert _relative_error(got, expected) < tolerance, (name, _relative_error(got, expected))


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
    assert isinstance(auto_attention(frozenset()), (SdpaAttention, FlashAttention, Flash4Attention))
    picked = auto_attention(frozenset({"softcap", "dropout"}))
    assert {"softcap", "dropout"} <= picked.features
    if not torch.cuda.is_available():
        assert isinstance(picked, MathAttention)


def test_flash_kernels_refuse_head_sizes_they_cannot_run():
    assert Flash4Attention.head_dim_problem(12) == "flash-attn-4 takes head sizes that are multiples of 8"
    assert Flash4Attention.head_dim_problem(264)
    assert not Flash4Attention.head_dim_problem(64)
    assert FlashAttention.head_dim_problem(512) and not FlashAttention.head_dim_problem(256)
    with pytest.raises(ConfigError, match=r"head size d_model/n_head=12: flash-attn-4 takes .* multiples of 8"):
        Flash4Attention(frozenset(), check_available=False, head_dim=12)


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"attention": "sdpa", "attn_softcap": 30.0}, "kernel SdpaAttention cannot do softcap"),
        ({"attention": "flex", "dropout": 0.1}, "cannot do dropout"),
        ({"attention": "flash4", "pos": "alibi"}, "kernel Flash4Attention cannot do alibi"),
        ({"window_pattern": ["local", "global"]}, "model.window_size=0"),
        ({"window_pattern": ["sliding"], "window_size": 4}, "must be one of local, global"),
        ({"n_kv_head": 2}, "must divide model.n_head=3"),
        ({"pos": "rope", "d_model": 15}, "must be even"),
    ],
)
def test_impossible_attention_configs_fail_early(overrides, message):
    with pytest.raises(ConfigError, match=message):
        GPTConfig(**overrides)


@pytest.mark.parametrize("kernel", [FlashAttention, Flash4Attention, FlexAttention])
def test_a_kernel_that_cannot_run_here_is_refused_for_training(kernel):
    """A config naming a kernel this machine lacks is valid (a saved model can still be loaded, falling
    back); training on it is refused with the reason."""
    if not kernel.unavailable():
        pytest.skip(f"{kernel.__name__} runs here")
    name = {FlashAttention: "flash", Flash4Attention: "flash4", FlexAttention: "flex"}[kernel]
    cfg = GPTConfig(attention=name, n_head=4, d_model=64)
    with pytest.raises(ConfigError, match="not available here"):
        cfg.check_runs_here()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kernel", ["sdpa", "flex", "flash", "flash4"])
def test_kernels_train_the_same_model(kernel, device):
    """A training step of a windowed GQA model with ``kernel`` gives the math kernel's loss and gradients."""
    target = {"sdpa": SdpaAttention, "flex": FlexAttention, "flash": FlashAttention, "flash4": Flash4Attention}[kernel]
    if device == "cpu" and kernel != "sdpa":
        pytest.skip(f"{kernel} trains on CUDA only")
    if target.unavailable():
        pytest.skip(target.unavailable())
    pos = "alibi" if "alibi" in target.features else "rope"
    losses, grads = [], []
    for name in ("math", kernel):
        cfg = GPTConfig(n_layer=2, n_head=4, n_kv_head=2, d_model=64, block_size=12, pos=pos, attention=name,
                        window_pattern=["local", "global"], window_size=5)  # fmt: skip
        torch.manual_seed(0)
        model = registry.build("model", cfg, vocab_size=11).to(device)
        idx = torch.randint(11, (2, 12), generator=torch.Generator().manual_seed(1)).to(device)
        out = model(idx, idx)
        out.loss.backward()
        losses.append(out.loss.item())
        grads.append(model.blocks[0].attn.qkv.weight.grad)
    half = target in HALF_PRECISION
    assert losses[1] == pytest.approx(losses[0], abs=1e-2 if half else 1e-5)
    assert _relative_error(grads[1], grads[0]) < (2e-2 if half else 1e-4)
