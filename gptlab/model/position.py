"""Positional information (registry kind ``position``, selected by ``model.pos``).

A position part can act in three places, each a method with a do-nothing default:
``embed`` adds absolute positions to the token embeddings (learned, sinusoidal), ``rotate``
turns queries and keys (RoPE), and ``kernel_args`` hands the attention kernel a bias (ALiBi). One
instance is shared by all blocks. ``start`` is the position of the first token, so a KV cache
can pass the number of cached tokens.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gptlab.model.attributes import buffers
from gptlab.registry import lookup, register


class Positions(nn.Module):
    """No positional information at all (NoPE; Kazemnejad et al. 2023, arXiv:2305.19466)."""

    kernel_features: frozenset[str] = frozenset()  # what an attention kernel must support for this part
    rotates = False  # whether it rotates pairs of head dimensions (needs an even head size)

    def __init__(self, cfg) -> None:
        super().__init__()

    def embed(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        return x

    def rotate(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Turn ``x`` (batch, heads, seq, head_dim), query and key heads alike, by the positions of its tokens."""
        return x

    def kernel_args(self) -> dict[str, torch.Tensor]:
        """Extra keyword arguments for the attention kernel (ALiBi's slopes)."""
        return {}

    @staticmethod
    def param_count(cfg) -> int:
        return 0


register("position", "none")(Positions)


@register("position", "learned")
class LearnedPositions(Positions):
    """A learned vector per position, added to the input (GPT-2, Radford et al. 2019)."""

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self.embedding = nn.Embedding(cfg.block_size, cfg.d_model)

    def embed(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        return x + self.embedding(torch.arange(start, start + x.size(1), device=x.device))

    @staticmethod
    def param_count(cfg) -> int:
        return cfg.block_size * cfg.d_model


@register("position", "sinusoidal")
class SinusoidalPositions(Positions):
    """Fixed sines and cosines of geometric frequencies, added to the input (Vaswani et al. 2017, arXiv:1706.03762)."""

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        position = torch.arange(cfg.block_size, dtype=torch.float32)[:, None]
        freq = torch.exp(torch.arange(0, cfg.d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / cfg.d_model))
        table = torch.zeros(cfg.block_size, cfg.d_model)
        table[:, 0::2] = torch.sin(position * freq)
        table[:, 1::2] = torch.cos(position * freq)[:, : cfg.d_model // 2]
        self.register_buffer("table", table, persistent=False)

    def embed(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        return x + self.table[start : start + x.size(1)].to(x.dtype)


# ----------------------------------------------------------------------------------- RoPE

# A RoPE scaling (registry kind ``rope_scaling``, ``model.rope_scaling``) maps (inverse frequencies,
# factor, original context length) to new inverse frequencies and a factor for cos and sin.


@register("rope_scaling", "none")
def no_rope_scaling(inv_freq: torch.Tensor, factor: float, original_length: int) -> tuple[torch.Tensor, float]:
    """The frequencies of RoPE as trained."""
    return inv_freq, 1.0


@register("rope_scaling", "linear")
def linear_rope_scaling(inv_freq: torch.Tensor, factor: float, original_length: int) -> tuple[torch.Tensor, float]:
    """Position interpolation: every frequency divided by the factor (Chen et al. 2023, arXiv:2306.15595)."""
    return inv_freq / factor, 1.0


@register("rope_scaling", "yarn")
def yarn_rope_scaling(
    inv_freq: torch.Tensor, factor: float, original_length: int, alpha: float = 1.0, beta: float = 32.0
) -> tuple[torch.Tensor, float]:
    """YaRN (Peng et al. 2023, arXiv:2309.00071): interpolate only the low frequencies
    (a ramp between alpha and beta rotations per original context) and raise the attention temperature."""
    rotations = original_length * inv_freq / (2 * math.pi)  # full turns over the original context
    keep = ((rotations - alpha) / (beta - alpha)).clamp(0.0, 1.0)  # 1: high frequency, left as is
    return inv_freq / factor * (1 - keep) + inv_freq * keep, 0.1 * math.log(factor) + 1.0 if factor > 1 else 1.0


@register("rope_scaling", "llama3")
def llama3_rope_scaling(
    inv_freq: torch.Tensor, factor: float, original_length: int, low: float = 1.0, high: float = 4.0
) -> tuple[torch.Tensor, float]:
    """Llama 3.1's scaling (Grattafiori et al. 2024, arXiv:2407.21783): YaRN's ramp between 1 and 4 turns per
    original context, without YaRN's temperature; Hugging Face's rope_type llama3 with its default factors."""
    return yarn_rope_scaling(inv_freq, factor, original_length, alpha=low, beta=high)[0], 1.0


@register("position", "rope")
class RotaryPositions(Positions):
    """Rotary position embedding: rotate q and k by position-dependent angles
    (Su et al. 2021, RoFormer, arXiv:2104.09864); ``model.rope_theta``, ``model.rope_scaling``."""

    rotates = True
    cos, sin = buffers("cos", "sin")

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        head_dim = cfg.d_model // cfg.n_head
        inv_freq = cfg.rope_theta ** -(torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        original = cfg.rope_original_block_size or max(1, round(cfg.block_size / cfg.rope_scaling_factor))
        scaling = lookup("rope_scaling", cfg.rope_scaling, key="model.rope_scaling").target
        inv_freq, mscale = scaling(inv_freq, cfg.rope_scaling_factor, original)
        angles = torch.outer(torch.arange(cfg.block_size, dtype=torch.float32), inv_freq)
        cos, sin = angles.cos() * mscale, angles.sin() * mscale
        # full-width tables: x * cos + swap_halves(x) * (-sin, sin) turns each (x1, x2) pair in one pass
        self.register_buffer("cos", torch.cat([cos, cos], dim=-1), persistent=False)
        self.register_buffer("sin", torch.cat([-sin, sin], dim=-1), persistent=False)

    def rotate(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        # the two halves form the (real, imaginary) pairs, as in GPT-NeoX: (x1, x2) -> (x1 cos - x2 sin, x1 sin + x2 cos)
        seq = x.size(-2)
        cos, sin = self.cos.narrow(0, start, seq), self.sin.narrow(0, start, seq)
        if cos.dtype != x.dtype:
            cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        return torch.addcmul(x * cos, x.roll(x.size(-1) // 2, -1), sin)  # roll by half a head: (x1, x2) -> (x2, x1)


# ---------------------------------------------------------------------------------- ALiBi


def alibi_slopes(n_head: int) -> torch.Tensor:
    """The head-specific slopes of ALiBi: a geometric sequence, interleaved when n_head is no power of 2."""
    closest = 2 ** math.floor(math.log2(n_head))
    base = [2 ** (-8 * (i + 1) / closest) for i in range(closest)]
    extra = [2 ** (-4 * (2 * i + 1) / closest) for i in range(n_head - closest)]
    return torch.tensor(base + extra)


@register("position", "alibi")
class AlibiPositions(Positions):
    """ALiBi: no position embedding, a per-head linear penalty -m (i - j) on the attention logits
    (Press et al. 2022, "Train Short, Test Long", arXiv:2108.12409)."""

    kernel_features = frozenset({"alibi"})

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self.register_buffer("slopes", alibi_slopes(cfg.n_head), persistent=False)

    def kernel_args(self) -> dict[str, torch.Tensor]:
        return {"alibi": self.slopes}
