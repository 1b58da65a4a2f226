"""The LM head's chunked loss (model.loss_chunk_tokens): the same loss and gradients as one logits tensor."""

from __future__ import annotations

import pytest
import torch

from gptlab.model.head import LMHead
from gptlab.model.output import IGNORE_INDEX


@pytest.mark.parametrize("softcap, z_loss", [(0.0, 0.0), (30.0, 1e-3)])
def test_chunked_loss_matches_the_full_logits(softcap, z_loss):
    torch.manual_seed(0)
    full = LMHead(16, 50, softcap=softcap, z_loss=z_loss)
    chunked = LMHead(16, 50, softcap=softcap, z_loss=z_loss, chunk_tokens=7)
    chunked.load_state_dict(full.state_dict())
    x = torch.randn(3, 10, 16, requires_grad=True)
    targets = torch.randint(50, (3, 10))
    targets[0, :4] = IGNORE_INDEX
    a, b = full(x, targets), chunked(x, targets)
    assert b.logits is None  # no (tokens x vocab) tensor
    torch.testing.assert_close(a.loss, b.loss)
    grads = [torch.autograd.grad(out.loss, [x, head.weight]) for out, head in ((a, full), (b, chunked))]
    for g_full, g_chunked in zip(*grads):
        torch.testing.assert_close(g_full, g_chunked)
