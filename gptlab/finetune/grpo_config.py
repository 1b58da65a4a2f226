"""Typed config of GRPO (``finetune.grpo``; the algorithm is gptlab/finetune/grpo.py)."""

from __future__ import annotations

from dataclasses import dataclass

from gptlab.errors import ConfigError


@dataclass
class GRPOConfig:
    reward: str = "exact"  # a registered reward (gptlab/finetune/rewards.py)
    group_size: int = 8  # completions sampled per prompt; advantages are relative within the group
    prompts_per_step: int = 8
    epochs_per_batch: int = 1  # optimizer steps on each sampled batch (GRPO's mu); > 1 makes the clip matter
    clip_eps: float = 0.2  # PPO-style clipping of the probability ratio; 0: no clipping
    kl_coef: float = 0.0  # weight of the KL to the reference (initial) model; 0: no reference model
    temperature: float = 1.0
    top_k: int = 0  # 0: sample from the whole vocabulary
    max_new_tokens: int = 8
    eval_problems: int = 200  # held-out problems for pass@1 (greedy)
    eval_every: int = 50

    def __post_init__(self) -> None:
        for key in ("prompts_per_step", "epochs_per_batch", "max_new_tokens", "eval_problems", "eval_every"):
            if getattr(self, key) < 1:
                raise ConfigError(f"finetune.grpo.{key}={getattr(self, key)} must be >= 1.")
        if self.group_size < 2:
            raise ConfigError(f"finetune.grpo.group_size={self.group_size}: a group needs >= 2 completions to compare.")
        if self.clip_eps < 0 or self.kl_coef < 0 or self.temperature <= 0 or self.top_k < 0:
            raise ConfigError(
                f"finetune.grpo: clip_eps={self.clip_eps} and kl_coef={self.kl_coef} must be >= 0 (0: off), "
                f"temperature={self.temperature} > 0, top_k={self.top_k} >= 0."
            )
