"""gptlab's Dropout: drops in training, hands its input back untouched in eval mode or at p=0."""

from __future__ import annotations

import torch

from gptlab import registry
from gptlab.model.dropout import Dropout
from gptlab.model.gpt import GPTConfig


def test_dropout_drops_only_when_training_with_p_above_zero():
    x = torch.ones(4, 64)
    on = Dropout(0.5)
    dropped = on(x)
    assert (dropped == 0).any() and torch.equal(dropped[dropped != 0], torch.full_like(dropped[dropped != 0], 2.0))
    assert on.eval()(x) is x and Dropout(0.0)(x) is x


def test_a_model_with_dropout_is_random_in_training_and_deterministic_in_eval():
    torch.manual_seed(0)
    model = registry.build(
        "model", GPTConfig(n_layer=1, d_model=16, n_head=2, block_size=8, dropout=0.3), vocab_size=11
    )
    idx = torch.randint(11, (2, 8), generator=torch.Generator().manual_seed(1))
    first, second = model(idx).logits, model(idx).logits
    assert not torch.equal(first, second)
    model.eval()
    assert torch.equal(model(idx).logits, model(idx).logits)
