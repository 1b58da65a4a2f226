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


DECAY_SHAPES = ("linear", "cosine", "sqrt")


@dataclass
class WSDConfig(ScheduleConfig):
    name: str = "wsd"
    decay_fraction: float = 0.2  # the last fraction of the steps decays
    decay_shape: str = "linear"  # linear | cosine | sqrt (1 - sqrt(progress), Hägele et al. 2024)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.decay_fraction <= 1.0:
            raise ConfigError(f"schedule.decay_fraction={self.decay_fraction} must lie in (0, 1].")
        if self.decay_shape not in DECAY_SHAPES:
            raise ConfigError(f"schedule.decay_shape='{self.decay_shape}' is not one of {', '.join(DECAY_SHAPES)}.")


@dataclass
class InverseSqrtConfig(ScheduleConfig):
    name: str = "inverse_sqrt"
    warmup_steps: int = 100  # the decay is sqrt(warmup / step), so it needs a warmup length
    cooldown_fraction: float = 0.0  # optional linear cooldown to min_lr_ratio over the last fraction

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.cooldown_fraction <= 1.0:
            raise ConfigError(f"schedule.cooldown_fraction={self.cooldown_fraction} must lie in [0, 1].")


def warmup_steps(cfg: ScheduleConfig, max_steps: int) -> int:
    """The warmup length in steps, from ``warmup_steps`` or else ``warmup_fraction``."""
    return cfg.warmup_steps or int(round(cfg.warmup_fraction * max_steps))


def _warmup(step: int, warmup: int) -> float:
    return (step + 1) / warmup if step < warmup else 1.0


def _linear(progress: float) -> float:
    return 1.0 - progress


def _cosine(progress: float) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _one_minus_sqrt(progress: float) -> float:
    return 1.0 - math.sqrt(progress)


SHAPES = {"linear": _linear, "cosine": _cosine, "sqrt": _one_minus_sqrt}


def _decay(cfg: ScheduleConfig, max_steps: int, shape: Callable[[float], float], start: int | None = None) -> Schedule:
    """Linear warmup, a flat lr until ``start`` (default: the warmup's end), then ``shape`` maps
    the decay's progress in [0, 1] to a factor in [1, 0], scaled into [1, min_lr_ratio]."""
    warmup = warmup_steps(cfg, max_steps)
    start = warmup if start is None else max(warmup, start)

    def schedule(step: int) -> float:
        if step < warmup:
            return _warmup(step, warmup)
        progress = min(1.0, max(0, step - start) / max(1, max_steps - start))
        return cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * shape(progress)

    return schedule


@register("schedule", "constant", ScheduleConfig)
def constant(cfg: ScheduleConfig, max_steps: int) -> Schedule:
    """Linear warmup, then the base lr throughout."""
    warmup = warmup_steps(cfg, max_steps)
    return lambda step: _warmup(step, warmup)


@register("schedule", "linear", ScheduleConfig)
def linear(cfg: ScheduleConfig, max_steps: int) -> Schedule:
    """Linear warmup, then linear decay to ``min_lr_ratio`` at the last step (to zero by default:
    Bergsma et al. 2025, "Straight to Zero", arXiv:2502.15938)."""
    return _decay(cfg, max_steps, _linear)


@register("schedule", "cosine", ScheduleConfig)
def cosine(cfg: ScheduleConfig, max_steps: int) -> Schedule:
    """Linear warmup, then cosine decay (Loshchilov & Hutter 2017, SGDR, arXiv:1608.03983)."""
    return _decay(cfg, max_steps, _cosine)


@register("schedule", "wsd", WSDConfig)
def warmup_stable_decay(cfg: WSDConfig, max_steps: int) -> Schedule:
    """Warmup-stable-decay (Hu et al. 2024, MiniCPM, arXiv:2404.06395): flat, then a cooldown whose
    shape is configurable (``sqrt`` is 1 - sqrt, Hägele et al. 2024, arXiv:2405.18392)."""
    decay_start = int(round(max_steps * (1.0 - cfg.decay_fraction)))
    return _decay(cfg, max_steps, SHAPES[cfg.decay_shape], start=decay_start)


@register("schedule", "inverse_sqrt", InverseSqrtConfig)
def inverse_sqrt(cfg: InverseSqrtConfig, max_steps: int) -> Schedule:
    """Linear warmup, then sqrt(warmup / step) (Vaswani et al. 2017, arXiv:1706.03762), with an
    optional linear cooldown over the last ``cooldown_fraction`` (Zhai et al. 2022, arXiv:2106.04560)."""
    warmup = max(1, warmup_steps(cfg, max_steps))
    cooldown = _decay(cfg, max_steps, _linear, start=int(round(max_steps * (1.0 - cfg.cooldown_fraction))))

    def schedule(step: int) -> float:
        if step < warmup:
            return _warmup(step, warmup)
        return math.sqrt(warmup / (step + 1)) * (cooldown(step) if cfg.cooldown_fraction else 1.0)

    return schedule
