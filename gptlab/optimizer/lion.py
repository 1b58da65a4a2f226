"""Lion: the sign of an interpolated momentum (Chen et al. 2023, "Symbolic Discovery of
Optimization Algorithms", arXiv:2302.06675). Its updates are +-1, so it wants a 3-10x smaller lr
and a larger weight decay than AdamW."""

from __future__ import annotations

import torch
from torch import nn

from gptlab.optimizer.base import DecoupledOptimizer, role_groups
from gptlab.optimizer.config import LionConfig
from gptlab.registry import register


def lion_update(grad: torch.Tensor, state: dict, betas: tuple[float, float]) -> torch.Tensor:
    """sign(beta1 * m + (1 - beta1) * g), then m <- beta2 * m + (1 - beta2) * g."""
    if "exp_avg" not in state:
        state["exp_avg"] = torch.zeros_like(grad)
    beta1, beta2 = betas
    exp_avg = state["exp_avg"]
    update = exp_avg.lerp(grad, 1.0 - beta1).sign_()
    exp_avg.lerp_(grad, 1.0 - beta2)
    return update


class Lion(DecoupledOptimizer):
    def update(self, param, grad, state, group):
        return lion_update(grad, state, group["betas"])


@register("optimizer", "lion", LionConfig)
def build_lion(cfg: LionConfig, model: nn.Module) -> Lion:
    """Lion over role groups, with decoupled weight decay."""
    return Lion(role_groups(model, cfg), cfg, betas=tuple(cfg.betas))
