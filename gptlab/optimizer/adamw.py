"""AdamW (Kingma & Ba 2015, arXiv:1412.6980; decoupled decay: Loshchilov & Hutter 2019, arXiv:1711.05101).

With the plain decay options the step is torch's own AdamW, fused where torch offers a fused
kernel for the parameters' device; cautious or rescaled decay use gptlab's implementation.
"""

from __future__ import annotations

import torch
from torch import nn

from gptlab.optimizer.base import DecoupledOptimizer, role_groups
from gptlab.optimizer.config import AdamWConfig
from gptlab.registry import register

FUSED_DEVICES = ("cuda", "cpu", "mps", "xpu")


def adam_update(grad: torch.Tensor, state: dict, betas: tuple[float, float], eps: float) -> torch.Tensor:
    """Adam's bias-corrected m / (sqrt(v) + eps); keeps ``step``, ``exp_avg``, ``exp_avg_sq`` in ``state``."""
    if not state:
        state.update(step=0, exp_avg=torch.zeros_like(grad), exp_avg_sq=torch.zeros_like(grad))
    state["step"] += 1
    beta1, beta2 = betas
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg.lerp_(grad, 1.0 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
    denom = (exp_avg_sq / (1.0 - beta2 ** state["step"])).sqrt_().add_(eps)
    return exp_avg / (1.0 - beta1 ** state["step"]) / denom


class AdamW(DecoupledOptimizer):
    """AdamW with gptlab's decay options (cautious, schedule-scaled)."""

    def update(self, param, grad, state, group):
        return adam_update(grad, state, group["betas"], group["eps"])


@register("optimizer", "adamw", AdamWConfig)
def build_adamw(cfg: AdamWConfig, model: nn.Module) -> torch.optim.Optimizer:
    """AdamW over role groups: decay on matrices and an untied head, not on vectors and embeddings by default."""
    groups = role_groups(model, cfg)
    if cfg.cautious_weight_decay or cfg.weight_decay_scaling != "lr":
        return AdamW(groups, cfg, betas=tuple(cfg.betas), eps=cfg.eps)
    fused = cfg.fused
    if fused is None:
        fused = all(p.device.type in FUSED_DEVICES for group in groups for p in group["params"])
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, fused=fused)
