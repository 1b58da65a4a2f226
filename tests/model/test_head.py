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


def test_logits_come_back_detached_with_targets():
    """With targets the loss is what trains: the logits are returned without a gradient path (a compiled
    backward would otherwise build an all-zero tokens x vocab gradient for them); without targets they keep it."""
    torch.manual_seed(0)
    head = LMHead(16, 50)
    x = torch.randn(2, 5, 16, requires_grad=True)
    trained = head(x, torch.randint(50, (2, 5)))
    assert trained.loss.requires_grad and not trained.logits.requires_grad
    assert head(x).logits.requires_grad


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_next_token_loss_matches_f_cross_entropy(reduction):
    from torch.nn import functional as F

    from gptlab.model.output import next_token_loss

    torch.manual_seed(0)
    logits, targets = torch.randn(2, 6, 50), torch.randint(50, (2, 6))
    targets[1, :3] = IGNORE_INDEX
    expected = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX, reduction=reduction)
    torch.testing.assert_close(next_token_loss(logits, targets, reduction), expected)


def test_loss_kernel_names_are_checked_and_triton_refuses_the_cpu():
    from gptlab.errors import ConfigError
    from gptlab.model.config import GPTConfig

    with pytest.raises(ConfigError, match=r"model\.loss_kernel.*Valid loss_kernel names: auto, torch, triton"):
        GPTConfig(loss_kernel="fused")
    head = LMHead(16, 50, loss_kernel="triton")
    with pytest.raises(ConfigError, match=r"model\.loss_kernel=triton cannot run: .*Use model\.loss_kernel=auto"):
        head(torch.randn(1, 4, 16), torch.randint(50, (1, 4)))
    auto, plain = LMHead(16, 50, loss_kernel="auto"), LMHead(16, 50, loss_kernel="torch")
    plain.load_state_dict(auto.state_dict())
    x, targets = torch.randn(1, 4, 16), torch.randint(50, (1, 4))
    torch.testing.assert_close(auto(x, targets).loss, plain(x, targets).loss)
