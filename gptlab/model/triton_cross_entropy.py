"""Cross-entropy over a wide vocabulary in two Triton kernels, for CUDA (``model.loss_kernel=triton``).

The forward kernel reads each row of logits once, keeping a running maximum and sum of exponentials
(the online softmax normalizer of Milakov & Gimelshein 2018, arXiv:1805.02867), and writes only the
row's loss and log-normalizer (log-sum-exp): no float32 copy and no softmax of the (tokens x vocab)
logits is ever stored. The backward kernel reads the logits once more and writes their gradient,
``(softmax - one_hot(target)) * grad_of_row_loss``, in the logits' dtype; rows whose target is
``IGNORE_INDEX`` get a zero gradient. Both are wrapped as ``torch.library`` Triton ops, so
``torch.compile`` keeps them inside its graph instead of breaking around them.

This module imports triton: :mod:`gptlab.model.cross_entropy` imports it only when the kernel runs.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch.library import triton_op, wrap_triton

from gptlab.model.output import IGNORE_INDEX

BLOCK = 4096  # vocabulary entries one program reads at a time
WARPS = 8


@triton.jit
def _cross_entropy_forward_kernel(
    logits_ptr, logits_row_stride, targets_ptr, losses_ptr, lse_ptr, n_cols, ignore_index, BLOCK: tl.constexpr
):
    row = tl.program_id(0).to(tl.int64)
    row_logits = logits_ptr + row * logits_row_stride
    running_max = tl.full([BLOCK], -1e38, tl.float32)
    running_sum = tl.zeros([BLOCK], tl.float32)
    for start in range(0, n_cols, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        inside = cols < n_cols
        x = tl.load(row_logits + cols, mask=inside, other=-1e38).to(tl.float32)
        new_max = tl.maximum(running_max, x)
        running_sum = running_sum * tl.exp(running_max - new_max) + tl.where(inside, tl.exp(x - new_max), 0.0)
        running_max = new_max
    row_max = tl.max(running_max, 0)
    lse = row_max + tl.log(tl.sum(running_sum * tl.exp(running_max - row_max), 0))
    target = tl.load(targets_ptr + row)
    ignored = target == ignore_index
    target_logit = tl.load(row_logits + tl.where(ignored, 0, target)).to(tl.float32)
    tl.store(losses_ptr + row, tl.where(ignored, 0.0, lse - target_logit))
    tl.store(lse_ptr + row, lse)


@triton.jit
def _cross_entropy_backward_kernel(
    logits_ptr,
    logits_row_stride,
    targets_ptr,
    lse_ptr,
    grad_losses_ptr,
    grad_ptr,
    grad_row_stride,
    n_cols,
    ignore_index,
    BLOCK: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    row_logits = logits_ptr + row * logits_row_stride
    row_grad = grad_ptr + row * grad_row_stride
    target = tl.load(targets_ptr + row)
    lse = tl.load(lse_ptr + row)
    scale = tl.where(target == ignore_index, 0.0, tl.load(grad_losses_ptr + row).to(tl.float32))
    for start in range(0, n_cols, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        inside = cols < n_cols
        x = tl.load(row_logits + cols, mask=inside, other=0.0).to(tl.float32)
        probs = tl.exp(x - lse)
        grad = tl.where(cols == target, probs - 1.0, probs) * scale
        tl.store(row_grad + cols, grad.to(grad_ptr.dtype.element_ty), mask=inside)


@triton_op("gptlab::cross_entropy_forward", mutates_args={})
def cross_entropy_forward(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row losses and log-normalizers (both float32, shape (rows,)) of logits (rows, vocab)."""
    rows, cols = logits.shape
    losses = torch.empty(rows, dtype=torch.float32, device=logits.device)
    lse = torch.empty(rows, dtype=torch.float32, device=logits.device)
    wrap_triton(_cross_entropy_forward_kernel)[(rows,)](
        logits, logits.stride(0), targets, losses, lse, cols, IGNORE_INDEX, BLOCK=BLOCK, num_warps=WARPS
    )
    return losses, lse


@triton_op("gptlab::cross_entropy_backward", mutates_args={})
def cross_entropy_backward(
    logits: torch.Tensor, targets: torch.Tensor, lse: torch.Tensor, grad_losses: torch.Tensor
) -> torch.Tensor:
    """The gradient of ``sum(grad_losses * losses)`` with respect to ``logits``, in the logits' dtype."""
    rows, cols = logits.shape
    grad = torch.empty_like(logits)
    wrap_triton(_cross_entropy_backward_kernel)[(rows,)](
        logits,
        logits.stride(0),
        targets,
        lse,
        grad_losses,
        grad,
        grad.stride(0),
        cols,
        IGNORE_INDEX,
        BLOCK=BLOCK,
        num_warps=WARPS,
    )
    return grad


def _save_for_backward(ctx, inputs, output) -> None:
    logits, targets = inputs
    ctx.save_for_backward(logits, targets, output[1])


def _backward(ctx, grad_losses: torch.Tensor, grad_lse: torch.Tensor):
    logits, targets, lse = ctx.saved_tensors
    return cross_entropy_backward(logits, targets, lse, grad_losses.contiguous()), None


cross_entropy_forward.register_autograd(_backward, setup_context=_save_for_backward)


def row_losses(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each row of ``logits`` (rows, vocab) against ``targets`` (rows,); 0 where ignored."""
    return cross_entropy_forward(logits.contiguous(), targets.contiguous())[0]
