"""The Triton cross-entropy (model.loss_kernel=triton) agrees with torch's on CUDA, forward and backward,
in bf16 and float32 at the gpt2_small vocabulary, with ignored targets, eagerly and under torch.compile."""

from __future__ import annotations

import pytest
import torch

from gptlab.model.output import IGNORE_INDEX, next_token_loss

pytest.importorskip("triton")


def logits_and_targets(dtype: torch.dtype, rows: int = 2048, vocab: int = 50304):
    torch.manual_seed(0)
    logits = (4 * torch.randn(rows, vocab, device="cuda")).to(dtype)
    targets = torch.randint(vocab, (rows,), device="cuda")
    targets[::7] = IGNORE_INDEX
    return logits, targets


def loss_and_grad(logits, targets, kernel: str, reduction: str = "mean", compile: bool = False):
    logits = logits.detach().clone().requires_grad_()

    def loss_of(x):
        return next_token_loss(x, targets, reduction=reduction, kernel=kernel)

    loss = (torch.compile(loss_of) if compile else loss_of)(logits)
    (loss if loss.dim() == 0 else (loss * torch.linspace(0, 1, loss.numel(), device="cuda")).sum()).backward()
    return loss.detach(), logits.grad


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_triton_loss_and_gradient_match_torch(dtype, reduction):
    logits, targets = logits_and_targets(dtype)
    loss, grad = loss_and_grad(logits, targets, "triton", reduction)
    expected_loss, expected_grad = loss_and_grad(logits, targets, "torch", reduction)
    torch.testing.assert_close(loss, expected_loss, rtol=1e-5, atol=1e-5)
    assert grad.dtype == dtype
    assert grad[::7].abs().max() == 0  # ignored targets add no gradient
    error = (grad.float() - expected_grad.float()).norm() / expected_grad.float().norm()
    assert error < (1e-2 if dtype == torch.bfloat16 else 1e-5), error


def test_triton_loss_compiles_into_the_graph():
    logits, targets = logits_and_targets(torch.bfloat16, rows=512)
    loss, grad = loss_and_grad(logits, targets, "triton", compile=True)
    expected_loss, expected_grad = loss_and_grad(logits, targets, "torch")
    torch.testing.assert_close(loss, expected_loss, rtol=1e-5, atol=1e-5)
    assert (grad.float() - expected_grad.float()).norm() / expected_grad.float().norm() < 1e-2


def test_auto_takes_triton_on_cuda_and_a_run_trains_with_it(corpus, tmp_path):
    from gptlab.model.cross_entropy import auto_row_losses, triton_row_losses
    from gptlab.train import train
    from tests.gpu.test_fast_path import SMALL, data, losses
    from tests.helpers import compose_config

    logits, targets = logits_and_targets(torch.bfloat16, rows=64)
    assert torch.equal(auto_row_losses(logits, targets), triton_row_losses(logits, targets))
    runs = {}
    for kernel in ("torch", "triton"):
        overrides = [*SMALL, *data(corpus), "trainer.max_steps=30", "trainer.log_every=10", "trainer.compile=model"]
        train(compose_config([*overrides, f"model.loss_kernel={kernel}"]), tmp_path / kernel)
        runs[kernel] = losses(tmp_path / kernel)
    assert runs["triton"][-1] < runs["triton"][0]
    for a, b in zip(runs["torch"], runs["triton"]):
        assert abs(a - b) < 2e-2 * abs(a), runs
