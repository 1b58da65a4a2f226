"""Float8 matmuls in training (Micikevicius et al. 2022, "FP8 Formats for Deep Learning",
arXiv:2209.05433) through torchao's float8 training: each linear layer of the blocks casts its
input, weight and output gradient to float8 with one dynamic scale per tensor and multiplies
them on the tensor cores at twice bf16's rate; weights, gradients and the optimizer stay in
float32. The LM head (tied to the embedding, and the layer most sensitive to precision) stays in
bf16 unless ``trainer.fp8_head=true`` (which alone, without ``trainer.fp8``, converts the head only); layers
whose sizes are not multiples of 16 always do. Where the loss runs the Triton kernels and the head has no
softcap, z-loss or chunking, its training loss goes through :mod:`gptlab.model.float8_head`, which writes
the logits' gradient in float8 straight from the loss's backward; other calls of the head use torchao's layer. Needs torchao and a GPU of compute
capability 8.9 or newer (Ada, Hopper, Blackwell); fastest under torch.compile, which fuses the
casts. MFU of an FP8 run is still reported against the bf16 peak.
"""

from __future__ import annotations

import importlib.util

import torch
from torch import nn

from gptlab.errors import ConfigError

MIN_CAPABILITY = (8, 9)


def fp8_unavailable(device: torch.device) -> str:
    """Why float8 training cannot run on ``device`` ('' when it can)."""
    if importlib.util.find_spec("torchao") is None:
        return "the torchao package is not installed (pip install torchao)"
    if device.type != "cuda":
        return f"float8 matmuls need a CUDA GPU (the device is {device})"
    if torch.cuda.get_device_capability(device) < MIN_CAPABILITY:
        return f"float8 matmuls need compute capability >= 8.9 ({torch.cuda.get_device_name(device)} has less)"
    return ""


def fused_head_applies(head: nn.Module, device: torch.device) -> bool:
    """Whether ``head``'s training loss can take the fused float8 path (gptlab/model/float8_head.py)."""
    from gptlab.model.cross_entropy import picks_triton

    plain = not (head.softcap or head.z_loss or head.chunk_tokens)
    return plain and picks_triton(head.loss_kernel, device, head.out_features)


def _in_blocks(module: nn.Module, fqn: str) -> bool:
    return (
        isinstance(module, nn.Linear)
        and fqn.startswith("blocks.")
        and module.in_features % 16 == 0
        and module.out_features % 16 == 0
    )


def convert_to_fp8(model: nn.Module, device: torch.device, blocks: bool = True, head: bool = False) -> int:
    """Swap the blocks' linear layers (``blocks``) for torchao's Float8Linear (tensorwise dynamic scaling),
    and with ``head`` the head's projection; returns how many layers were converted. Parameter names stay."""
    knob = "trainer.fp8" if blocks else "trainer.fp8_head"
    reason = fp8_unavailable(device)
    if reason:
        raise ConfigError(f"{knob}=true but {reason}. Use {knob}=false.")
    from torchao.float8 import Float8LinearConfig, convert_to_float8_training
    from torchao.float8.float8_linear import Float8Linear

    converted = 0
    if blocks:
        before = sum(isinstance(m, nn.Linear) for m in model.modules())
        convert_to_float8_training(model, config=Float8LinearConfig(), module_filter_fn=_in_blocks)
        converted = sum(isinstance(m, Float8Linear) for m in model.modules())
        if before and not converted:
            raise ConfigError("trainer.fp8=true but no linear layer of the blocks has sizes that are multiples of 16.")
    lm_head = getattr(model, "head", None)
    if head and lm_head is not None and hasattr(lm_head, "project") and _in_blocks(lm_head, "blocks.head"):
        # an unregistered Float8Linear sharing the head's (tied) weight: the state dict keeps its keys
        lm_head.project = Float8Linear.from_float(lm_head, config=Float8LinearConfig()).forward
        lm_head.float8_loss = fused_head_applies(lm_head, device)
        converted += 1
    return converted
