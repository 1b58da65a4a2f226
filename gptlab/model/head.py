"""The language-model head: hidden states -> logits, and the training loss with its auxiliary terms."""

from __future__ import annotations

import torch
from torch import nn

from gptlab.model.output import IGNORE_INDEX, ModelOutput, next_token_loss


class LMHead(nn.Linear):
    """Linear to the vocabulary, with an optional final-logit softcap cap * tanh(logits / cap)
    (Gemma 2, arXiv:2408.00118) and z-loss coef * log(Z)^2 that keeps the softmax normalizer near 1
    (PaLM, Chowdhery et al. 2022, arXiv:2204.02311)."""

    def __init__(self, dim: int, vocab_size: int, softcap: float = 0.0, z_loss: float = 0.0):
        super().__init__(dim, vocab_size, bias=False)
        self.softcap, self.z_loss = softcap, z_loss

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None) -> ModelOutput:
        return self.output(super().forward(x), targets)

    def output(self, logits: torch.Tensor, targets: torch.Tensor | None = None) -> ModelOutput:
        """The softcapped logits and, with ``targets``, the loss (a LoRA adapter adds its update before this)."""
        if self.softcap > 0:
            logits = self.softcap * torch.tanh(logits / self.softcap)
        if targets is None:
            return ModelOutput(logits)
        lm_loss = next_token_loss(logits, targets)
        if self.z_loss == 0:
            return ModelOutput(logits, lm_loss)
        kept = targets != IGNORE_INDEX
        z_loss = logits.float().logsumexp(-1)[kept].square().mean()
        loss = lm_loss + self.z_loss * z_loss
        return ModelOutput(logits, loss, {"lm_loss": lm_loss.detach(), "z_loss": z_loss.detach()})
