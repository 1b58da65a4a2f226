"""The first rung of the learning ladder: a bigram model, the next token from the current one only."""

from __future__ import annotations

import torch
from torch import nn

from gptlab.model.config import BigramConfig
from gptlab.model.output import ModelOutput, next_token_loss
from gptlab.registry import register


@register("model", "bigram", BigramConfig)
class Bigram(nn.Module):
    """A table of next-token logits per token (a Markov chain of order 1; Shannon 1948)."""

    def __init__(self, cfg: BigramConfig, vocab_size: int):
        super().__init__()
        self.cfg, self.block_size = cfg, cfg.block_size
        self.table = nn.Embedding(vocab_size, vocab_size)
        nn.init.zeros_(self.table.weight)  # starts uniform: loss ln(vocab)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, doc_ids=None) -> ModelOutput:
        """Next-token logits from the current token alone (documents cannot leak: ``doc_ids`` is ignored)."""
        logits = self.table(idx)
        return ModelOutput(logits, None if targets is None else next_token_loss(logits, targets))

    def num_parameters(self, non_embedding: bool = False) -> int:
        return 0 if non_embedding else self.table.weight.numel()

    def flops_per_token(self) -> int:
        """A table lookup multiplies nothing."""
        return 0

    def activation_elements(self, batch_size: int) -> int:
        return batch_size * self.block_size * self.table.num_embeddings
