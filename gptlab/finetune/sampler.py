"""Completions of prompts decoded on the KV cache (gptlab/model/cache.py), for GRPO and pass@1.

A small stand-in for the inference engine (gptlab/inference/) with the one call the fine-tuning
stages need: many prompts at once, prefilled together (prompts of one length share a batch), then
decoded a token per step, each completion cut after its first end token. Temperature 0 is greedy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

import torch
from torch import nn


@torch.no_grad()
def complete(
    model: nn.Module,
    prompts: list[list[int]],
    max_new_tokens: int,
    end_ids: Iterable[int],
    temperature: float = 1.0,
    top_k: int = 0,
    generator: Optional[torch.Generator] = None,
) -> list[list[int]]:
    """One completion per prompt (token ids, the end token included when one was drawn)."""
    ends = sorted({int(i) for i in end_ids})
    by_length: dict[int, list[int]] = {}
    for index, prompt in enumerate(prompts):
        by_length.setdefault(len(prompt), []).append(index)
    was_training = model.training
    model.eval()
    completions: list[list[int]] = [[] for _ in prompts]
    for rows in by_length.values():
        batch = torch.tensor([prompts[i] for i in rows], dtype=torch.long)
        for row, ids in zip(rows, _decode(model, batch, max_new_tokens, ends, temperature, top_k, generator)):
            stop = next((i for i, token in enumerate(ids) if token in ends), None)
            completions[row] = ids if stop is None else ids[: stop + 1]
    model.train(was_training)
    return completions


def _decode(model, prompts: torch.Tensor, max_new_tokens: int, ends: list[int], temperature, top_k, generator):
    """Token ids drawn after each row of ``prompts`` (rows, length), until every row drew an end token."""
    from gptlab.model.cache import KVCache

    device = next(model.parameters()).device
    rows, length = prompts.shape
    max_new_tokens = min(max_new_tokens, model.block_size - length)
    cache = KVCache.for_model(model, rows, max_len=length + max_new_tokens, device=device)
    end_ids = torch.tensor(ends, dtype=torch.long, device=device)
    logits = model(prompts.to(device), cache=cache).logits[:, -1]
    drawn, done = [], torch.zeros(rows, dtype=torch.bool, device=device)
    for step in range(max_new_tokens):
        next_ids = pick(logits.float(), temperature, top_k, generator)
        drawn.append(next_ids)
        done |= torch.isin(next_ids, end_ids)
        if bool(done.all()) or step == max_new_tokens - 1:
            break
        logits = model(next_ids[:, None], cache=cache).logits[:, -1]
    return torch.stack(drawn, dim=1).tolist() if drawn else [[] for _ in range(rows)]


def pick(logits: torch.Tensor, temperature: float, top_k: int, generator: Optional[torch.Generator]) -> torch.Tensor:
    """One token id per row: the argmax at temperature 0, else a sample of softmax(logits / T) over the top k."""
    if temperature == 0:
        return logits.argmax(-1)
    logits = logits / temperature
    if top_k:
        kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs.cpu() if generator is not None else probs, 1, generator=generator)[:, 0].to(
        logits.device
    )
