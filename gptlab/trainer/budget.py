"""How long a run trains: by steps, tokens, training FLOPs, tokens per parameter or wall time.

Ablations compare runs at equal compute: a budget in tokens or FLOPs turns into a number of
steps for each run's batch and model, and the schedule's decay ends where the budget ends.
A time budget (a fixed-time research loop) measures the first steps and derives the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Optional

from gptlab.errors import ConfigError
from gptlab.trainer.stages import steps_for_tokens

CHINCHILLA_TOKENS_PER_PARAM = 20.0  # Hoffmann et al. 2022, arXiv:2203.15556


@dataclass
class BudgetConfig:
    """At most one field set; none means ``trainer.max_steps``."""

    steps: Optional[int] = None
    tokens: Optional[float] = None
    flops: Optional[float] = None  # training FLOPs (forward + backward)
    tokens_per_param: Optional[float] = None  # e.g. 20 (Chinchilla)
    minutes: Optional[float] = None  # training wall time; evaluation is not counted

    def __post_init__(self) -> None:
        chosen = self.chosen()
        if len(chosen) > 1:
            raise ConfigError(
                f"trainer.budget sets {', '.join(f'budget.{k}' for k in chosen)}; set exactly one of "
                f"steps, tokens, flops, tokens_per_param, minutes (or none to use trainer.max_steps)."
            )
        for key in chosen:
            if getattr(self, key) <= 0:
                raise ConfigError(f"trainer.budget.{key}={getattr(self, key)} must be > 0.")

    def chosen(self) -> list[str]:
        return [key for key in ("steps", "tokens", "flops", "tokens_per_param", "minutes") if getattr(self, key)]


@dataclass
class Budget:
    """A resolved budget; ``steps`` is None for a time budget until the first steps are measured."""

    steps: Optional[int]
    tokens_per_step: int
    flops_per_token: float
    seconds: Optional[float] = None
    source: str = "trainer.max_steps"
    tokens_per_step_at: Optional[Callable[[int], int]] = None  # stages: tokens of each step

    @property
    def tokens(self) -> Optional[int]:
        if self.steps is None or self.tokens_per_step_at is None:
            return None if self.steps is None else self.steps * self.tokens_per_step
        return sum(self.tokens_per_step_at(step) for step in range(self.steps))

    def describe(self) -> str:
        if self.steps is None:
            return f"budget: {self.seconds / 60:g} minutes of training ({self.source}); steps follow from the speed"
        flops = self.tokens * self.flops_per_token
        return f"budget: {self.steps:,} steps = {self.tokens:,} tokens = {flops:.3g} FLOPs ({self.source})"

    def as_record(self) -> dict[str, float]:
        record = {"budget_steps": self.steps, "budget_tokens": self.tokens, "flops_per_token": self.flops_per_token}
        return {key: value for key, value in record.items() if value is not None}


def resolve_budget(
    cfg: BudgetConfig,
    max_steps: int,
    tokens_per_step: int,
    num_params: int,
    flops_per_token: float,
    tokens_per_step_at: Callable[[int], int] | None = None,
) -> Budget:
    """Turn the configured budget into steps for this model and batch (rounded up).

    ``tokens_per_step_at(step)`` gives the tokens of each step when stages change the batch shape.
    """
    budget = Budget(max_steps, tokens_per_step, flops_per_token, tokens_per_step_at=tokens_per_step_at)
    to_steps = partial(steps_for_tokens, tokens_per_step_at=tokens_per_step_at or (lambda step: tokens_per_step))
    if cfg.steps:
        budget.steps, budget.source = cfg.steps, f"trainer.budget.steps={cfg.steps}"
    elif cfg.tokens:
        budget.steps, budget.source = to_steps(cfg.tokens), f"trainer.budget.tokens={cfg.tokens:g}"
    elif cfg.flops:
        budget.steps = to_steps(cfg.flops / flops_per_token)
        budget.source = f"trainer.budget.flops={cfg.flops:g} at {flops_per_token:.4g} FLOPs/token"
    elif cfg.tokens_per_param:
        budget.steps = to_steps(cfg.tokens_per_param * num_params)
        budget.source = f"trainer.budget.tokens_per_param={cfg.tokens_per_param:g} x {num_params:,} parameters"
    elif cfg.minutes:
        budget.steps, budget.seconds = None, 60.0 * cfg.minutes
        budget.source = f"trainer.budget.minutes={cfg.minutes:g}"
    return budget


def steps_for_time(seconds_left: float, seconds_per_step: float, steps_done: int) -> int:
    """Total steps of a time budget, from the measured speed (at least one more step)."""
    return steps_done + max(1, int(seconds_left / max(seconds_per_step, 1e-9)))
