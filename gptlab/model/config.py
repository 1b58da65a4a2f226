"""The models' typed configs (``conf/model/``), apart from the models so that Hydra can compose and
check a config without importing torch (``gptlab-train --cfg job``). The checks that need a built
part (the attention kernel, the registered norms and positions) import it when they run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from gptlab.errors import ConfigError
from gptlab.registry import lookup, register_schema

WINDOW_KINDS = ("local", "global")  # model.window_pattern entries


@register_schema("model", "bigram")
@dataclass
class BigramConfig:
    """The bigram table (gptlab/model/bigram.py)."""

    name: str = "bigram"
    block_size: int = 128  # only sets the training window; the model looks at one token

    def __post_init__(self) -> None:
        if self.block_size <= 0:
            raise ConfigError(f"model.block_size={self.block_size} must be a positive integer.")


@register_schema("model", "gpt")
@dataclass
class GPTConfig:
    """Every architectural knob of :class:`gptlab.model.gpt.GPT`; a knob that chooses between alternatives names a
    registered part (norm, position, attention kernel, MLP, norm placement, init)."""

    name: str = "gpt"
    n_layer: int = 2
    n_head: int = 3
    n_kv_head: Optional[int] = None  # key/value heads: null = n_head (MHA), 1 = MQA, a divisor of n_head = GQA
    d_model: int = 96
    block_size: int = 128
    # feed-forward
    mlp: str = "gelu"
    mlp_ratio: float = 4.0
    mlp_hidden: int = 0  # 0: mlp_ratio * d_model, times 2/3 for gated MLPs
    # normalization
    norm: str = "layernorm"
    norm_placement: str = "pre"
    final_norm: bool = True
    qk_norm: str = "none"  # a norm name applied per head to q and k
    norm_eps: Optional[float] = None  # every norm's epsilon; null: layernorm 1e-5, rmsnorm 1e-6
    # positions
    pos: str = "learned"
    rope_theta: float = 10000.0
    rope_scaling: str = "none"
    rope_scaling_factor: float = 1.0
    rope_original_block_size: int = 0  # 0: block_size / rope_scaling_factor
    # attention
    attention: str = "sdpa"
    window_pattern: list[str] = field(default_factory=list)  # per layer, repeated: e.g. [local, local, global]
    window_size: int = 0  # keys a local layer sees (its own position included); 0 = no windows
    attn_softcap: float = 0.0
    # embeddings and head
    tie_embeddings: bool = True
    embed_scale: float = 1.0
    logit_softcap: float = 0.0
    z_loss: float = 0.0
    loss_kernel: str = "auto"  # cross-entropy code: auto (triton on CUDA), torch, triton
    loss_chunk_tokens: int = 0  # >0: head + cross-entropy over chunks of this many tokens, no full logits tensor
    dropout: float = 0.0
    bias: bool = True
    # mixture of experts in place of the MLP
    moe_experts: int = 0  # 0: dense MLPs
    moe_top_k: int = 2
    moe_shared_experts: int = 0
    moe_layers: list[int] = field(default_factory=list)  # layer indices with MoE; empty: all layers
    moe_expert_hidden: int = 0  # 0: the MLP's width
    moe_capacity_factor: float = 0.0  # 0: no capacity limit (no dropped tokens)
    moe_aux_loss: float = 0.01  # weight of the Switch load-balancing loss
    moe_router_z_loss: float = 0.0
    moe_bias_balancing: float = 0.0  # DeepSeek-V3 auxiliary-loss-free bias update rate; 0: off
    # multi-token prediction (training only)
    mtp_heads: int = 0  # extra heads predicting 2, 3, ... tokens ahead
    mtp_weights: list[float] = field(default_factory=list)  # loss weight per extra head; empty: 1.0 each
    # initialization
    init: str = "scaled_residual"
    init_std: float = 0.02

    def __post_init__(self) -> None:
        for key in ("n_layer", "n_head", "d_model", "block_size"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"model.{key}={getattr(self, key)} must be a positive integer.")
        if self.d_model % self.n_head:
            valid = [h for h in range(1, min(self.d_model, 64) + 1) if self.d_model % h == 0]
            raise ConfigError(
                f"model.d_model={self.d_model} is not divisible by model.n_head={self.n_head}. "
                f"With d_model={self.d_model}, n_head can be one of {valid}; or pick d_model as a multiple "
                f"of {self.n_head} (e.g. {self.n_head * max(1, round(self.d_model / self.n_head))})."
            )
        if not 0 < self.kv_heads <= self.n_head or self.n_head % self.kv_heads:
            valid = [h for h in range(1, self.n_head + 1) if self.n_head % h == 0]
            raise ConfigError(
                f"model.n_kv_head={self.n_kv_head} must divide model.n_head={self.n_head}: one of {valid} (or null)."
            )
        if self.norm_eps is not None and self.norm_eps <= 0:
            raise ConfigError(f"model.norm_eps={self.norm_eps} must be > 0 (or null for each norm's default).")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout={self.dropout} must lie in [0, 1).")
        for key in ("mlp_ratio", "embed_scale", "rope_theta", "rope_scaling_factor", "init_std"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"model.{key}={getattr(self, key)} must be > 0.")
        for key in (
            "mlp_hidden",
            "window_size",
            "attn_softcap",
            "logit_softcap",
            "z_loss",
            "loss_chunk_tokens",
            "rope_original_block_size",
            "mtp_heads",
            "moe_experts",
            "moe_shared_experts",
            "moe_expert_hidden",
            "moe_capacity_factor",
            "moe_aux_loss",
            "moe_router_z_loss",
            "moe_bias_balancing",
        ):
            if getattr(self, key) < 0:
                raise ConfigError(f"model.{key}={getattr(self, key)} must be >= 0 (0 switches it off).")
        for kind, key in (
            ("norm", "norm"),
            ("norm", "qk_norm"),
            ("norm_placement", "norm_placement"),
            ("position", "pos"),
            ("rope_scaling", "rope_scaling"),
            ("mlp", "mlp"),
            ("init", "init"),
            ("attention", "attention"),
            ("loss_kernel", "loss_kernel"),
        ):
            lookup(kind, getattr(self, key), key=f"model.{key}")
        self._check_windows()
        if self.mtp_weights and len(self.mtp_weights) != self.mtp_heads:
            raise ConfigError(
                f"model.mtp_weights has {len(self.mtp_weights)} entries but model.mtp_heads={self.mtp_heads}; "
                f"give one weight per extra head, or none (1.0 each)."
            )
        if self.moe_experts and not 1 <= self.moe_top_k <= self.moe_experts:
            raise ConfigError(f"model.moe_top_k={self.moe_top_k} must lie in 1..model.moe_experts={self.moe_experts}.")
        bad_layers = [i for i in self.moe_layers if not 0 <= i < self.n_layer]
        if bad_layers:
            raise ConfigError(f"model.moe_layers holds {bad_layers}; layer indices run from 0 to {self.n_layer - 1}.")
        if self.mtp_heads >= self.block_size:
            raise ConfigError(
                f"model.mtp_heads={self.mtp_heads} must be smaller than model.block_size={self.block_size}."
            )
        if lookup("position", self.pos).target.rotates and (self.d_model // self.n_head) % 2:
            raise ConfigError(
                f"model.pos={self.pos} rotates pairs of dimensions, so the head size d_model/n_head="
                f"{self.d_model // self.n_head} must be even."
            )
        from gptlab.model.attention import check_kernel  # the kernels need torch: imported once a config is built

        check_kernel(self.attention, self.kernel_features(), **self._kernel_shape())  # whether it runs here: at build

    def _check_windows(self) -> None:
        bad = [w for w in self.window_pattern if w not in WINDOW_KINDS]
        if bad:
            raise ConfigError(f"model.window_pattern holds {bad}; each entry must be one of {', '.join(WINDOW_KINDS)}.")
        if "local" in self.window_pattern and self.window_size == 0:
            raise ConfigError(
                "model.window_pattern has local layers but model.window_size=0; set the window, e.g. model.window_size=64."
            )

    @property
    def kv_heads(self) -> int:
        return self.n_head if self.n_kv_head is None else self.n_kv_head

    @property
    def mlp_width(self) -> int:
        scale = lookup("mlp", self.mlp).target.hidden_scale
        return self.mlp_hidden or max(1, round(self.mlp_ratio * self.d_model * scale))

    def moe_flags(self) -> list[bool]:
        """Whether each layer's feed-forward is a mixture of experts."""
        return [self.moe_experts > 0 and (not self.moe_layers or i in self.moe_layers) for i in range(self.n_layer)]

    def layer_windows(self) -> list[int]:
        """The window of each layer (0 = global); an empty pattern with a window makes every layer local."""
        pattern = self.window_pattern or ["local" if self.window_size else "global"]
        return [self.window_size if pattern[i % len(pattern)] == "local" else 0 for i in range(self.n_layer)]

    def kernel_features(self) -> frozenset[str]:
        """What the attention kernel must support for this config."""
        wanted = {
            "gqa": self.kv_heads < self.n_head,
            "window": any(0 < w < self.block_size for w in self.layer_windows()),
            "softcap": self.attn_softcap > 0,
            "dropout": self.dropout > 0,
        }
        position = lookup("position", self.pos).target.kernel_features
        return frozenset(name for name, on in wanted.items() if on) | position

    def _kernel_shape(self) -> dict[str, int]:
        return {"head_dim": self.d_model // self.n_head, "seq_len": self.block_size}

    def kernel(self, fallback: bool = True):
        """The attention kernel for this machine (falling back, with a logged line, when the configured one
        cannot run here; ``fallback=False`` raises instead)."""
        from gptlab.model.attention import build_kernel

        return build_kernel(self.attention, self.kernel_features(), **self._kernel_shape(), fallback=fallback)

    def check_runs_here(self) -> None:
        """Training asks for the kernel it names: one that cannot run on this machine is an error, not a fallback."""
        self.kernel(fallback=False)
