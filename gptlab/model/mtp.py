"""Multi-token prediction: extra heads that predict tokens 2, 3, ... ahead during training
(Gloeckle et al. 2024, "Better & Faster Large Language Models via Multi-token Prediction",
arXiv:2404.19737): head k is one more transformer block on the trunk's output, followed by the
model's own final norm and (shared) unembedding, trained on the targets shifted by k. The logits
the model returns, and so sampling and validation, come from the next-token head alone.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from gptlab.model.output import IGNORE_INDEX, ModelOutput


class MultiTokenHeads(nn.Module):
    """Adds ``weight_k * loss_k`` of every extra head to the training loss; no heads: a no-op."""

    def __init__(self, blocks: list[nn.Module], weights: list[float]):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.weights = list(weights)

    def forward(
        self,
        trunk: torch.Tensor,
        targets: torch.Tensor | None,
        out: ModelOutput,
        final_norm: nn.Module,
        head: nn.Module,
    ) -> ModelOutput:
        if targets is None or not self.blocks:
            return out
        loss, metrics = out.loss, {"lm_loss": out.loss.detach(), **out.metrics}
        for k, (block, weight) in enumerate(zip(self.blocks, self.weights), start=1):
            ahead = F.pad(targets[:, k:], (0, k), value=IGNORE_INDEX)  # position t predicts token t + 1 + k
            extra = head(final_norm(block(trunk)[0]), ahead).loss
            loss = loss + weight * extra
            metrics[f"mtp_loss_{k}"] = extra.detach()
        return ModelOutput(out.logits, loss, metrics)
