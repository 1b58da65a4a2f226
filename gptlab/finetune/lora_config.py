"""Typed config of LoRA adapters (``finetune.lora``; the adapters are added in gptlab/finetune/lora.py;
Hu et al. 2021, arXiv:2106.09685), torch-free so that Hydra composes a config without torch."""

from __future__ import annotations

from dataclasses import dataclass, field

from gptlab.errors import ConfigError

# a target name -> the last part of the module names it selects (gptlab/model/attention.py, mlp.py, gpt.py)
TARGETS = {"qkv": "qkv", "proj": "proj", "up": "up", "down": "down", "head": "head"}


@dataclass
class LoraConfig:
    rank: int = 0  # 0: no adapters, every weight trains
    alpha: float = 16.0  # the update is scaled by alpha / rank
    dropout: float = 0.0  # on the adapter's input
    target: list[str] = field(default_factory=lambda: ["qkv", "proj"])

    def __post_init__(self) -> None:
        if self.rank < 0 or self.alpha <= 0 or not 0.0 <= self.dropout < 1.0:
            raise ConfigError(
                f"finetune.lora: rank={self.rank} must be >= 0 (0: off), alpha={self.alpha} > 0 and "
                f"dropout={self.dropout} in [0, 1)."
            )
        unknown = [t for t in self.target if t not in TARGETS]
        if unknown or (self.rank and not self.target):
            raise ConfigError(
                f"finetune.lora.target={self.target}: name one or more of {', '.join(TARGETS)} "
                f"(unknown: {unknown or 'none given'})."
            )

    @property
    def enabled(self) -> bool:
        return self.rank > 0

    def module_pattern(self) -> str:
        """The regular expression over module names that peft matches fully."""
        suffixes = "|".join(TARGETS[t] for t in self.target)
        return rf"(.*\.)?({suffixes})"
