"""The GRPO objective itself (gptlab/finetune/grpo.py), on hand-made numbers."""

import torch

from gptlab.finetune.grpo import group_advantages, grpo_loss


def test_advantages_are_standardized_within_each_group():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    advantages = group_advantages(rewards)
    assert torch.allclose(advantages[0], torch.tensor([1.0, -1.0, -1.0, 1.0]) * 0.5 / 0.5774, atol=1e-3)
    assert torch.equal(advantages[1], torch.zeros(4)), "a group of equal rewards teaches nothing"


def test_clipping_stops_the_gradient_beyond_the_trust_region():
    old = torch.zeros(2, 3)
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    advantages = torch.tensor([1.0, -1.0])
    inside = torch.full((2, 3), 0.1, requires_grad=True)  # ratio e^0.1 = 1.105 < 1.2
    loss, metrics = grpo_loss(inside, old, advantages, mask, clip_eps=0.2)
    loss.backward()
    assert metrics["clip_fraction"] == 0.0
    assert inside.grad[0, :2].lt(0).all() and inside.grad[1].gt(0).all(), "good answers up, bad answers down"
    assert inside.grad[0, 2] == 0, "masked tokens get no gradient"
    outside = torch.full((2, 3), 0.5, requires_grad=True)  # ratio e^0.5 = 1.65 > 1.2
    loss, metrics = grpo_loss(outside, old, advantages, mask, clip_eps=0.2)
    loss.backward()
    assert outside.grad[0].abs().sum() == 0, "a positive advantage past 1 + eps is clipped: no push further"
    assert outside.grad[1].abs().sum() > 0, "a negative advantage keeps the (larger) unclipped penalty"
    assert metrics["clip_fraction"] == 1.0


def test_on_policy_loss_is_the_mean_advantage_weighted_log_likelihood_and_kl_starts_at_zero():
    logprobs = torch.randn(3, 4)
    mask = torch.ones(3, 4)
    advantages = torch.tensor([1.0, 0.0, -1.0])
    loss, metrics = grpo_loss(logprobs, logprobs, advantages, mask, 0.0, kl_coef=0.1, ref_logprobs=logprobs)
    assert abs(float(loss) + float(advantages.mean())) < 1e-6, "ratio 1 everywhere: loss = -mean advantage"
    assert metrics["kl"] == 0.0
