"""SGD with heavy-ball or Nesterov momentum (Polyak 1964; Sutskever et al. 2013, ICML)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gptlab.errors import ConfigError
from gptlab.optimizer.base import DecoupledOptimizer, OptimizerConfig, role_groups
from gptlab.registry import register


@dataclass
class SGDConfig(OptimizerConfig):
    name: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.momentum < 1.0:
            raise ConfigError(f"optimizer.momentum={self.momentum} must lie in [0, 1).")


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
