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

Segment = tuple[int, int]  # (first step, tokens per step)


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


def token_segments(stages: list[StageConfig], block_size: int, batch_size: int, accum_steps: int) -> list[Segment]:
    """(first step, tokens per step) of each stretch of equal steps: one without stages, one per stage."""
    starts = sorted({0, *(stage.step for stage in stages)})
    segments = []
    for start in starts:
        block, batch = shape_at(start, stages, block_size, batch_size)
        segments.append((start, block * batch * accum_steps))
    return segments


def _spans(segments: list[Segment]):
    """(first step, last step + 1 or None for the open end, tokens per step) of each segment."""
    ends = [start for start, _ in segments[1:]] + [None]
    return [(start, end, per_step) for (start, per_step), end in zip(segments, ends)]


def tokens_in(steps: int, segments: list[Segment]) -> int:
    """Tokens seen in the first ``steps`` steps."""
    return sum(max(0, min(steps, end or steps) - start) * per_step for start, end, per_step in _spans(segments))


def steps_for_tokens(tokens: float, segments: list[Segment]) -> int:
    """The fewest steps whose tokens reach ``tokens``."""
    seen = 0
    for start, end, per_step in _spans(segments):
        if end is None or seen + (end - start) * per_step >= tokens:
            return start + max(0, math.ceil((tokens - seen) / per_step))
        seen += (end - start) * per_step
    raise AssertionError("the last segment is open-ended")
