"""LoRA: low-rank adapters on chosen linear layers, through ``peft`` (Hu et al. 2021, arXiv:2106.09685).

``finetune.lora.rank > 0`` freezes the model and adds ``W + (alpha / rank) * B A`` to the layers
``finetune.lora.target`` names (qkv, proj, up, down, head). The run's checkpoints then hold the
adapter weights only (the base weights come again from ``trainer.init_from``); ``save_adapter``
writes them as safetensors to share, and ``merged`` folds them into a plain gptlab model.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from gptlab.errors import ConfigError
from gptlab.finetune.lora_config import LoraConfig

ADAPTER_MARK = "lora_"  # peft's adapter parameters: lora_A, lora_B
ADAPTER_FILE, ADAPTER_CONFIG_FILE = "adapter.safetensors", "adapter_config.json"


def add_adapters(model: nn.Module, cfg: LoraConfig) -> nn.Module:
    """Freeze ``model`` and add LoRA adapters to the target layers (in place); checkpoints of the
    model then hold the adapters only. A tied head cannot take an adapter of its own."""
    from peft import LoraConfig as PeftLoraConfig
    from peft import inject_adapter_in_model

    from gptlab.finetune.lora_head import CUSTOM_LAYERS

    if "head" in cfg.target and getattr(model.cfg, "tie_embeddings", False):
        raise ConfigError(
            "finetune.lora.target names head, but the model ties its head to the token embedding "
            "(model.tie_embeddings=true), so an adapter there would untie them. Leave head out of the target."
        )
    peft_cfg = PeftLoraConfig(
        r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=cfg.module_pattern(), bias="none"
    )
    peft_cfg._register_custom_module(CUSTOM_LAYERS)  # the LM head (lora_head.py)
    for param in model.parameters():
        param.requires_grad_(False)
    model = inject_adapter_in_model(peft_cfg, model)
    for name, param in model.named_parameters():
        param.requires_grad_(ADAPTER_MARK in name)
    if not any(p.requires_grad for p in model.parameters()):
        raise ConfigError(f"finetune.lora.target={cfg.target} matches no linear layer of this model.")
    model.lora_hooks = (  # removed again by merged()
        model._register_state_dict_hook(_adapters_only),
        model.register_load_state_dict_post_hook(_base_weights_not_expected),
    )
    return model


def _adapters_only(module: nn.Module, state: dict, prefix: str, local_metadata) -> dict:
    for key in [k for k in state if ADAPTER_MARK not in k]:
        del state[key]
    return state


def _base_weights_not_expected(module: nn.Module, incompatible) -> None:
    """A checkpoint of adapters lacks the frozen base weights by design: they come from the base run."""
    kept = [key for key in incompatible.missing_keys if ADAPTER_MARK in key]
    incompatible.missing_keys[:] = kept


def adapter_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The adapter weights (the model's state dict once adapters are added)."""
    return {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}


def save_adapter(model: nn.Module, cfg: LoraConfig, out_dir: str | Path, base: str = "") -> Path:
    """Write the adapters as ``adapter.safetensors`` and their config (with the base run) as JSON."""
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(adapter_state(model), out_dir / ADAPTER_FILE)
    (out_dir / ADAPTER_CONFIG_FILE).write_text(json.dumps({**asdict(cfg), "base": str(base)}, indent=2))
    return out_dir / ADAPTER_FILE


def load_adapter(model: nn.Module, path: str | Path) -> None:
    """Load adapter weights saved by ``save_adapter`` into a model with the same adapters."""
    from safetensors.torch import load_file

    model.load_state_dict(load_file(str(path)))


def merged(model: nn.Module) -> nn.Module:
    """The plain gptlab model with every adapter folded into its weights (W + scale * B A), in place.
    Its state dict has the names and shapes of a model that never had adapters."""
    from peft.tuners.lora import LoraLayer

    for name, module in list(model.named_modules()):
        if isinstance(module, LoraLayer):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, child, module.get_base_layer())
    for handle in model.__dict__.pop("lora_hooks", ()):
        handle.remove()
    if getattr(model.cfg, "tie_embeddings", False):
        model.head.weight = model.token_embedding.weight
    for param in model.parameters():
        param.requires_grad_(True)
    return model
