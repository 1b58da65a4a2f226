"""Absolute positional encodings added to the token embeddings (registry kind ``position``)."""

import torch
from torch import nn

from gptlab.registry import register


@register("position", "learned")
class LearnedPositions(nn.Module):
    """A learned vector per position, added to the input (GPT-2, Radford et al. 2019)."""

    def __init__(self, block_size: int, dim: int):
        super().__init__()
        self.embedding = nn.Embedding(block_size, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(x.size(1), device=x.device)
        return x + self.embedding(positions)
