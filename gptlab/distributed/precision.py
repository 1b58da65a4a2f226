"""Numeric precision of a run: the autocast dtype (``trainer.dtype``) and TF32 (``trainer.tf32``).

bfloat16 autocast runs the matmuls and attention in bf16 while the weights, the optimizer and the
loss stay float32 (Micikevicius et al. 2018, arXiv:1710.03740, without loss scaling: bf16 has
float32's exponent range); float16 needs the grad scaler. TF32 makes the float32 matmuls that
remain use the tensor cores (10-bit mantissa inputs, float32 accumulation).
"""

from __future__ import annotations

import contextlib

import torch

AUTOCAST_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def autocast_dtype(name: str, device: torch.device) -> torch.dtype:
    """``trainer.dtype`` as a torch dtype; ``auto`` is bfloat16 on a CUDA GPU that supports it, else float32."""
    if name == "auto":
        fast = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if fast else torch.float32
    return AUTOCAST_DTYPES[name]


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    return torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)


def set_tf32(enabled: bool) -> None:
    """TensorFloat-32 for float32 matmuls and convolutions on CUDA (a no-op elsewhere)."""
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
