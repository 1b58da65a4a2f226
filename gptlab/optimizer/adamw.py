"""AdamW with parameter groups (Loshchilov & Hutter 2019, arXiv:1711.05101)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import nn

from gptlab.errors import ConfigError
from gptlab.registry import register


@dataclass
class AdamWConfig:
    name: str = "adamw"
    lr: float = 1e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    eps: float = 1e-8
    weight_decay: float = 0.1
    decay_norms_and_biases: bool = False
    decay_embeddings: bool = False
    fused: Optional[bool] = None  # None: torch's choice

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ConfigError(f"optimizer.lr={self.lr} must be > 0 (typical for small GPTs: 1e-4 to 3e-3).")
        if self.weight_decay < 0:
            raise ConfigError(f"optimizer.weight_decay={self.weight_decay} must be >= 0.")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"optimizer.betas={list(self.betas)} must be two numbers in [0, 1), e.g. [0.9, 0.95].")
        if self.eps <= 0:
            raise ConfigError(f"optimizer.eps={self.eps} must be > 0.")


def decay_groups(model: nn.Module, decay_norms_and_biases: bool, decay_embeddings: bool) -> tuple[list, list]:
    """Split parameters into (decayed, not decayed): by default matrices decay, the rest does not.

    Norm weights and biases are the parameters with fewer than two dimensions; embeddings are
    the weights of ``nn.Embedding`` modules (a tied head shares the token embedding's weight).
    """
    embedding_ids = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    decay, no_decay, seen = [], [], set()
    for param in model.parameters():
        if not param.requires_grad or id(param) in seen:
            continue
        seen.add(id(param))
        if param.dim() < 2:
            (decay if decay_norms_and_biases else no_decay).append(param)
        elif id(param) in embedding_ids:
            (decay if decay_embeddings else no_decay).append(param)
        else:
            decay.append(param)
    return decay, no_decay


@register("optimizer", "adamw", AdamWConfig)
def build_adamw(cfg: AdamWConfig, model: nn.Module) -> torch.optim.AdamW:
    """AdamW; weight decay only on the parameter groups the config selects."""
    decay, no_decay = decay_groups(model, cfg.decay_norms_and_biases, cfg.decay_embeddings)
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(
        [g for g in groups if g["params"]], lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, fused=cfg.fused
    )
