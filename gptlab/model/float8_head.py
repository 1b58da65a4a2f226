"""The LM head's matmuls in float8, fused with the cross-entropy's backward (``trainer.fp8_head=true`` with
the Triton loss kernel).

Float8 training (Micikevicius et al. 2022, "FP8 Formats for Deep Learning", arXiv:2209.05433) casts a
matmul's input and weight to e4m3 and its output gradient to e5m2, each with one scale per tensor. For the
head that gradient is the loss's: ``(softmax - one_hot(target)) * dloss`` for each token. Each entry of
``softmax - one_hot`` lies in [-1, 1], so the largest gradient entry is bounded by the largest ``dloss``
of a row, known before the gradient exists: the backward kernel scales by that bound and writes the
gradient directly in float8, both row-major (for the input's gradient) and transposed (for the weight's;
float8 tensor cores take both operands K-major). Where a generic float8 linear layer would write the
gradient in bf16, read it for its amax, read it again to cast it and write both float8 copies, this head
writes the two copies once. The amax-based scale such a layer would compute is at most that bound, and
in practice within a small factor of it (some token of a batch is always badly predicted).

The forward matches torchao's tensorwise recipe: e4m3 input and weight with dynamic scales, fast
accumulation; bf16 logits, which the Triton forward kernel reduces to per-token losses and log-normalizers.
Off CUDA (tests) the two loss kernels are computed by the reference functions below, in torch.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from gptlab.model.cross_entropy import torch_row_losses
from gptlab.model.output import IGNORE_INDEX

INPUT_FLOAT8 = torch.float8_e4m3fn  # input and weight
GRAD_FLOAT8 = torch.float8_e5m2  # the logits' gradient: wider range, fewer mantissa bits
MIN_AMAX = 1e-12


def to_float8(tensor: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """``tensor`` in float8 with one dynamic scale (its largest magnitude maps to the format's largest
    value), and the inverse scale that ``torch._scaled_mm`` multiplies back."""
    largest = torch.finfo(dtype).max
    amax = tensor.detach().abs().amax().float().clamp(min=MIN_AMAX)
    scaled = (tensor.float() * (largest / amax)).clamp(-largest, largest)
    return scaled.to(dtype), amax / largest


def reference_losses(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row losses (0 where ignored) and log-normalizers: the Triton forward kernel's result, in torch."""
    return torch_row_losses(logits, targets), logits.float().logsumexp(-1)


def reference_float8_gradient(
    logits: torch.Tensor, targets: torch.Tensor, lse: torch.Tensor, row_scales: torch.Tensor, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """The Triton float8 gradient kernel's result, in torch: the gradient and its transposed copy."""
    kept = targets != IGNORE_INDEX
    one_hot = F.one_hot(torch.where(kept, targets, 0), logits.size(1)).float()
    grad = (torch.exp(logits.float() - lse[:, None]) - one_hot) * torch.where(kept, row_scales, 0.0)[:, None]
    largest = torch.finfo(dtype).max
    grad = grad.clamp(-largest, largest).to(dtype)
    return grad, grad.t().contiguous()


def _loss_kernels(logits: torch.Tensor):
    if logits.is_cuda:
        from gptlab.model import triton_cross_entropy

        return triton_cross_entropy.cross_entropy_forward, triton_cross_entropy.cross_entropy_float8_gradient
    return reference_losses, reference_float8_gradient


def _column_major(tensor: torch.Tensor) -> torch.Tensor:
    """The same matrix stored column-major, as ``torch._scaled_mm`` wants its second operand."""
    return tensor.t().contiguous().t()


class _Float8HeadGradients(torch.autograd.Function):
    """Per-token losses of float8 ``logits``, whose backward returns the gradients of the head's input ``x`` and
    ``weight`` (the two float8 matmuls). The logits are computed outside, without autograd, so that they can be
    returned to the caller: a differentiable logits output would get an all-zero gradient under torch.compile."""

    @staticmethod
    def forward(ctx, x, weight, logits, targets, x8, x_inverse, w8, w_inverse):
        losses_of, _ = _loss_kernels(logits)
        losses, lse = losses_of(logits, targets)
        ctx.save_for_backward(x8, x_inverse, w8, w_inverse, logits, lse, targets)
        ctx.x_shape, ctx.x_dtype, ctx.w_dtype = x.shape, x.dtype, weight.dtype
        return losses

    @staticmethod
    def backward(ctx, grad_losses: torch.Tensor):
        x8, x_inverse, w8, w_inverse, logits, lse, targets = ctx.saved_tensors
        _, gradient_of = _loss_kernels(logits)
        grad_losses = torch.where(targets != IGNORE_INDEX, grad_losses.float(), 0.0)
        bound = grad_losses.abs().amax().clamp(min=MIN_AMAX)  # |softmax - one_hot| <= 1
        largest = torch.finfo(GRAD_FLOAT8).max
        grad8, grad8_t = gradient_of(logits, targets, lse, (grad_losses * (largest / bound)).contiguous(), GRAD_FLOAT8)
        grad_inverse = bound / largest
        grad_x = torch._scaled_mm(
            grad8, _column_major(w8), scale_a=grad_inverse, scale_b=w_inverse, out_dtype=ctx.x_dtype
        )
        grad_w = torch._scaled_mm(
            grad8_t, _column_major(x8), scale_a=grad_inverse, scale_b=x_inverse, out_dtype=torch.float32
        )
        return grad_x.view(ctx.x_shape), grad_w.to(ctx.w_dtype), None, None, None, None, None, None


def fits_float8(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether torch._scaled_mm takes these shapes: every matrix dimension a multiple of 16."""
    return all(size % 16 == 0 for size in (x.numel() // max(x.size(-1), 1), *weight.shape))


def float8_linear_cross_entropy(
    x: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (..., vocab; no gradient) and per-token losses (tokens,) of the float8 head; see the module."""
    x8, x_inverse = to_float8(x.detach().reshape(-1, x.size(-1)), INPUT_FLOAT8)
    w8, w_inverse = to_float8(weight.detach(), INPUT_FLOAT8)
    logits = torch._scaled_mm(
        x8, w8.t(), scale_a=x_inverse, scale_b=w_inverse, out_dtype=torch.bfloat16, use_fast_accum=True
    )
    flat_targets = targets.reshape(-1).contiguous()
    losses = _Float8HeadGradients.apply(x, weight, logits, flat_targets, x8, x_inverse, w8, w_inverse)
    return logits.view(*x.shape[:-1], logits.size(-1)), losses
