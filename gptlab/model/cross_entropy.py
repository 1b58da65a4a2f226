"""Which code computes the next-token cross-entropy (registry kind ``loss_kernel``, ``model.loss_kernel``).

``torch`` is ``F.cross_entropy`` on a float32 copy of the logits; ``triton`` is the fused pair of kernels
in :mod:`gptlab.model.triton_cross_entropy` (CUDA only), which never stores a float32 copy or a softmax
of the (tokens x vocab) logits; ``auto`` takes ``triton`` for CUDA tensors when triton is installed and
``torch`` otherwise (and for vocabularies under ``TRITON_MIN_VOCAB``, where torch's kernel is small
and the Triton one would only add its compile time). Every kernel takes logits (rows, vocab) and targets (rows,) and returns per-row
losses, 0 where the target is ``IGNORE_INDEX``.
"""

from __future__ import annotations

import importlib.util

import torch
from torch.nn import functional as F

from gptlab.errors import ConfigError
from gptlab.model.output import IGNORE_INDEX
from gptlab.registry import register


@register("loss_kernel", "torch")
def torch_row_losses(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """F.cross_entropy in float32 (any device)."""
    return F.cross_entropy(logits.float(), targets, ignore_index=IGNORE_INDEX, reduction="none")


# why the triton kernel cannot run in this environment ('' when it can); found once, outside any compiled code
TRITON_MISSING = "" if importlib.util.find_spec("triton") else "the triton package is not installed"


@register("loss_kernel", "triton")
def triton_row_losses(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Two fused Triton kernels with an online-softmax normalizer (CUDA only, e.g. 3x faster at vocab 50304)."""
    reason = TRITON_MISSING or ("" if logits.is_cuda else f"the logits are on {logits.device.type}, not CUDA")
    if reason:
        raise ConfigError(f"model.loss_kernel=triton cannot run: {reason}. Use model.loss_kernel=auto or torch.")
    from gptlab.model.triton_cross_entropy import row_losses

    return row_losses(logits, targets)


TRITON_MIN_VOCAB = 4096


@register("loss_kernel", "auto")
def auto_row_losses(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """triton for CUDA logits of TRITON_MIN_VOCAB or more entries when triton is installed, else torch."""
    if picks_triton("auto", logits.device, logits.size(-1)):
        return triton_row_losses(logits, targets)
    return torch_row_losses(logits, targets)


def picks_triton(kernel: str, device: torch.device, vocab_size: int) -> bool:
    """Whether the loss kernel named ``kernel`` runs the Triton kernels for logits of this device and width."""
    if TRITON_MISSING or device.type != "cuda":
        return False
    return kernel == "triton" or (kernel == "auto" and vocab_size >= TRITON_MIN_VOCAB)
