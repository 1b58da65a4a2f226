"""Mixture of experts in place of the MLP (``model.moe_experts`` > 0, on ``model.moe_layers``).

A router sends each token to its top-k experts (Shazeer et al. 2017, arXiv:1701.06538), each an
MLP of kind ``model.mlp``; optional shared experts see every token (DeepSeekMoE, Dai et al. 2024,
arXiv:2401.06066). During training an expert takes at most capacity_factor * tokens * k / experts
tokens, first come first served in token order, so a token never depends on later ones (Switch
Transformer, Fedus et al. 2021, arXiv:2101.03961); the dropped fraction is reported. Balancing:
the Switch load-balancing loss, the router z-loss (ST-MoE, Zoph et al. 2022, arXiv:2202.08906),
and the auxiliary-loss-free bias of DeepSeek-V3 (arXiv:2412.19437), which nudges each expert's
routing bias towards equal load after every training step.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gptlab.model.output import ModelOutput
from gptlab.registry import build_part, lookup


class MixtureOfExperts(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.top_k, self.capacity_factor = cfg.moe_top_k, cfg.moe_capacity_factor
        self.aux_weight, self.z_weight, self.bias_rate = cfg.moe_aux_loss, cfg.moe_router_z_loss, cfg.moe_bias_balancing
        hidden = cfg.moe_expert_hidden or cfg.mlp_width

        def expert() -> nn.Module:
            return build_part("mlp", cfg.mlp, cfg.d_model, hidden, bias=cfg.bias, dropout=cfg.dropout)

        self.router = nn.Linear(cfg.d_model, cfg.moe_experts, bias=False)
        self.experts = nn.ModuleList(expert() for _ in range(cfg.moe_experts))
        self.shared = nn.ModuleList(expert() for _ in range(cfg.moe_shared_experts))
        self.register_buffer("balance_bias", torch.zeros(cfg.moe_experts))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The experts' output for ``x``, and the routing statistics: ``loss`` (the weighted auxiliary
        losses) plus the parts and per-expert loads to log."""
        tokens = x.reshape(-1, x.size(-1))
        logits = self.router(tokens).float()
        probs = logits.softmax(-1)
        chosen = (probs + self.balance_bias).topk(self.top_k, dim=-1).indices  # the bias picks, never weighs
        gates = probs.gather(-1, chosen)
        gates = (gates / gates.sum(-1, keepdim=True)).to(x.dtype)
        out = sum((shared(tokens) for shared in self.shared), torch.zeros_like(tokens))
        n_experts = len(self.experts)
        capacity = math.ceil(self.capacity_factor * tokens.size(0) * self.top_k / n_experts)
        limit = capacity if self.training and self.capacity_factor > 0 else tokens.size(0) * self.top_k
        load = torch.zeros(n_experts, device=x.device)
        kept = 0
        for e, expert in enumerate(self.experts):
            token_idx, slot = (chosen == e).nonzero(as_tuple=True)  # in token order: first come, first served
            token_idx, slot = token_idx[:limit], slot[:limit]
            load[e] = token_idx.numel()
            kept += token_idx.numel()
            if token_idx.numel():
                out = out.index_add(0, token_idx, expert(tokens[token_idx]) * gates[token_idx, slot, None])
        return out.view_as(x), self._statistics(logits, probs, chosen, load, kept)

    def _statistics(self, logits, probs, chosen, load, kept) -> dict[str, torch.Tensor]:
        n_experts, assignments = probs.size(-1), chosen.numel()
        routed = torch.zeros(n_experts, device=probs.device).index_add_(
            0, chosen.flatten(), torch.ones(assignments, device=probs.device)
        )
        balance = n_experts * ((routed / assignments) * probs.mean(0)).sum()  # Switch: 1 when balanced
        z = logits.logsumexp(-1).square().mean()
        stats = {
            "loss": self.aux_weight * balance + self.z_weight * z,
            "moe_balance_loss": balance.detach(),
            "moe_router_z_loss": z.detach(),
            "moe_dropped_fraction": torch.tensor(1.0 - kept / assignments),
            **{f"moe_load_{e}": (load[e] / max(1, kept)).detach() for e in range(n_experts)},
        }
        if self.training and self.bias_rate > 0:
            with torch.no_grad():
                self.balance_bias += self.bias_rate * torch.sign(routed.mean() - routed)
        return stats

    @staticmethod
    def param_count(cfg) -> int:
        hidden = cfg.moe_expert_hidden or cfg.mlp_width
        mlp = lookup("mlp", cfg.mlp).target.param_count(cfg.d_model, hidden, cfg.bias)
        return cfg.d_model * cfg.moe_experts + (cfg.moe_experts + cfg.moe_shared_experts) * mlp

    @staticmethod
    def active_matmul_weights(cfg) -> int:
        hidden = cfg.moe_expert_hidden or cfg.mlp_width
        mlp = lookup("mlp", cfg.mlp).target.matrices * cfg.d_model * hidden
        return cfg.d_model * cfg.moe_experts + (cfg.moe_top_k + cfg.moe_shared_experts) * mlp


def add_moe_losses(layer_stats: list[dict[str, torch.Tensor]], out: ModelOutput) -> ModelOutput:
    """Add the MoE layers' auxiliary losses to ``out.loss`` and their statistics, averaged over layers, to the metrics."""
    if out.loss is None or not layer_stats:
        return out
    loss = out.loss + sum(stats["loss"] for stats in layer_stats)
    metrics = {"lm_loss": out.loss.detach(), **out.metrics}
    for key in layer_stats[0]:
        if key != "loss":
            metrics[key] = sum(stats[key] for stats in layer_stats) / len(layer_stats)
    return ModelOutput(out.logits, loss, metrics)
