"""What every gptlab optimizer shares: its parameter groups and its step (the shared config fields: config.py).

The step is ``p <- p - lr * update`` after decoupled weight decay (Loshchilov & Hutter 2019,
arXiv:1711.05101). Each optimizer only says how a gradient becomes an ``update``. Decay options:

- ``cautious_weight_decay``: decay only the coordinates where the update already moves the weight
  towards zero (Chen et al. 2025, "Cautious Weight Decay", arXiv:2510.12402).
- ``weight_decay_scaling``: the decay per step is ``wd * lr_t`` (``lr``: torch's AdamW), or
  ``wd * lr_t / lr_peak`` (``schedule``: follows the schedule but not the lr's size, the
  "independent" decay of Wortsman et al. 2023, arXiv:2309.14322), or ``wd * lr_peak``
  (``constant``).
"""

from __future__ import annotations

import torch
from torch import nn

from gptlab.optimizer.config import OptimizerConfig
from gptlab.optimizer.groups import parameter_roles


def role_groups(model: nn.Module, cfg: OptimizerConfig) -> list[dict]:
    """One parameter group per non-empty role, with the role's lr and weight decay."""
    return [
        {
            "params": params,
            "role": role,
            "lr": cfg.role_lr(role),
            "weight_decay": cfg.weight_decay if cfg.decays(role) else 0.0,
        }
        for role, params in parameter_roles(model).items()
        if params
    ]


def decay_rate(group: dict) -> float:
    """The fraction of the weight removed this step, per ``weight_decay_scaling``."""
    scale = {
        "lr": group["lr"],
        "schedule": group["lr"] / group["base_lr"] if group["base_lr"] else 0.0,
        "constant": group["base_lr"],
    }[group["weight_decay_scaling"]]
    return scale * group["weight_decay"]


class DecoupledOptimizer(torch.optim.Optimizer):
    """Base class: subclasses implement :meth:`update` (gradient -> step direction)."""

    def __init__(self, groups: list[dict], cfg: OptimizerConfig, **defaults):
        super().__init__(
            groups,
            dict(
                lr=cfg.lr,
                weight_decay=0.0,
                cautious_weight_decay=cfg.cautious_weight_decay,
                weight_decay_scaling=cfg.weight_decay_scaling,
                **defaults,
            ),
        )
        for group in self.param_groups:
            group.setdefault("base_lr", group["lr"])

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: dict, group: dict) -> torch.Tensor:
        raise NotImplementedError

    def group_updates(self, params: list[torch.Tensor], group: dict) -> list[torch.Tensor]:
        """The updates of a group's parameters (one :meth:`update` each; override to batch them)."""
        return [self.update(param, param.grad, self.state[param], group) for param in params]

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            rate = decay_rate(group)
            params = [param for param in group["params"] if param.grad is not None]
            for param, update in zip(params, self.group_updates(params, group)):
                if rate and group["cautious_weight_decay"]:
                    param.sub_(param * (update * param >= 0) * rate)
                elif rate:
                    param.mul_(1.0 - rate)
                param.add_(update, alpha=-group["lr"])
        return loss
