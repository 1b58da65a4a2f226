"""The fused float8 LM head on CUDA (trainer.fp8_head=true with the Triton loss): its Triton gradient kernel
equals the torch reference, eagerly and compiled it matches float32 within float8 error, and gpt2_small
trains through it with falling loss."""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch
from torch.nn import functional as F

from gptlab.model.float8_head import GRAD_FLOAT8, float8_linear_cross_entropy, reference_float8_gradient
from gptlab.model.output import IGNORE_INDEX

pytest.importorskip("triton")
pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available() or torch.cuda.get_device_capability() < (8, 9),
    reason="float8 matmuls need compute capability >= 8.9",
)


@pytest.mark.parametrize("rows, vocab", [(2048, 50304), (200, 5000)])  # the second: partial blocks both ways
def test_the_triton_float8_gradient_equals_the_reference(rows, vocab):
    from gptlab.model.triton_cross_entropy import cross_entropy_float8_gradient, cross_entropy_forward

    torch.manual_seed(0)
    logits = (4 * torch.randn(rows, vocab, device="cuda")).bfloat16()
    targets = torch.randint(vocab, (rows,), device="cuda")
    targets[::7] = IGNORE_INDEX
    _, lse = cross_entropy_forward(logits, targets)
    scales = torch.rand(rows, device="cuda") * torch.finfo(GRAD_FLOAT8).max
    grad, grad_t = cross_entropy_float8_gradient(logits, targets, lse, scales, GRAD_FLOAT8)
    expected, _ = reference_float8_gradient(logits, targets, lse, scales, GRAD_FLOAT8)
    assert grad.dtype == grad_t.dtype == GRAD_FLOAT8
    assert torch.equal(grad_t.float(), grad.float().t())
    differ = grad.float() != expected.float()
    # the same value rounded to nearest; exp's last bit may differ from torch's and flip a tie
    assert differ.float().mean() < 1e-3, differ.float().mean()
    assert grad[::7].float().abs().max() == 0


@pytest.mark.parametrize("compile", [False, True])
def test_the_fused_head_matches_float32_eager_and_compiled(compile):
    torch.manual_seed(0)
    x = torch.randn(4, 512, 768, device="cuda", requires_grad=True)
    weight = (torch.randn(50304, 768, device="cuda") * 0.02).requires_grad_()
    targets = torch.randint(50304, (4, 512), device="cuda")
    targets[:, :16] = IGNORE_INDEX

    def fused(x, weight):
        _, losses = float8_linear_cross_entropy(x, weight, targets)
        return losses.sum() / (targets != IGNORE_INDEX).sum()

    loss = (torch.compile(fused) if compile else fused)(x, weight)
    grads = torch.autograd.grad(loss, [x, weight])
    exact = F.cross_entropy((x @ weight.t()).flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)
    exact_grads = torch.autograd.grad(exact, [x, weight])
    assert abs(loss.item() - exact.item()) < 0.01 * exact.item()
    for grad, expected in zip(grads, exact_grads):
        assert grad.dtype == expected.dtype
        assert ((grad - expected).norm() / expected.norm()).item() < 0.1


@pytest.mark.parametrize("compile", ["none", "model"])
def test_fp8_head_takes_the_fused_path_and_a_gpt_learns_through_it(compile):
    """trainer.fp8_head=true through the real model preparation (gptlab/distributed/parallelize.py): the head
    is marked for the fused path, and a 4-layer GPT at a 4096 vocabulary memorizes one batch through it."""
    if importlib.util.find_spec("torchao") is None:
        pytest.skip("trainer.fp8_head needs torchao")
    from gptlab import registry
    from gptlab.config import resolve
    from gptlab.distributed.parallelize import parallelize
    from gptlab.world import World
    from tests.helpers import compose_config

    overrides = ["model.n_layer=4", "model.d_model=256", "model.n_head=4", "model.block_size=256"]
    trainer = ["trainer.device=cuda", "trainer.dtype=bfloat16", "trainer.fp8_head=true", f"trainer.compile={compile}"]
    typed = resolve(compose_config([*overrides, *trainer]))
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = registry.build("model", typed["model"], vocab_size=4096)
    prepared = parallelize(model, typed["trainer"], World.single("cuda"))
    assert model.head.float8_loss
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = torch.randint(4096, (8, 257), device="cuda")
    curve = []
    for _ in range(40):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = prepared.forward(batch[:, :-1], batch[:, 1:]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        curve.append(loss.item())
    assert all(math.isfinite(x) for x in curve)
    assert curve[-1] < 0.5 * curve[0], curve
