"""Muon: momentum, then the nearest semi-orthogonal matrix by a Newton-Schulz iteration
(Jordan et al. 2024, "Muon: An optimizer for hidden layers in neural networks",
kellerjordan.github.io/posts/muon). Only hidden 2-D weights use it; the rest uses Adam."""

from __future__ import annotations

import torch
from torch import nn

from gptlab.optimizer.config import MuonConfig
from gptlab.optimizer.hybrid import HybridOptimizer
from gptlab.optimizer.sgd import momentum_update
from gptlab.registry import register

# The quintic's coefficients from Jordan et al. 2024: they push every singular value into
# roughly [0.7, 1.2] in five steps, which trains as well as an exact orthogonalization.
NEWTON_SCHULZ_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def newton_schulz(matrix: torch.Tensor, steps: int) -> torch.Tensor:
    """Approximately U V^T for matrix = U S V^T: X <- aX + b(XX^T)X + c(XX^T)^2 X from X = M / |M|_F."""
    a, b, c = NEWTON_SCHULZ_COEFFICIENTS
    x = matrix.bfloat16() if matrix.is_cuda else matrix.float()
    tall = x.size(-2) > x.size(-1)
    if tall:
        x = x.mT
    x = x / (x.norm(dim=(-2, -1), keepdim=True) + 1e-7)
    for _ in range(steps):
        gram = x @ x.mT
        x = a * x + (b * gram + c * gram @ gram) @ x
    return (x.mT if tall else x).to(matrix.dtype)


def update_scale(shape: torch.Size, kind: str) -> float:
    rows, cols = shape[-2], shape[-1]
    return max(1.0, rows / cols) ** 0.5 if kind == "shape" else 0.2 * max(rows, cols) ** 0.5


class Muon(HybridOptimizer):
    """Hidden matrices are updated together in :meth:`group_updates`; the rest goes through Adam."""

    def momentum(self, grad: torch.Tensor, state: dict, group: dict) -> torch.Tensor:
        return momentum_update(grad, state, group["momentum"], group["nesterov"])

    def orthogonalized(self, directions: list[torch.Tensor], group: dict) -> list[torch.Tensor]:
        """Newton-Schulz on each direction, batched over directions of one shape (fewer, larger matmuls)."""
        by_shape: dict[torch.Size, list[int]] = {}
        for i, direction in enumerate(directions):
            by_shape.setdefault(direction.shape, []).append(i)
        updates: list[torch.Tensor] = [torch.empty(0)] * len(directions)
        for shape, indices in by_shape.items():
            stacked = torch.stack([directions[i].flatten(1) if len(shape) > 2 else directions[i] for i in indices])
            orthogonal = newton_schulz(stacked, group["ns_steps"]) * update_scale(stacked.shape, group["update_scale"])
            for i, matrix in zip(indices, orthogonal):
                updates[i] = matrix.view(shape)
        return updates

    def group_updates(self, params, group):
        if group["role"] != "matrix":
            return super().group_updates(params, group)
        return self.orthogonalized([self.momentum(p.grad, self.state[p], group) for p in params], group)


@register("optimizer", "muon", MuonConfig)
def build_muon(cfg: MuonConfig, model: nn.Module) -> Muon:
    """Muon for hidden matrices, Adam (own lrs) for embeddings, head and vectors."""
    return Muon(
        model,
        cfg,
        momentum=cfg.momentum,
        nesterov=cfg.nesterov,
        ns_steps=cfg.ns_steps,
        update_scale=cfg.update_scale,
    )
