"""Cross-entropy over a wide vocabulary in two Triton kernels, for CUDA (``model.loss_kernel=triton``).

The forward kernel reads each row of logits once, keeping a running maximum and sum of exponentials
(the online softmax normalizer of Milakov & Gimelshein 2018, arXiv:1805.02867), and writes only the
row's loss and log-normalizer (log-sum-exp): no float32 copy and no softmax of the (tokens x vocab)
logits is ever stored. The backward kernel reads the logits once more and writes their gradient,
``(softmax - one_hot(target)) * grad_of_row_loss``, in the logits' dtype; rows whose target is
``IGNORE_INDEX`` get a zero gradient. A third kernel, for the float8 LM head
(:mod:`gptlab.model.float8_head`), writes that gradient straight in float8, twice: row-major for the
input's gradient matmul and transposed for the weight's (float8 tensor cores take both operands
K-major), so the bf16 gradient and its separate cast never exist. All three are wrapped as ``torch.library`` Triton ops, so
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
FORWARD_WARPS, BACKWARD_WARPS = 4, 8  # the fastest settings measured on an H200


LOG2_E = tl.constexpr(1.4426950408889634)  # exp(x) = exp2(x * LOG2_E): exp2 is the GPU's native instruction
LN_2 = tl.constexpr(0.6931471805599453)


@triton.jit
def _cross_entropy_forward_kernel(
    logits_ptr, logits_row_stride, targets_ptr, losses_ptr, lse_ptr, n_cols, ignore_index, BLOCK: tl.constexpr
):
    row = tl.program_id(0).to(tl.int64)
    row_logits = logits_ptr + row * logits_row_stride
    running_max = tl.full([], -1e38, tl.float32)  # in log2 units
    running_sum = tl.zeros([], tl.float32)
    for start in range(0, n_cols, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        x = tl.load(row_logits + cols, mask=cols < n_cols, other=-1e38).to(tl.float32) * LOG2_E
        new_max = tl.maximum(running_max, tl.max(x, 0))
        running_sum = running_sum * tl.exp2(running_max - new_max) + tl.sum(tl.exp2(x - new_max), 0)
        running_max = new_max
    lse = (running_max + tl.log2(running_sum)) * LN_2
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
        logits, logits.stride(0), targets, losses, lse, cols, IGNORE_INDEX, BLOCK=BLOCK, num_warps=FORWARD_WARPS
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
        num_warps=BACKWARD_WARPS,
    )
    return grad


@triton.jit
def _cross_entropy_float8_gradient_kernel(
    logits_ptr,
    targets_ptr,
    lse_ptr,
    row_scales_ptr,
    grad_ptr,
    grad_t_ptr,
    n_rows,
    n_cols,
    ignore_index,
    FLOAT8_MAX: tl.constexpr,
    BLOCK_ROWS: tl.constexpr,
    BLOCK_COLS: tl.constexpr,
):
    # neighbouring programs take neighbouring column blocks of the same rows; offsets inside a tile fit int32
    row_start, col_start = tl.program_id(1) * BLOCK_ROWS, tl.program_id(0) * BLOCK_COLS
    tile_rows, tile_cols = tl.arange(0, BLOCK_ROWS), tl.arange(0, BLOCK_COLS)
    rows, cols = row_start + tile_rows, col_start + tile_cols
    row_inside = rows < n_rows
    inside = row_inside[:, None] & (cols < n_cols)[None, :]
    block_start = row_start.to(tl.int64) * n_cols + col_start
    tile = tile_rows[:, None] * n_cols + tile_cols[None, :]
    x = tl.load(logits_ptr + block_start + tile, mask=inside, other=0.0).to(tl.float32)
    lse = tl.load(lse_ptr + rows, mask=row_inside, other=0.0)
    target = tl.load(targets_ptr + rows, mask=row_inside, other=ignore_index)
    scale = tl.where(target == ignore_index, 0.0, tl.load(row_scales_ptr + rows, mask=row_inside, other=0.0))
    probs = tl.exp2(x * LOG2_E - (lse * LOG2_E)[:, None])
    grad = tl.where(cols[None, :] == target[:, None], probs - 1.0, probs) * scale[:, None]
    grad = tl.minimum(tl.maximum(grad, -FLOAT8_MAX), FLOAT8_MAX)
    grad = grad.to(grad_ptr.dtype.element_ty, fp_downcast_rounding="rtne")
    tl.store(grad_ptr + block_start + tile, grad, mask=inside)
    block_start_t = col_start.to(tl.int64) * n_rows + row_start
    tile_t = tile_cols[:, None] * n_rows + tile_rows[None, :]
    tl.store(grad_t_ptr + block_start_t + tile_t, tl.trans(grad), mask=tl.trans(inside))


FLOAT8_BLOCK_ROWS, FLOAT8_BLOCK_COLS, FLOAT8_WARPS = 64, 64, 2  # the fastest of 20 tilings tried on an H200


@triton_op("gptlab::cross_entropy_float8_gradient", mutates_args={})
def cross_entropy_float8_gradient(
    logits: torch.Tensor, targets: torch.Tensor, lse: torch.Tensor, row_scales: torch.Tensor, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(softmax(logits) - one_hot(targets)) * row_scales[:, None]`` in the float8 ``dtype``, clamped to its
    range, as (rows, vocab) and as its transposed copy (vocab, rows); ``logits`` contiguous."""
    rows, cols = logits.shape
    grad = torch.empty(rows, cols, dtype=dtype, device=logits.device)
    grad_t = torch.empty(cols, rows, dtype=dtype, device=logits.device)
    grid = (triton.cdiv(cols, FLOAT8_BLOCK_COLS), triton.cdiv(rows, FLOAT8_BLOCK_ROWS))
    wrap_triton(_cross_entropy_float8_gradient_kernel)[grid](
        logits,
        targets,
        lse,
        row_scales,
        grad,
        grad_t,
        rows,
        cols,
        IGNORE_INDEX,
        FLOAT8_MAX=torch.finfo(dtype).max,
        BLOCK_ROWS=FLOAT8_BLOCK_ROWS,
        BLOCK_COLS=FLOAT8_BLOCK_COLS,
        num_warps=FLOAT8_WARPS,
    )
    return grad, grad_t


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
