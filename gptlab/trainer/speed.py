"""Honest speed metrics of a training: tokens per second, step time, MFU and peak memory.

MFU (model FLOPs utilization, PaLM, Chowdhery et al. 2022, arXiv:2204.02311, appendix B) is the
model's analytic training FLOPs per token (gptlab/model/counting.py: 6 per matmul weight plus the
attention scores counted in full, not halved for the causal mask) times the tokens per second,
over the GPU's dense bf16 peak from the vendor's datasheet. A GPU missing from the table logs no
MFU; an FP8 run is still measured against the bf16 peak (its record says so), so FP8's gain shows
as an MFU above what bf16 could reach. All figures are global: with several ranks, tokens are
summed over them and the peak is the peak of one GPU times the world size.

The clock is read only at log steps, after waiting for the GPU, so the hot loop never blocks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

# dense bf16 tensor-core FLOP/s (no sparsity), by a substring of torch.cuda.get_device_name(); first match wins
PEAK_BF16_FLOPS: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756e12),
    ("H100 NVL", 835e12),
    ("H100", 989e12),  # SXM
    ("H200", 989e12),  # SXM: the H100's compute with more memory
    ("H800", 989e12),
    ("GH200", 989e12),
    ("B200", 2250e12),
    ("A100", 312e12),
    ("A800", 312e12),
    ("A10G", 70e12),
    ("A10", 125e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("RTX 4090", 165e12),
    ("RTX 3090", 71e12),
    ("V100", 125e12),  # fp16: the V100 has no bf16
)


def peak_flops(device: torch.device) -> float | None:
    """The dense bf16 peak FLOP/s of the GPU behind ``device``; None off CUDA or for an unknown GPU."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((flops for key, flops in PEAK_BF16_FLOPS if key in name), None)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class SpeedMeter:
    """Counts steps and tokens between log steps and turns them into a record."""

    device: torch.device
    flops_per_token: int = 0
    world_size: int = 1
    peak: float | None = field(init=False)
    start: float = field(init=False, default_factory=time.perf_counter)
    steps: int = 0
    tokens: int = 0  # this rank's

    def __post_init__(self) -> None:
        self.peak = peak_flops(self.device)

    def restart(self) -> None:
        synchronize(self.device)
        self.start, self.steps, self.tokens = time.perf_counter(), 0, 0
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def count(self, tokens: int) -> None:
        self.steps += 1
        self.tokens += tokens

    def record(self) -> dict[str, float]:
        """tokens_per_s, step_ms, mfu (when the peak is known), peak_memory_gib (CUDA) since the last restart."""
        synchronize(self.device)
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        tokens_per_s = self.tokens * self.world_size / elapsed
        record = {"tokens_per_s": tokens_per_s, "step_ms": 1000 * elapsed / max(self.steps, 1)}
        if self.peak and self.flops_per_token:
            record["mfu"] = self.flops_per_token * tokens_per_s / (self.peak * self.world_size)
        if self.device.type == "cuda":
            record["peak_memory_gib"] = torch.cuda.max_memory_allocated(self.device) / 2**30
        return record

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def describe(record: dict[str, float], fp8: bool = False) -> str:
    """The speed part of a progress line: '512,000 tok/s | 64.0 ms/step | MFU 44.1% | 20.5 GiB'."""
    parts = [f"{record['tokens_per_s']:,.0f} tok/s", f"{record['step_ms']:.1f} ms/step"]
    if "mfu" in record:
        parts.append(f"MFU {100 * record['mfu']:.1f}%" + (" of the bf16 peak" if fp8 else ""))
    if "peak_memory_gib" in record:
        parts.append(f"{record['peak_memory_gib']:.1f} GiB")
    return " | ".join(parts)
