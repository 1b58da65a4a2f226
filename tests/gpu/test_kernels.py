"""Every attention kernel that runs here agrees with the math reference on CUDA, in bf16, at the
gpt2_small shape, forward and backward."""

from __future__ import annotations

import pytest
import torch

from gptlab import registry
from gptlab.model.attention import MathAttention

KERNELS = ("sdpa", "flex", "flash", "flash4")


@pytest.mark.parametrize("name", KERNELS)
def test_kernel_agrees_with_math(name):
    target = registry.lookup("attention", name).target
    if target.unavailable():
        pytest.skip(target.unavailable())
    kernel, reference = target(frozenset(), check_available=False), MathAttention()
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 12, 1024, 64, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    grad = torch.randn_like(q)
    out = kernel(q, k, v)
    out.backward(grad)
    got = [out, q.grad, k.grad, v.grad]
    q.grad = k.grad = v.grad = None
    expected_out = reference(q.float(), k.float(), v.float())
    expected_out.backward(grad.float())
    expected = [expected_out, q.grad, k.grad, v.grad]
    for a, b in zip(got, expected):
        error = (a.float() - b.float()).norm() / b.float().norm()
        assert error < 2e-2, (name, error)
