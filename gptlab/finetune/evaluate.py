"""pass@1 of a model on problems with checkable answers: the share answered exactly by greedy decoding
(Chen et al. 2021, arXiv:2107.03374, with one greedy sample per problem)."""

from __future__ import annotations

from torch import nn

from gptlab.finetune.prompter import Prompter
from gptlab.finetune.rewards import exact_answer
from gptlab.finetune.sampler import complete


def pass_at_1(model: nn.Module, prompter: Prompter, problems: list[tuple[str, str]], max_new_tokens: int) -> float:
    """Share of ``problems`` (question, answer) whose greedy completion is exactly the answer."""
    prompts = [prompter.prompt_ids(question) for question, _ in problems]
    completions = complete(model, prompts, max_new_tokens, prompter.end_ids, temperature=0.0)
    right = sum(exact_answer(prompter.text(c), answer) for c, (_, answer) in zip(completions, problems))
    return right / max(1, len(problems))
