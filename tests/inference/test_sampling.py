"""gptlab/inference/sampling.py: each filter keeps exactly the tokens its paper says."""

from __future__ import annotations

import math

import pytest
import torch

from gptlab.errors import GptlabError
from gptlab.inference.sampling import SamplingParams, filter_logits, next_tokens, penalize_repeats

LOG_PROBS = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()


def kept(logits: torch.Tensor) -> list[int]:
    return torch.isfinite(logits[0]).nonzero().flatten().tolist()


def test_top_k_keeps_the_k_best():
    assert kept(filter_logits(LOG_PROBS, top_k=2)) == [0, 1]


@pytest.mark.parametrize(
    ("top_p", "expected"), [(0.5, [0]), (0.6, [0, 1]), (0.8, [0, 1]), (0.81, [0, 1, 2]), (1.0, [0, 1, 2, 3])]
)
def test_top_p_keeps_the_smallest_set_with_that_mass(top_p, expected):
    assert kept(filter_logits(LOG_PROBS, top_p=top_p)) == expected


def test_min_p_drops_tokens_below_a_fraction_of_the_best():
    assert kept(filter_logits(LOG_PROBS, min_p=0.25)) == [0, 1, 2]  # floor 0.125
    assert kept(filter_logits(LOG_PROBS, min_p=0.7)) == [0]


def test_repetition_penalty_divides_positive_and_multiplies_negative_logits():
    logits = torch.tensor([[2.0, -1.0, 3.0]])
    seen = torch.tensor([[True, True, False]])
    assert penalize_repeats(logits, seen, 2.0).tolist() == [[1.0, -2.0, 3.0]]


def test_greedy_and_top_k_one_pick_the_argmax():
    logits = torch.randn(5, 50)
    assert torch.equal(next_tokens(logits, SamplingParams(temperature=0)), logits.argmax(-1))
    assert torch.equal(next_tokens(logits, SamplingParams(temperature=1.5, top_k=1)), logits.argmax(-1))


def test_a_seed_makes_sampling_reproducible():
    logits = torch.zeros(4, 1000)
    params = SamplingParams(temperature=1.0)
    draw = [next_tokens(logits, params, generator=torch.Generator().manual_seed(s)) for s in (1, 1, 2)]
    assert torch.equal(draw[0], draw[1]) and not torch.equal(draw[0], draw[2])


def test_sampling_follows_the_distribution():
    params = SamplingParams(temperature=1.0)
    draws = next_tokens(LOG_PROBS.expand(4000, 4), params, generator=torch.Generator().manual_seed(0))
    share = (draws == 0).float().mean().item()
    assert math.isclose(share, 0.5, abs_tol=0.04)


@pytest.mark.parametrize(
    "bad", [{"temperature": -1}, {"top_p": 0}, {"top_p": 1.5}, {"min_p": 1}, {"n": 0}, {"max_tokens": -1}]
)
def test_bad_parameters_are_named(bad):
    with pytest.raises(GptlabError, match=next(iter(bad))):
        SamplingParams(**bad)
