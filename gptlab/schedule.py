"""Learning-rate schedules (``conf/schedule/``): each maps a step to a multiplier of the base lr.

A schedule is a pure function of the step, so a resumed run needs nothing but the step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from gptlab.errors import ConfigError
from gptlab.registry import register

Schedule = Callable[[int], float]


@dataclass
class ScheduleConfig:
    name: str = "constant"
    warmup_steps: int = 0  # linear warmup length in steps; when > 0 it wins over warmup_fraction
    warmup_fraction: float = 0.0  # warmup length as a fraction of trainer.max_steps (if warmup_steps = 0)
    min_lr_ratio: float = 0.0  # floor of the decay, as a fraction of the base lr

    def __post_init__(self) -> None:
        if self.warmup_steps < 0:
            raise ConfigError(f"schedule.warmup_steps={self.warmup_steps} must be >= 0.")
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise ConfigError(f"schedule.warmup_fraction={self.warmup_fraction} must lie in [0, 1).")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ConfigError(f"schedule.min_lr_ratio={self.min_lr_ratio} must lie in [0, 1].")


@dataclass
class WSDConfig(ScheduleConfig):
    name: str = "wsd"
    decay_fraction: float = 0.2  # the last fraction of the steps decays linearly

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.decay_fraction <= 1.0:
            raise ConfigError(f"schedule.decay_fraction={self.decay_fraction} must lie in (0, 1].")


def warmup_steps(cfg: ScheduleConfig, max_steps: int) -> int:
    """The warmup length in steps, from ``warmup_steps`` or else ``warmup_fraction``."""
    return cfg.warmup_steps or int(round(cfg.warmup_fraction * max_steps))


def _warmup(step: int, warmup: int) -> float:
    return (step + 1) / warmup if step < warmup else 1.0


def _decay(cfg: ScheduleConfig, max_steps: int, shape: Callable[[float], float]) -> Schedule:
    """Linear warmup, then ``shape`` maps decay progress in [0, 1] to a factor in [0, 1]."""
    warmup = warmup_steps(cfg, max_steps)

    def schedule(step: int) -> float:
        if step < warmup:
            return _warmup(step, warmup)
        progress = min(1.0, (step - warmup) / max(1, max_steps - warmup))
        return cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * shape(progress)

    return schedule


@register("schedule", "constant", ScheduleConfig)
def constant(cfg: ScheduleConfig, max_steps: int) -> Schedule:
    """Linear warmup, then the base lr throughout."""
    warmup = warmup_steps(cfg, max_steps)
    return lambda step: _warmup(step, warmup)


@register("schedule", "linear", ScheduleConfig)
def linear(cfg: ScheduleConfig, max_steps: int) -> Schedule:
    """Linear warmup, then linear decay to ``min_lr_ratio`` at the last step."""
    return _decay(cfg, max_steps, lambda progress: 1.0 - progress)


@register("schedule", "cosine", ScheduleConfig)
def cosine(cfg: ScheduleConfig, max_steps: int) -> Schedule:
    """Linear warmup, then cosine decay (Loshchilov & Hutter 2017, SGDR, arXiv:1608.03983)."""
    return _decay(cfg, max_steps, lambda progress: 0.5 * (1.0 + math.cos(math.pi * progress)))


@register("schedule", "wsd", WSDConfig)
def warmup_stable_decay(cfg: WSDConfig, max_steps: int) -> Schedule:
    """Warmup-stable-decay (Hu et al. 2024, MiniCPM, arXiv:2404.06395): flat, then a linear cooldown."""
    warmup = warmup_steps(cfg, max_steps)
    decay_start = max(warmup, int(round(max_steps * (1.0 - cfg.decay_fraction))))

    def schedule(step: int) -> float:
        if step < warmup:
            return _warmup(step, warmup)
        if step < decay_start:
            return 1.0
        progress = min(1.0, (step - decay_start) / max(1, max_steps - decay_start))
        return cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * (1.0 - progress)

    return schedule
