"""SGD with heavy-ball or Nesterov momentum (Polyak 1964; Sutskever et al. 2013, ICML)."""

from __future__ import annotations

import torch
from torch import nn

from gptlab.optimizer.base import DecoupledOptimizer, role_groups
from gptlab.optimizer.config import SGDConfig
from gptlab.registry import register


def momentum_update(grad: torch.Tensor, state: dict, momentum: float, nesterov: bool) -> torch.Tensor:
    """buf <- momentum * buf + grad; the step is buf, or grad + momentum * buf with Nesterov."""
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = torch.zeros_like(grad)
    buf = state["momentum_buffer"].mul_(momentum).add_(grad)
    return grad + momentum * buf if nesterov else buf.clone()


class SGD(DecoupledOptimizer):
    def update(self, param, grad, state, group):
        return momentum_update(grad, state, group["momentum"], group["nesterov"])


@register("optimizer", "sgd", SGDConfig)
def build_sgd(cfg: SGDConfig, model: nn.Module) -> SGD:
    """SGD with momentum over role groups, with decoupled weight decay."""
    return SGD(role_groups(model, cfg), cfg, momentum=cfg.momentum, nesterov=cfg.nesterov)
