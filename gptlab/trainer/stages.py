"""Staged training: the context length and the batch size change at given steps.

Short contexts early and long ones late (sequence-length warmup, Li et al. 2022,
arXiv:2108.06084), or a batch size that grows during training (McCandlish et al. 2018,
arXiv:1812.06162). The schedule keeps its steps; the data loader follows the stage, and a token
budget counts the tokens each stage really uses.

    trainer.stages='[{step: 0, block_size: 64}, {step: 500, block_size: 128, batch_size: 8}]'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from gptlab.errors import ConfigError


@dataclass
class StageConfig:
    step: int = 0  # the stage starts at this step
    block_size: Optional[int] = None  # None: model.block_size (the longest context)
    batch_size: Optional[int] = None  # None: trainer.batch_size


def check_stages(stages: list[StageConfig], model_block_size: int) -> None:
    """Stages start at increasing steps, with contexts no longer than the model's."""
    steps = [stage.step for stage in stages]
    if steps != sorted(set(steps)) or any(step < 0 for step in steps):
        raise ConfigError(f"trainer.stages start at steps {steps}: they must be distinct, >= 0 and increasing.")
    for i, stage in enumerate(stages):
        if stage.block_size is not None and not 0 < stage.block_size <= model_block_size:
            raise ConfigError(
                f"trainer.stages[{i}].block_size={stage.block_size} must lie in 1..model.block_size={model_block_size} "
                f"(the model's positions end there; raise model.block_size for longer stages)."
            )
        if stage.batch_size is not None and stage.batch_size <= 0:
            raise ConfigError(f"trainer.stages[{i}].batch_size={stage.batch_size} must be > 0.")


def shape_at(step: int, stages: list[StageConfig], block_size: int, batch_size: int) -> tuple[int, int]:
    """(block size, batch size) of the stage that ``step`` falls in; before any stage, the defaults."""
    for stage in stages:
        if stage.step > step:
            break
        block_size = stage.block_size or block_size
        batch_size = stage.batch_size or batch_size
    return block_size, batch_size


def steps_for_tokens(tokens: float, tokens_per_step_at) -> int:
    """The fewest steps whose tokens (``tokens_per_step_at(step)`` each) reach ``tokens``."""
    step, seen = 0, 0
    while seen < tokens:
        per_step = tokens_per_step_at(step)
        if per_step == tokens_per_step_at(step + 10**9):  # the last stage: the rest in one division
            return step + math.ceil((tokens - seen) / per_step)
        seen += per_step
        step += 1
    return step
