"""The fused float8 LM head (gptlab/model/float8_head.py) on the CPU, through its torch reference kernels
(the Triton kernels are checked against the same references in tests/gpu/test_loss_kernel.py)."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from gptlab.model.float8_head import (
    GRAD_FLOAT8,
    float8_linear_cross_entropy,
    reference_float8_gradient,
    reference_losses,
)
from gptlab.model.head import LMHead
from gptlab.model.output import IGNORE_INDEX


def problem(rows=64, dim=32, vocab=96, seed=0):
    torch.manual_seed(seed)
    x = torch.randn(rows, dim, requires_grad=True)
    weight = (torch.randn(vocab, dim) * dim**-0.5).requires_grad_()
    targets = torch.randint(vocab, (rows,))
    targets[:5] = IGNORE_INDEX
    return x, weight, targets


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def test_losses_and_gradients_match_float32_within_float8_error():
    x, weight, targets = problem()
    logits, losses = float8_linear_cross_entropy(x, weight, targets)
    mean = losses.sum() / (targets != IGNORE_INDEX).sum()
    grad_x, grad_w = torch.autograd.grad(mean, [x, weight])

    exact_logits = x @ weight.t()
    exact = F.cross_entropy(exact_logits, targets, ignore_index=IGNORE_INDEX)
    exact_x, exact_w = torch.autograd.grad(exact, [x, weight])
    assert not logits.requires_grad and logits.dtype == torch.bfloat16
    assert relative_error(logits, exact_logits) < 0.1  # e4m3 inputs: 3 mantissa bits each
    assert abs(mean.item() - exact.item()) < 0.02 * exact.item()
    assert (losses[:5] == 0).all()
    assert relative_error(grad_x, exact_x) < 0.15 and relative_error(grad_w, exact_w) < 0.15
    assert grad_x.dtype == x.dtype and grad_w.dtype == weight.dtype


def test_ignored_rows_add_no_gradient_and_the_upstream_scale_carries_through():
    x, weight, targets = problem()
    _, losses = float8_linear_cross_entropy(x, weight, targets)
    grad_x, grad_w = torch.autograd.grad(3.0 * losses.sum(), [x, weight])
    assert (grad_x[:5] == 0).all()
    _, losses = float8_linear_cross_entropy(x, weight, targets)
    half_x, half_w = torch.autograd.grad(1.5 * losses.sum(), [x, weight])
    # a power-of-two change of the upstream gradient moves only the float8 scale: the result halves exactly
    torch.testing.assert_close(half_x * 2, grad_x)
    torch.testing.assert_close(half_w * 2, grad_w)


def test_reference_gradient_is_softmax_minus_one_hot_rounded_to_float8():
    torch.manual_seed(1)
    logits = torch.randn(16, 40).bfloat16()
    targets = torch.randint(40, (16,))
    targets[3] = IGNORE_INDEX
    losses, lse = reference_losses(logits, targets)
    kept = targets != IGNORE_INDEX
    torch.testing.assert_close(
        losses[kept], F.cross_entropy(logits.float()[kept], targets[kept], reduction="none"), rtol=1e-5, atol=1e-5
    )
    scales = torch.full((16,), 57344.0)
    grad, grad_t = reference_float8_gradient(logits, targets, lse, scales, GRAD_FLOAT8)
    assert grad.dtype == GRAD_FLOAT8 and torch.equal(grad_t.float(), grad.float().t())
    exact = (logits.float().softmax(-1) - F.one_hot(targets.clamp(min=0), 40)) * 57344.0
    exact[3] = 0
    error = (grad.float() - exact).abs()
    assert (error <= exact.abs() * 0.125 + 2**-16).all()  # e5m2: 2 mantissa bits, round to nearest
    assert grad.float().abs().max() <= 57344


def test_a_head_marked_for_float8_trains_through_the_fused_path_and_falls_back_on_ragged_shapes():
    torch.manual_seed(0)
    head = LMHead(32, 96)
    head.float8_loss = True
    x = torch.randn(4, 16, 32, requires_grad=True)
    targets = torch.randint(96, (4, 16))
    out = head(x, targets)
    exact = F.cross_entropy(F.linear(x, head.weight).flatten(0, 1), targets.flatten())
    assert out.logits.shape == (4, 16, 96) and abs(out.loss.item() - exact.item()) < 0.02 * exact.item()
    out.loss.backward()
    assert head.weight.grad is not None and x.grad is not None
    ragged = head(x[:, :15], targets[:, :15])  # 60 tokens, not a multiple of 16: the plain bf16/fp32 path
    torch.testing.assert_close(
        ragged.loss, F.cross_entropy(F.linear(x[:, :15], head.weight).flatten(0, 1), targets[:, :15].flatten())
    )


@pytest.mark.parametrize("knobs", [{"softcap": 30.0}, {"z_loss": 1e-4}, {"chunk_tokens": 64}])
def test_the_fused_head_applies_only_to_a_plain_head_on_cuda_with_the_triton_loss(knobs):
    from gptlab.distributed.fp8 import fused_head_applies

    cpu = torch.device("cpu")
    assert not fused_head_applies(LMHead(32, 8192), cpu)
    assert not fused_head_applies(LMHead(32, 8192, **knobs), cpu)
