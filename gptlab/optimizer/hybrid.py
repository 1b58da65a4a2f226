"""Optimizers that treat hidden matrices specially and use Adam for everything else.

Muon and SOAP precondition 2-D hidden weights; embeddings, an untied head and vectors (norm
gains, biases) keep Adam, each role with its own lr. The config names one lr per role.
"""

from __future__ import annotations

import torch
from torch import nn

from gptlab.optimizer.adamw import adam_update
from gptlab.optimizer.base import DecoupledOptimizer, role_groups
from gptlab.optimizer.config import HybridConfig


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
