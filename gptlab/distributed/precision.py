"""Numeric precision of a run: the autocast dtype (``trainer.dtype``), TF32 (``trainer.tf32``) and the
dtype of the residual stream between blocks (``trainer.low_precision_residual``).

bfloat16 autocast runs the matmuls and attention in bf16 while the weights, the optimizer and the
loss stay float32 (Micikevicius et al. 2018, arXiv:1710.03740, without loss scaling: bf16 has
float32's exponent range); float16 needs the grad scaler. TF32 makes the float32 matmuls that
remain use the tensor cores (10-bit mantissa inputs, float32 accumulation).
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from gptlab.errors import ConfigError

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


def low_precision_residual(model: nn.Module, dtype: torch.dtype) -> None:
    """Carry the residual stream between blocks in the autocast ``dtype`` instead of float32, as llm.c
    does: every block's input is cast on entry, and the blocks' bf16 branch outputs then keep it there,
    which halves the bytes of the residual adds and norms (the step's largest memory-bound work) at
    the price of rounding each residual sum to bf16. The norms still compute in float32 (autocast)."""
    if dtype != torch.bfloat16:
        name = f"{dtype}".removeprefix("torch.")
        raise ConfigError(
            f"trainer.low_precision_residual=true needs bfloat16 autocast (trainer.dtype=auto or bfloat16 on a "
            f"GPU with bf16), not {name}."
        )

    def cast_input(module: nn.Module, args: tuple) -> tuple:
        return (args[0].to(dtype), *args[1:])

    for block in getattr(model, "blocks", []):
        block.register_forward_pre_hook(cast_input)
