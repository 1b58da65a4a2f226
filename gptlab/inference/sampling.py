"""How the next token is picked from the logits: greedy, temperature, top-k, top-p, min-p, repetition penalty.

Temperature and top-k sampling: Fan et al. 2018 (arXiv:1805.04833); nucleus (top-p): Holtzman et al.
2020 (arXiv:1904.09751); min-p: Nguyen et al. 2024 (arXiv:2407.01082); the repetition penalty of
CTRL: Keskar et al. 2019 (arXiv:1909.05858). Each filter works on a (rows, vocab) float tensor in
place of a list of processor objects, so a decode step allocates little.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch

from gptlab.errors import GptlabError


@dataclass
class SamplingParams:
    """What one request asks of the generator. ``temperature=0`` is greedy decoding."""

    max_tokens: int = 128
    temperature: float = 1.0
    top_k: int = 0  # 0: the whole vocabulary
    top_p: float = 1.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0  # 1: off; > 1 discourages tokens already in the context
    n: int = 1  # samples of the same prompt, decoded together as one batch
    seed: Optional[int] = None
    stop: list[str] = field(default_factory=list)  # strings that end a sample (not included in its text)
    stop_at_eos: bool = True

    def __post_init__(self) -> None:
        checks = (
            (self.max_tokens >= 0, "max_tokens must be >= 0"),
            (self.temperature >= 0, "temperature must be >= 0 (0 is greedy)"),
            (self.top_k >= 0, "top_k must be >= 0 (0 keeps the whole vocabulary)"),
            (0 < self.top_p <= 1, "top_p must lie in (0, 1]"),
            (0 <= self.min_p < 1, "min_p must lie in [0, 1)"),
            (self.repetition_penalty > 0, "repetition_penalty must be > 0 (1 is off)"),
            (self.n >= 1, "n must be >= 1"),
        )
        problems = [message for ok, message in checks if not ok]
        if problems:
            raise GptlabError("Bad sampling parameters: " + "; ".join(problems) + ".")
        if isinstance(self.stop, str):
            self.stop = [self.stop]
        self.stop = [s for s in self.stop if s]

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def penalize_repeats(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL's penalty: a seen token's positive logit is divided by ``penalty``, a negative one multiplied."""
    if penalty == 1.0:
        return logits
    return torch.where(seen, torch.where(logits > 0, logits / penalty, logits * penalty), logits)


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0, min_p: float = 0.0) -> torch.Tensor:
    """``logits`` with the tokens that top-k, top-p and min-p rule out set to -inf (the best token always stays)."""
    if top_k and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if min_p > 0:
        probs = torch.softmax(logits, dim=-1)
        floor = min_p * probs.max(dim=-1, keepdim=True).values
        logits = logits.masked_fill(probs < floor, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        drop_sorted = cumulative - torch.softmax(sorted_logits, dim=-1) >= top_p  # mass before it already >= p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def next_tokens(
    logits: torch.Tensor,
    params: SamplingParams,
    seen: Optional[torch.Tensor] = None,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """One token id per row of ``logits`` (rows, vocab): (rows,) int64."""
    if logits.dtype != torch.float32:
        logits = logits.float()
    if seen is not None:
        logits = penalize_repeats(logits, seen, params.repetition_penalty)
    if params.greedy:
        return logits.argmax(dim=-1)
    logits = filter_logits(logits / params.temperature, params.top_k, params.top_p, params.min_p)
    return torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator).squeeze(-1)
