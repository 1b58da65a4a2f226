"""The GPT: token embedding -> positions -> blocks -> final norm -> head.

Radford et al. 2019 ("Language Models are Unsupervised Multitask Learners"), as in nanoGPT. Every
architectural knob is a field of :class:`GPTConfig`; where it chooses between alternatives it names
a registered part (norm, position, attention kernel, MLP, norm placement, init), so this file only
wires parts together and never branches on a name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import nn

from gptlab.errors import ConfigError
from gptlab.model import counting
from gptlab.model.attention import CausalSelfAttention, build_kernel, check_kernel
from gptlab.model.cache import KVCache
from gptlab.model.dropout import Dropout
from gptlab.model.head import LMHead
from gptlab.model.moe import MixtureOfExperts, add_moe_losses
from gptlab.model.mtp import MultiTokenHeads
from gptlab.model.output import ModelOutput
from gptlab.registry import build_part, lookup, register

WINDOW_KINDS = ("local", "global")


@dataclass
class GPTConfig:
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
        return build_kernel(self.attention, self.kernel_features(), **self._kernel_shape(), fallback=fallback)

    def check_runs_here(self) -> None:
        """Training asks for the kernel it names: one that cannot run on this machine is an error, not a fallback."""
        self.kernel(fallback=False)


class Block(nn.Module):
    """A transformer block: attention, then a feed-forward (an MLP, or a mixture of experts in the layers
    ``model.moe_layers`` names), each a residual branch with its own norm, placed before the branch
    (pre-norm) or after the sum (post-norm) as ``model.norm_placement`` says."""

    def __init__(self, cfg: GPTConfig, positions: nn.Module, window: int, moe: bool = False):
        super().__init__()
        self.post_norm = lookup("norm_placement", cfg.norm_placement).target.post
        self.attn_norm = build_part("norm", cfg.norm, cfg.d_model, bias=cfg.bias, eps=cfg.norm_eps)
        self.attn = CausalSelfAttention(cfg, cfg.kernel(), positions, window)
        self.mlp_norm = build_part("norm", cfg.norm, cfg.d_model, bias=cfg.bias, eps=cfg.norm_eps)
        self.moe = moe
        self.mlp = (
            MixtureOfExperts(cfg)
            if moe
            else build_part("mlp", cfg.mlp, cfg.d_model, cfg.mlp_width, bias=cfg.bias, dropout=cfg.dropout)
        )

    def feed_forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict | None]:
        """The MLP's output, or the experts' output with their routing statistics (auxiliary losses)."""
        return self.mlp(x) if self.moe else (self.mlp(x), None)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, cache=None, start: int = 0
    ) -> tuple[torch.Tensor, dict | None]:
        """The residual stream after this block, and the MoE statistics (None for a dense MLP)."""
        if self.post_norm:
            x = self.attn_norm(x + self.attn(x, mask, cache, start))
            y, stats = self.feed_forward(x)
            return self.mlp_norm(x + y), stats
        x = x + self.attn(self.attn_norm(x), mask, cache, start)
        y, stats = self.feed_forward(self.mlp_norm(x))
        return x + y, stats


# state_dict names of checkpoints saved before blocks wrote out their residual stream (norms owned by
# residual wrappers): blocks.0.attn.norm -> blocks.0.attn_norm, blocks.0.attn.branch.qkv -> blocks.0.attn.qkv
LEGACY_KEY_PARTS = {
    ".attn.norm.": ".attn_norm.",
    ".mlp.norm.": ".mlp_norm.",
    ".attn.branch.": ".attn.",
    ".mlp.branch.": ".mlp.",
}


def _rename_legacy_keys(state_dict: dict, prefix: str, *args) -> None:
    for key in [k for k in state_dict if k.startswith(prefix)]:
        new = key
        for old, part in LEGACY_KEY_PARTS.items():
            new = new.replace(old, part)
        if new != key:
            state_dict[new] = state_dict.pop(key)


@register("model", "gpt", GPTConfig)
class GPT(nn.Module):
    """Decoder-only transformer language model (GPT-2 layout by default: pre-norm, learned positions, tied head)."""

    def __init__(self, cfg: GPTConfig, vocab_size: int):
        super().__init__()
        self.cfg, self.vocab_size = cfg, vocab_size
        self.block_size = cfg.block_size
        self.token_embedding = nn.Embedding(vocab_size, cfg.d_model)
        self.positions = build_part("position", cfg.pos, cfg)
        self.dropout = Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(
            Block(cfg, self.positions, window, moe) for window, moe in zip(cfg.layer_windows(), cfg.moe_flags())
        )
        self.final_norm = build_part(
            "norm", cfg.norm if cfg.final_norm else "none", cfg.d_model, bias=cfg.bias, eps=cfg.norm_eps
        )
        self.head = LMHead(
            cfg.d_model, vocab_size, softcap=cfg.logit_softcap, z_loss=cfg.z_loss, chunk_tokens=cfg.loss_chunk_tokens
        )
        if cfg.tie_embeddings:
            self.head.weight = self.token_embedding.weight
        self.extra_heads = MultiTokenHeads(
            [Block(cfg, self.positions, 0) for _ in range(cfg.mtp_heads)], cfg.mtp_weights or [1.0] * cfg.mtp_heads
        )
        build_part("init", cfg.init, self, cfg.init_std, cfg.n_layer)
        self._register_load_state_dict_pre_hook(_rename_legacy_keys)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        doc_ids: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> ModelOutput:
        """Logits (batch, seq, vocab) for token ids (batch, seq), and with ``targets`` the training loss.

        ``doc_ids`` (batch, seq) keeps attention inside each document (``data.doc_mask``). ``cache``
        (:class:`gptlab.model.cache.KVCache`): ``idx`` continues the cached tokens, its positions start
        at ``cache.length``; the logits cover the new tokens only and the cache grows by them.
        """
        start = 0
        if cache is not None:
            if doc_ids is not None:
                raise ValueError("a KV cache decodes one document: pass doc_ids or cache, not both.")
            start = cache.length
            cache.check_room(idx.size(1), idx.size(0))
        mask = None if doc_ids is None else doc_ids[:, :, None] == doc_ids[:, None, :]
        x = self.token_embedding(idx)
        if self.cfg.embed_scale != 1.0:
            x = x * self.cfg.embed_scale
        x = self.dropout(self.positions.embed(x, start))
        moe_stats = []
        for i, block in enumerate(self.blocks):
            x, stats = block(x, mask, None if cache is None else cache.layers[i], start)
            moe_stats += [stats] if stats is not None else []
        if cache is not None:
            cache.advance(idx.size(1))
        out = self.head(self.final_norm(x), targets)
        if targets is None:  # inference: no MTP heads, no auxiliary losses
            return out
        out = self.extra_heads(x, targets, out, self.final_norm, self.head)  # no MTP heads: out as is
        return add_moe_losses(moe_stats, out)  # dense MLPs: out as is

    def num_parameters(self, non_embedding: bool = False) -> int:
        """Unique parameters; ``non_embedding`` leaves out token and position embeddings."""
        total = sum(p.numel() for p in self.parameters())
        if non_embedding:
            total -= sum(m.weight.numel() for m in self.modules() if isinstance(m, nn.Embedding))
        return total

    def flops_per_token(self) -> int:
        """Training FLOPs per token at block_size (gptlab/model/counting.py)."""
        return counting.flops_per_token(self.cfg, self.vocab_size)

    def activation_elements(self, batch_size: int) -> int:
        return counting.activation_elements(self.cfg, self.vocab_size, batch_size)
