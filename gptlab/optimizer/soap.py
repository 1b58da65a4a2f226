"""SOAP: Adam in the eigenbasis of Shampoo's preconditioner (Vyas et al. 2024, "SOAP: Improving
and Stabilizing Shampoo using Adam", arXiv:2409.11321). Hidden matrices only; the rest uses Adam.

For a gradient G (m x n) it keeps Shampoo's factors L ~ E[G G^T] and R ~ E[G^T G], refreshes
their eigenvectors Q_L, Q_R every ``precondition_frequency`` steps (here with an exact
``eigh``), and runs Adam on the rotated gradient Q_L^T G Q_R. The first moment is kept in the
original basis, the second in the rotated one; a basis refresh does not rotate the second moment.
"""

from __future__ import annotations

import torch
from torch import nn

from gptlab.optimizer.config import SOAPConfig
from gptlab.optimizer.hybrid import HybridOptimizer
from gptlab.registry import register


def eigenbasis(factor: torch.Tensor) -> torch.Tensor:
    """Eigenvectors of a symmetric PSD factor, by descending eigenvalue (at least float32 for eigh)."""
    _, vectors = torch.linalg.eigh(factor.float() if factor.element_size() < 4 else factor)
    return vectors.flip(-1).to(factor.dtype)


class SOAP(HybridOptimizer):
    def matrix_update(self, grad, state, group):
        shape = grad.shape
        grad = grad.flatten(1) if grad.dim() > 2 else grad
        beta1, beta2 = group["betas"]
        if not state:
            rows, cols = grad.shape
            state.update(
                step=0,
                exp_avg=torch.zeros_like(grad),
                exp_avg_sq=torch.zeros_like(grad),
                left=grad.new_zeros(rows, rows),
                right=grad.new_zeros(cols, cols),
            )
        state["left"].lerp_(grad @ grad.T, 1.0 - group["shampoo_beta"])
        state["right"].lerp_(grad.T @ grad, 1.0 - group["shampoo_beta"])
        if state["step"] % group["precondition_frequency"] == 0:
            state["q_left"], state["q_right"] = eigenbasis(state["left"]), eigenbasis(state["right"])
        state["step"] += 1
        step, q_left, q_right = state["step"], state["q_left"], state["q_right"]
        state["exp_avg"].lerp_(grad, 1.0 - beta1)
        rotated = q_left.T @ grad @ q_right
        state["exp_avg_sq"].mul_(beta2).addcmul_(rotated, rotated, value=1.0 - beta2)
        rotated_avg = q_left.T @ state["exp_avg"] @ q_right / (1.0 - beta1**step)
        denom = (state["exp_avg_sq"] / (1.0 - beta2**step)).sqrt_().add_(group["eps"])
        return (q_left @ (rotated_avg / denom) @ q_right.T).view(shape)


@register("optimizer", "soap", SOAPConfig)
def build_soap(cfg: SOAPConfig, model: nn.Module) -> SOAP:
    """SOAP for hidden matrices, Adam (own lrs) for embeddings, head and vectors."""
    return SOAP(
        model,
        cfg,
        betas=tuple(cfg.betas),
        eps=cfg.eps,
        shampoo_beta=cfg.shampoo_beta,
        precondition_frequency=cfg.precondition_frequency,
    )
