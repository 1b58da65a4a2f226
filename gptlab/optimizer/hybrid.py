"""Optimizers that treat hidden matrices specially and use Adam for everything else.

Muon and SOAP precondition 2-D hidden weights; embeddings, an untied head and vectors (norm
gains, biases) keep Adam, each role with its own lr. The config names one lr per role.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from gptlab.errors import ConfigError
from gptlab.optimizer.adamw import adam_update
from gptlab.optimizer.base import DecoupledOptimizer, OptimizerConfig, check_betas, role_groups


@dataclass
class HybridConfig(OptimizerConfig):
    """``lr`` is the hidden matrices' lr; the other roles' Adam lrs are set apart."""

    embedding_lr: float = 1e-2
    head_lr: float = 4e-3
    vector_lr: float = 1e-2
    adam_betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    adam_eps: float = 1e-8

    def __post_init__(self) -> None:
        super().__post_init__()
        check_betas(self.adam_betas, "optimizer.adam_betas")
        for key in ("embedding_lr", "head_lr", "vector_lr"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"optimizer.{key}={getattr(self, key)} must be > 0.")

    def role_base_lr(self, role: str) -> float:
        return self.lr if role == "matrix" else getattr(self, f"{role}_lr")


class HybridOptimizer(DecoupledOptimizer):
    """Matrices get :meth:`matrix_update` (or a batched :meth:`group_updates`, as in Muon); the other roles get Adam."""

    def __init__(self, model: nn.Module, cfg: HybridConfig, **defaults):
        super().__init__(
            role_groups(model, cfg), cfg, adam_betas=tuple(cfg.adam_betas), adam_eps=cfg.adam_eps, **defaults
        )

    def matrix_update(self, grad: torch.Tensor, state: dict, group: dict) -> torch.Tensor:
        raise NotImplementedError

    def update(self, param, grad, state, group):
        if group["role"] == "matrix":
            return self.matrix_update(grad, state, group)
        return adam_update(grad, state, group["adam_betas"], group["adam_eps"])
