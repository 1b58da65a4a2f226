"""The optimizers' typed configs (``conf/optimizer/``), apart from their update rules so that Hydra
can compose and check a config without importing torch (``gptlab-train --cfg job``, ``--help``).

Each builder in this package (``adamw.py``, ``lion.py``, ...) takes one of these; the papers behind
each field are cited where the rule is implemented.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from gptlab.errors import ConfigError
from gptlab.registry import register_schema

DECAY_SCALINGS = ("lr", "schedule", "constant")
ROLES = ("matrix", "embedding", "head", "vector")  # parameter roles (gptlab/optimizer/groups.py)
UPDATE_SCALES = ("shape", "rms")  # Muon's update scaling


def check_betas(betas: list[float], key: str = "optimizer.betas") -> None:
    if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
        raise ConfigError(f"{key}={list(betas)} must be two numbers in [0, 1), e.g. [0.9, 0.95].")


def check_roles(mapping: dict[str, float], key: str) -> None:
    unknown = sorted(set(mapping) - set(ROLES))
    if unknown:
        raise ConfigError(f"{key} has unknown parameter roles {unknown}; valid roles: {', '.join(ROLES)}.")
    negative = {role: value for role, value in mapping.items() if value < 0}
    if negative:
        raise ConfigError(f"{key} values must be >= 0, got {negative}.")


@dataclass
class OptimizerConfig:
    """What every gptlab optimizer shares (gptlab/optimizer/base.py: decoupled, optionally cautious, decay)."""

    name: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.0
    decay_norms_and_biases: bool = False
    decay_embeddings: bool = False
    cautious_weight_decay: bool = False
    weight_decay_scaling: str = "lr"  # lr | schedule | constant
    lr_multipliers: dict[str, float] = field(default_factory=dict)  # role -> factor on the role's lr
    lr_scale: float = 1.0  # one factor on every role's lr: an lr grid relative to the tuned defaults

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ConfigError(f"optimizer.lr={self.lr} must be > 0 (typical for small GPTs with AdamW: 1e-4 to 1e-2).")
        if self.weight_decay < 0:
            raise ConfigError(f"optimizer.weight_decay={self.weight_decay} must be >= 0.")
        if self.weight_decay_scaling not in DECAY_SCALINGS:
            raise ConfigError(
                f"optimizer.weight_decay_scaling='{self.weight_decay_scaling}' is not one of {', '.join(DECAY_SCALINGS)}."
            )
        check_roles(self.lr_multipliers, "optimizer.lr_multipliers")
        if self.lr_scale <= 0:
            raise ConfigError(f"optimizer.lr_scale={self.lr_scale} must be > 0.")

    def role_lr(self, role: str) -> float:
        """The peak lr of a parameter role (before the schedule)."""
        return self.role_base_lr(role) * self.lr_multipliers.get(role, 1.0) * self.lr_scale

    def role_base_lr(self, role: str) -> float:
        return self.lr

    def decays(self, role: str) -> bool:
        return role in ("matrix", "head") or (
            self.decay_norms_and_biases if role == "vector" else role == "embedding" and self.decay_embeddings
        )


@register_schema("optimizer", "adamw")
@dataclass
class AdamWConfig(OptimizerConfig):
    """AdamW (Kingma & Ba 2015, arXiv:1412.6980; decoupled decay: Loshchilov & Hutter 2019, arXiv:1711.05101)."""

    name: str = "adamw"
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    eps: float = 1e-8
    weight_decay: float = 0.1
    fused: Optional[bool] = None  # None: fused where torch has a kernel for the device

    def __post_init__(self) -> None:
        super().__post_init__()
        check_betas(self.betas)
        if self.eps <= 0:
            raise ConfigError(f"optimizer.eps={self.eps} must be > 0.")


@register_schema("optimizer", "lion")
@dataclass
class LionConfig(OptimizerConfig):
    """Lion (Chen et al. 2023, arXiv:2302.06675): updates of +-1, so a 3-10x smaller lr and larger decay than AdamW."""

    name: str = "lion"
    lr: float = 3e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.99])
    weight_decay: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_betas(self.betas)


@register_schema("optimizer", "sgd")
@dataclass
class SGDConfig(OptimizerConfig):
    """SGD with heavy-ball or Nesterov momentum (Polyak 1964; Sutskever et al. 2013)."""

    name: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.momentum < 1.0:
            raise ConfigError(f"optimizer.momentum={self.momentum} must lie in [0, 1).")


@dataclass
class HybridConfig(OptimizerConfig):
    """``lr`` is the hidden matrices' lr; the other roles' Adam lrs are set apart (gptlab/optimizer/hybrid.py)."""

    embedding_lr: float = 1e-2
    head_lr: float = 4e-3
    vector_lr: float = 1e-2
    adam_betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    adam_eps: float = 1e-8

    def __post_init__(self) -> None:
        super().__post_init__()
        check_betas(self.adam_betas, "optimizer.adam_betas")
        for key in ("embedding_lr", "head_lr", "vector_lr"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"optimizer.{key}={getattr(self, key)} must be > 0.")

    def role_base_lr(self, role: str) -> float:
        return self.lr if role == "matrix" else getattr(self, f"{role}_lr")


@register_schema("optimizer", "muon")
@dataclass
class MuonConfig(HybridConfig):
    """Muon for the hidden matrices (Jordan et al. 2024, kellerjordan.github.io/posts/muon), Adam for the
    other roles."""

    name: str = "muon"
    lr: float = 0.02
    momentum: float = 0.95
    nesterov: bool = True
    ns_steps: int = 5
    # shape: sqrt(max(1, rows/cols)) (Jordan et al.); rms: 0.2 * sqrt(max(rows, cols)), which gives
    # the update AdamW's RMS so AdamW's lr and decay carry over (Liu et al. 2025, arXiv:2502.16982)
    update_scale: str = "shape"
    embedding_lr: float = 2e-2
    vector_lr: float = 2e-2

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.momentum < 1.0:
            raise ConfigError(f"optimizer.momentum={self.momentum} must lie in [0, 1).")
        if self.ns_steps < 1:
            raise ConfigError(f"optimizer.ns_steps={self.ns_steps} must be >= 1.")
        if self.update_scale not in UPDATE_SCALES:
            raise ConfigError(f"optimizer.update_scale='{self.update_scale}' is not one of {', '.join(UPDATE_SCALES)}.")


@register_schema("optimizer", "soap")
@dataclass
class SOAPConfig(HybridConfig):
    """SOAP for the hidden matrices: Adam in the eigenbasis of Shampoo's preconditioner (Vyas et al. 2024,
    arXiv:2409.11321); Adam for the other roles."""

    name: str = "soap"
    lr: float = 3e-3
    betas: list[float] = field(default_factory=lambda: [0.95, 0.95])
    eps: float = 1e-8
    shampoo_beta: float = 0.95
    precondition_frequency: int = 10
    weight_decay: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        check_betas(self.betas)
        if not 0.0 <= self.shampoo_beta < 1.0:
            raise ConfigError(f"optimizer.shampoo_beta={self.shampoo_beta} must lie in [0, 1).")
        if self.precondition_frequency < 1:
            raise ConfigError(f"optimizer.precondition_frequency={self.precondition_frequency} must be >= 1.")
