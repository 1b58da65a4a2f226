"""The language-model head: hidden states -> logits, and the training loss with its auxiliary terms."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from gptlab.model.float8_head import fits_float8, float8_linear_cross_entropy
from gptlab.model.output import IGNORE_INDEX, ModelOutput, next_token_loss, reduce_losses


class LMHead(nn.Linear):
    """Linear to the vocabulary, with an optional final-logit softcap cap * tanh(logits / cap)
    (Gemma 2, arXiv:2408.00118) and z-loss coef * log(Z)^2 that keeps the softmax normalizer near 1
    (PaLM, Chowdhery et al. 2022, arXiv:2204.02311).

    With ``chunk_tokens`` > 0 the training loss is computed over chunks of that many tokens, each
    chunk's logits recomputed in the backward pass (a chunked linear + cross-entropy, as in Liger
    Kernel's fused linear cross-entropy, Hsu et al. 2024, arXiv:2410.10989): the full (tokens x vocab)
    logits tensor never exists, at the price of one more head matmul; the output then has no logits.
    """

    def __init__(
        self,
        dim: int,
        vocab_size: int,
        softcap: float = 0.0,
        z_loss: float = 0.0,
        chunk_tokens: int = 0,
        loss_kernel: str = "auto",
    ):
        super().__init__(dim, vocab_size, bias=False)
        self.softcap, self.z_loss, self.chunk_tokens, self.loss_kernel = softcap, z_loss, chunk_tokens, loss_kernel

    float8_loss = False  # set by float8 training (gptlab/distributed/fp8.py) where the fused float8 head applies

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """x @ W^T (float8 training replaces this on the instance)."""
        return F.linear(x, self.weight)

    def capped(self, logits: torch.Tensor) -> torch.Tensor:
        return self.softcap * torch.tanh(logits / self.softcap) if self.softcap > 0 else logits

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None) -> ModelOutput:
        if targets is not None and self.chunk_tokens:
            return self.chunked_loss(x, targets)
        if targets is not None and self.float8_loss and fits_float8(x, self.weight):
            logits, losses = float8_linear_cross_entropy(x, self.weight, targets)
            return ModelOutput(logits, reduce_losses(losses, targets))
        return self.output(self.project(x), targets)

    def output(self, logits: torch.Tensor, targets: torch.Tensor | None = None) -> ModelOutput:
        """The softcapped logits and, with ``targets``, the loss (a LoRA adapter adds its update before this).

        With ``targets`` the logits come back detached: the loss is what trains, and logits that still
        needed a gradient would make a compiled backward build an all-zero gradient for them (a
        tokens x vocab tensor, 6.6 GB at 64 x 1024 tokens) and add it to the loss's gradient."""
        logits = self.capped(logits)
        if targets is None:
            return ModelOutput(logits)
        lm_loss = next_token_loss(logits, targets, kernel=self.loss_kernel)
        if self.z_loss == 0:
            return ModelOutput(logits.detach(), lm_loss)
        kept = targets != IGNORE_INDEX
        z_loss = logits.float().logsumexp(-1)[kept].square().mean()
        loss = lm_loss + self.z_loss * z_loss
        return ModelOutput(logits.detach(), loss, {"lm_loss": lm_loss.detach(), "z_loss": z_loss.detach()})

    def _chunk_sums(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """(summed cross-entropy, summed squared log-normalizer) of one chunk of tokens."""
        logits = self.capped(self.project(x)).float()
        nll = F.cross_entropy(logits, targets, ignore_index=IGNORE_INDEX, reduction="sum")
        if self.z_loss == 0:
            return torch.stack([nll, torch.zeros_like(nll)])
        log_z = logits.logsumexp(-1)[targets != IGNORE_INDEX]
        return torch.stack([nll, log_z.square().sum()])

    def chunked_loss(self, x: torch.Tensor, targets: torch.Tensor) -> ModelOutput:
        x, targets = x.flatten(0, -2), targets.flatten()
        sums = sum(
            checkpoint(self._chunk_sums, xs, ts, use_reentrant=False)
            for xs, ts in zip(x.split(self.chunk_tokens), targets.split(self.chunk_tokens))
        )
        count = (targets != IGNORE_INDEX).sum().clamp(min=1)
        lm_loss = sums[0] / count
        if self.z_loss == 0:
            return ModelOutput(None, lm_loss)
        z_loss = sums[1] / count
        return ModelOutput(
            None, lm_loss + self.z_loss * z_loss, {"lm_loss": lm_loss.detach(), "z_loss": z_loss.detach()}
        )
