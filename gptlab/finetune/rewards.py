"""Verifiable rewards for GRPO (``finetune.grpo.reward``): a completion's text and the reference answer -> a number.

A reward is a registered function; register your own with ``@register("reward", NAME)``.
"""

from __future__ import annotations

from gptlab.registry import register


@register("reward", "exact")
def exact_answer(completion: str, answer: str) -> float:
    """1 when the completion, spaces trimmed, is exactly the answer (e.g. the sum of an addition), else 0."""
    return float(completion.strip() == answer.strip())


@register("reward", "partial")
def partial_credit(completion: str, answer: str) -> float:
    """1 for the exact answer, else half the share of the answer's characters the completion has in place
    (a denser signal than ``exact`` for long answers)."""
    completion, answer = completion.strip(), answer.strip()
    if completion == answer:
        return 1.0
    right = sum(a == b for a, b in zip(completion, answer))
    return 0.5 * right / max(len(answer), len(completion), 1)
