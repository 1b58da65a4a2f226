"""How long a run trains: by steps, tokens, training FLOPs, tokens per parameter or wall time.

Ablations compare runs at equal compute: a budget in tokens or FLOPs turns into a number of
steps for each run's batch and model, and the schedule's decay ends where the budget ends.
A time budget (a fixed-time research loop) measures the first steps and derives the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from gptlab.errors import ConfigError
from gptlab.trainer.stages import Segment, steps_for_tokens, tokens_in

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
    segments: list[Segment]  # (first step, tokens per step): one segment, or one per stage
    flops_per_token: float
    seconds: Optional[float] = None
    source: str = "trainer.max_steps"

    @property
    def tokens(self) -> Optional[int]:
        return None if self.steps is None else tokens_in(self.steps, self.segments)

    def describe(self) -> str:
        if self.steps is None:
            return f"budget: {self.seconds / 60:g} minutes of training ({self.source}); steps follow from the speed"
        flops = self.tokens * self.flops_per_token
        return f"budget: {self.steps:,} steps = {self.tokens:,} tokens = {flops:.3g} FLOPs ({self.source})"

    def as_record(self) -> dict[str, float]:
        record = {"budget_steps": self.steps, "budget_tokens": self.tokens, "flops_per_token": self.flops_per_token}
        return {key: value for key, value in record.items() if value is not None}


def resolve_budget(
    cfg: BudgetConfig, max_steps: int, segments: list[Segment], num_params: int, flops_per_token: float
) -> Budget:
    """Turn the configured budget into steps for this model and batch (rounded up); ``segments``
    give the tokens of each step (``gptlab.trainer.stages.token_segments``)."""
    budget = Budget(max_steps, segments, flops_per_token)
    if cfg.steps:
        budget.steps, budget.source = cfg.steps, f"trainer.budget.steps={cfg.steps}"
    elif cfg.tokens:
        budget.steps, budget.source = steps_for_tokens(cfg.tokens, segments), f"trainer.budget.tokens={cfg.tokens:g}"
    elif cfg.flops:
        budget.steps = steps_for_tokens(cfg.flops / flops_per_token, segments)
        budget.source = f"trainer.budget.flops={cfg.flops:g} at {flops_per_token:.4g} FLOPs/token"
    elif cfg.tokens_per_param:
        budget.steps = steps_for_tokens(cfg.tokens_per_param * num_params, segments)
        budget.source = f"trainer.budget.tokens_per_param={cfg.tokens_per_param:g} x {num_params:,} parameters"
    elif cfg.minutes:
        budget.steps, budget.seconds = None, 60.0 * cfg.minutes
        budget.source = f"trainer.budget.minutes={cfg.minutes:g}"
    return budget


def steps_for_time(seconds_left: float, seconds_per_step: float, steps_done: int) -> int:
    """Total steps of a time budget, from the measured speed (at least one more step)."""
    return steps_done + max(1, int(seconds_left / max(seconds_per_step, 1e-9)))
