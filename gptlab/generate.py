"""Autoregressive sampling with temperature and top-k (Fan et al. 2018, arXiv:1805.04833)."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn


@torch.no_grad()
def generate(
    model: nn.Module,
    ids: torch.Tensor,
    max_new_tokens: int,
    block_size: int,
    temperature: float = 1.0,
    top_k: Optional[int] = None,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Extend ``ids`` (batch, seq) by ``max_new_tokens`` sampled tokens; the context is cropped to ``block_size``."""
    was_training = model.training
    model.eval()
    for _ in range(max_new_tokens):
        logits = model(ids[:, -block_size:]).logits[:, -1, :].float() / temperature
        if top_k:
            kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        next_id = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)
        ids = torch.cat([ids, next_id], dim=1)
    model.train(was_training)
    return ids


def sample_texts(
    model,
    tokenizer,
    prompt: str,
    count: int,
    max_new_tokens: int,
    block_size: int,
    temperature: float,
    top_k: Optional[int],
    seed: int,
    device: torch.device,
) -> list[str]:
    """``count`` continuations of ``prompt`` (a newline when empty), each returned with its prompt."""
    prompt = prompt or "\n"
    prompt_ids = torch.as_tensor(tokenizer.encode(prompt), dtype=torch.long, device=device)[None]
    generator = torch.Generator(device=device).manual_seed(seed)
    texts = []
    for _ in range(count):
        out = generate(model, prompt_ids, max_new_tokens, block_size, temperature, top_k, generator)
        texts.append(tokenizer.decode(out[0].tolist()))
    return texts
