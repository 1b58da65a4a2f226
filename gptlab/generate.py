"""Text samples from a model, for ``gptlab-sample`` and the samples at the end of training, on the
generation engine (:mod:`gptlab.inference`): one prefill, then decoding on the KV cache."""

from __future__ import annotations

from typing import Optional

import torch

from gptlab.inference.decoder import CachedDecoder
from gptlab.inference.engine import Engine, collect
from gptlab.inference.sampling import SamplingParams


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
    """``count`` continuations of ``prompt`` (a newline when empty), decoded as one batch, each returned
    with its prompt; each runs to ``max_new_tokens`` (document separators included), as a raw sample should."""
    prompt = prompt or "\n"
    was_training = model.training
    engine = Engine(CachedDecoder(model, block_size), tokenizer.decode)
    params = SamplingParams(
        max_tokens=max_new_tokens, temperature=temperature, top_k=top_k or 0, n=count, seed=seed, stop_at_eos=False
    )
    try:
        result = collect(engine.stream(list(tokenizer.encode(prompt)), params))
    finally:
        model.train(was_training)
    return [prompt + text for text in result.texts]
