"""Typed config of the fine-tuning stages (``conf/finetune/``): LoRA adapters and GRPO."""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig

from gptlab.config import typed_node
from gptlab.finetune.grpo_config import GRPOConfig
from gptlab.finetune.lora_config import LoraConfig


@dataclass
class FinetuneConfig:
    lora: LoraConfig = field(default_factory=LoraConfig)  # rank 0: every weight trains
    grpo: GRPOConfig = field(default_factory=GRPOConfig)  # read by the GRPO stage only (gptlab.finetune.grpo)


def finetune_config(cfg: DictConfig) -> FinetuneConfig:
    """The run's ``finetune`` node, checked (the defaults where a config has none)."""
    node = cfg.get("finetune")
    return FinetuneConfig() if node is None else typed_node("finetune", FinetuneConfig, node)


ConfigStore.instance().store(group="schema/finetune", name="default", node=FinetuneConfig)
