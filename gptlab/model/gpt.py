"""The GPT: token embedding -> positions -> pre-norm blocks -> final norm -> tied head.

Radford et al. 2019 ("Language Models are Unsupervised Multitask Learners"), as in nanoGPT.
The building blocks (norm, positions, attention kernel, MLP) are registered parts named by
string fields of :class:`GPTConfig`; this file only wires them together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from gptlab.errors import ConfigError
from gptlab.model.attention import CausalSelfAttention
from gptlab.registry import build_part, lookup, register


@dataclass
class GPTConfig:
    name: str = "gpt"
    n_layer: int = 2
    n_head: int = 3
    d_model: int = 96
    block_size: int = 128
    mlp_ratio: float = 4.0
    dropout: float = 0.0
    bias: bool = True
    tie_embeddings: bool = True
    norm: str = "layernorm"
    pos: str = "learned"
    attention: str = "sdpa"
    mlp: str = "gelu"
    init_std: float = 0.02

    def __post_init__(self) -> None:
        for key in ("n_layer", "n_head", "d_model", "block_size"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"model.{key}={getattr(self, key)} must be a positive integer.")
        if self.d_model % self.n_head:
            valid = [h for h in range(1, min(self.d_model, 64) + 1) if self.d_model % h == 0]
            raise ConfigError(
                f"model.d_model={self.d_model} is not divisible by model.n_head={self.n_head}. "
                f"With d_model={self.d_model}, n_head can be one of {valid}; or pick d_model as a multiple "
                f"of {self.n_head} (e.g. {self.n_head * max(1, round(self.d_model / self.n_head))})."
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout={self.dropout} must lie in [0, 1).")
        if self.mlp_ratio <= 0:
            raise ConfigError(f"model.mlp_ratio={self.mlp_ratio} must be > 0.")
        for kind, key in (("norm", "norm"), ("position", "pos"), ("attention", "attention"), ("mlp", "mlp")):
            lookup(kind, getattr(self, key), key=f"model.{key}")


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.attn_norm = build_part("norm", cfg.norm, cfg.d_model, bias=cfg.bias)
        kernel = lookup("attention", cfg.attention).target
        self.attn = CausalSelfAttention(cfg.d_model, cfg.n_head, kernel, bias=cfg.bias, dropout=cfg.dropout)
        self.mlp_norm = build_part("norm", cfg.norm, cfg.d_model, bias=cfg.bias)
        hidden = int(cfg.mlp_ratio * cfg.d_model)
        self.mlp = build_part("mlp", cfg.mlp, cfg.d_model, hidden, bias=cfg.bias, dropout=cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x))
        return x + self.mlp(self.mlp_norm(x))


@register("model", "gpt", GPTConfig)
class GPT(nn.Module):
    """Decoder-only transformer language model (GPT-2 layout, pre-norm, tied head by default)."""

    def __init__(self, cfg: GPTConfig, vocab_size: int):
        super().__init__()
        self.cfg = cfg
        self.block_size = cfg.block_size
        self.token_embedding = nn.Embedding(vocab_size, cfg.d_model)
        self.positions = build_part("position", cfg.pos, cfg.block_size, cfg.d_model)
        self.dropout = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.final_norm = build_part("norm", cfg.norm, cfg.d_model, bias=cfg.bias)
        self.head = nn.Linear(cfg.d_model, vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.head.weight = self.token_embedding.weight
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        """normal(0, init_std); residual projections scaled by 1/sqrt(2 n_layer) (GPT-2)."""
        std = self.cfg.init_std
        if isinstance(module, nn.Linear):
            if getattr(module, "is_residual_projection", False):
                std = std / math.sqrt(2 * self.cfg.n_layer)
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch, seq, vocab) for token ids of shape (batch, seq)."""
        x = self.dropout(self.positions(self.token_embedding(idx)))
        for block in self.blocks:
            x = block(x)
        return self.head(self.final_norm(x))

    def num_parameters(self, non_embedding: bool = False) -> int:
        """Unique parameters; ``non_embedding`` leaves out token and position embeddings."""
        total = sum(p.numel() for p in self.parameters())
        if non_embedding:
            total -= sum(m.weight.numel() for m in self.modules() if isinstance(m, nn.Embedding))
        return total
