"""Causal self-attention: the projections (:class:`CausalSelfAttention`) and the kernels
(registry kind ``attention``, selected by ``model.attention``).

A kernel is a separate function of q, k, v so that a KV cache plugs in without touching the
projections: q is ``(batch, heads, q_len, head_dim)``, k and v are ``(batch, kv_heads, kv_len,
head_dim)`` with ``kv_len >= q_len``; query i sits at position ``kv_len - q_len + i`` and sees the
keys at positions <= its own (within ``window`` of it when window > 0). ``mask`` (batch, q_len,
kv_len), where a kernel supports it, also hides keys, e.g. those of other documents.

Every kernel declares the features it supports; asking one for a feature it lacks fails when the
config is checked, and ``auto`` picks the first available kernel of AUTO_ORDER that supports them.
"""

from __future__ import annotations

import importlib.util
import math
import warnings

import torch
from torch import nn
from torch.nn import functional as F

from gptlab.errors import ConfigError
from gptlab.registry import build_part, lookup, register

FEATURES = ("gqa", "window", "alibi", "softcap", "dropout", "mask")
AUTO_ORDER = ("flash", "sdpa", "flex", "math")  # fastest first


def visible(q_len: int, kv_len: int, window: int, device: torch.device) -> torch.Tensor:
    """Boolean (q_len, kv_len): which keys each query may attend to (causal, optionally windowed)."""
    q_pos = torch.arange(kv_len - q_len, kv_len, device=device)[:, None]
    k_pos = torch.arange(kv_len, device=device)[None, :]
    seen = k_pos <= q_pos
    return seen & (q_pos - k_pos < window) if window > 0 else seen


def alibi_bias(slopes: torch.Tensor, q_len: int, kv_len: int) -> torch.Tensor:
    """(heads, q_len, kv_len): -slope * distance, ALiBi's penalty (Press et al. 2022)."""
    q_pos = torch.arange(kv_len - q_len, kv_len, device=slopes.device)[:, None]
    distance = (q_pos - torch.arange(kv_len, device=slopes.device)[None, :]).float()
    return -slopes.float()[:, None, None] * distance


def repeat_kv(x: torch.Tensor, n_head: int) -> torch.Tensor:
    """Repeat each key/value head for the query heads that share it (GQA)."""
    return x if x.size(1) == n_head else x.repeat_interleave(n_head // x.size(1), dim=1)


class Kernel:
    """A kernel: built once per layer by the registry, then called on q, k, v."""

    features: frozenset[str] = frozenset()

    def __init__(self, required: frozenset[str] = frozenset(), check_available: bool = True) -> None:
        name = type(self).__name__
        missing = sorted(set(required) - self.features)
        if missing:
            raise ConfigError(
                f"model.attention kernel {name} cannot do {', '.join(missing)} (it supports "
                f"{', '.join(sorted(self.features)) or 'plain causal attention only'}). Use model.attention=math "
                f"(supports everything) or model.attention=auto."
            )
        reason = self.unavailable() if check_available else ""
        if reason:
            raise ConfigError(f"model.attention kernel {name} is not available here: {reason}.")

    @staticmethod
    def unavailable() -> str:
        """Why this kernel cannot run in this environment ('' when it can)."""
        return ""

    @staticmethod
    def fast_here() -> bool:
        """Whether ``auto`` should consider this kernel in this environment."""
        return True


@register("attention", "math")
class MathAttention(Kernel):
    """The readable reference: softmax(q k^T / sqrt(d)) v, written out (Vaswani et al. 2017, arXiv:1706.03762)."""

    features = frozenset(FEATURES)

    def __call__(self, q, k, v, *, window=0, softcap=0.0, alibi=None, dropout=0.0, mask=None):
        k, v = repeat_kv(k, q.size(1)), repeat_kv(v, q.size(1))
        scores = (q @ k.transpose(-2, -1)).float() / math.sqrt(q.size(-1))
        if softcap > 0:  # Gemma 2 (arXiv:2408.00118): cap * tanh(scores / cap)
            scores = softcap * torch.tanh(scores / softcap)
        if alibi is not None:
            scores = scores + alibi_bias(alibi, q.size(2), k.size(2))
        seen = visible(q.size(2), k.size(2), window, q.device)
        seen = seen if mask is None else seen & mask[:, None]
        weights = F.dropout(scores.masked_fill(~seen, float("-inf")).softmax(-1), dropout)
        return weights.to(v.dtype) @ v


@register("attention", "sdpa")
class SdpaAttention(Kernel):
    """torch's fused scaled_dot_product_attention (flash / memory-efficient backends); no softcap."""

    features = frozenset({"gqa", "window", "alibi", "dropout", "mask"})

    def __call__(self, q, k, v, *, window=0, softcap=0.0, alibi=None, dropout=0.0, mask=None):
        k, v = repeat_kv(k, q.size(1)), repeat_kv(v, q.size(1))
        if window == 0 and alibi is None and mask is None and q.size(2) == k.size(2):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout)
        seen = visible(q.size(2), k.size(2), window, q.device)
        seen = seen if mask is None else seen & mask[:, None]
        bias = seen
        if alibi is not None:
            bias = alibi_bias(alibi, q.size(2), k.size(2)).to(q.dtype).masked_fill(~seen, float("-inf"))
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout)


@register("attention", "flex")
class FlexAttention(Kernel):
    """torch FlexAttention (Dong et al. 2024, arXiv:2412.05496): block-sparse masks (windows) and score
    modifications (ALiBi, softcap) compiled into one kernel; trains on CUDA (the CPU has a forward only)."""

    features = frozenset({"gqa", "window", "alibi", "softcap"})

    def __init__(self, required: frozenset[str] = frozenset(), check_available: bool = True) -> None:
        super().__init__(required, check_available)
        self._masks: dict = {}

    @staticmethod
    def unavailable() -> str:
        if importlib.util.find_spec("torch.nn.attention.flex_attention") is None:
            return "this torch has no FlexAttention (torch >= 2.5 has)"
        return "" if torch.cuda.is_available() else "FlexAttention trains only on CUDA GPUs (torch has no CPU backward)"

    def _block_mask(self, q_len: int, kv_len: int, window: int, device: torch.device):
        from torch.nn.attention.flex_attention import create_block_mask

        key = (q_len, kv_len, window, str(device))
        if key not in self._masks:
            offset = kv_len - q_len

            def causal(b, h, q_idx, kv_idx):
                seen = kv_idx <= q_idx + offset
                return seen & (q_idx + offset - kv_idx < window) if window > 0 else seen

            self._masks[key] = create_block_mask(causal, None, None, q_len, kv_len, device=device)
        return self._masks[key]

    def __call__(self, q, k, v, *, window=0, softcap=0.0, alibi=None, dropout=0.0, mask=None):
        from torch.nn.attention.flex_attention import flex_attention

        offset = k.size(2) - q.size(2)

        def modify(score, b, h, q_idx, kv_idx):
            if softcap > 0:
                score = softcap * torch.tanh(score / softcap)
            if alibi is not None:
                score = score - alibi[h] * (q_idx + offset - kv_idx)
            return score

        block_mask = self._block_mask(q.size(2), k.size(2), window, q.device)
        attend = torch.compile(flex_attention) if q.is_cuda else flex_attention
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the eager fallback off CUDA warns on every call
            return attend(q, k, v, score_mod=modify, block_mask=block_mask, enable_gqa=k.size(1) != q.size(1))


@register("attention", "flash")
class FlashAttention(Kernel):
    """The flash-attn package (Dao 2023, FlashAttention-2, arXiv:2307.08691) on CUDA; runs in bfloat16."""

    features = frozenset({"gqa", "window", "alibi", "softcap", "dropout"})

    @staticmethod
    def unavailable() -> str:
        if importlib.util.find_spec("flash_attn") is None:
            return "the flash-attn package is not installed (pip install flash-attn)"
        return "" if torch.cuda.is_available() else "flash-attn needs a CUDA GPU"

    def __call__(self, q, k, v, *, window=0, softcap=0.0, alibi=None, dropout=0.0, mask=None):
        from flash_attn import flash_attn_func

        dtype = q.dtype if q.dtype in (torch.float16, torch.bfloat16) else torch.bfloat16
        q, k, v = (t.transpose(1, 2).to(dtype) for t in (q, k, v))  # flash-attn wants (batch, seq, heads, dim)
        y = flash_attn_func(
            q,
            k,
            v,
            dropout_p=dropout,
            causal=True,
            window_size=(window - 1, 0) if window > 0 else (-1, -1),
            softcap=softcap,
            alibi_slopes=None if alibi is None else alibi.float(),
        )
        return y.transpose(1, 2).to(v.dtype if v.dtype == dtype else q.dtype)


@register("attention", "auto")
def auto_attention(required: frozenset[str] = frozenset()) -> Kernel:
    """The first kernel of flash, sdpa, flex, math that runs here and supports the config."""
    for name in AUTO_ORDER:
        kernel = lookup("attention", name).target
        if required <= kernel.features and not kernel.unavailable() and kernel.fast_here():
            return kernel(required)
    raise ConfigError(f"model.attention=auto found no kernel for {', '.join(sorted(required))}.")


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with n_kv_head key/value heads: MHA (= n_head), GQA (fewer;
    Ainslie et al. 2023, arXiv:2305.13245) or MQA (one; Shazeer 2019, arXiv:1911.02150); optional
    QK-norm (Henry et al. 2020, arXiv:2010.04245)."""

    def __init__(self, cfg, kernel: Kernel, positions, window: int = 0):
        super().__init__()
        self.n_head, self.n_kv_head = cfg.n_head, cfg.kv_heads
        self.head_dim = cfg.d_model // cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, (self.n_head + 2 * self.n_kv_head) * self.head_dim, bias=cfg.bias)
        self.proj = nn.Linear(self.n_head * self.head_dim, cfg.d_model, bias=cfg.bias)
        self.proj.is_residual_projection = True
        self.q_norm = build_part("norm", cfg.qk_norm, self.head_dim, bias=cfg.bias, key="model.qk_norm")
        self.k_norm = build_part("norm", cfg.qk_norm, self.head_dim, bias=cfg.bias, key="model.qk_norm")
        self.kernel, self.window, self.softcap, self.dropout = kernel, window, cfg.attn_softcap, cfg.dropout
        self.rotate, self.position_args = positions.rotate, positions.kernel_args  # shared, not owned
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``mask`` (batch, seq, seq): True where a query may see a key (document masking)."""
        batch, seq, _ = x.shape
        q, k, v = self.qkv(x).split(
            [self.n_head * self.head_dim, self.n_kv_head * self.head_dim, self.n_kv_head * self.head_dim], dim=-1
        )
        q = self.q_norm(q.view(batch, seq, self.n_head, self.head_dim)).transpose(1, 2)
        k = self.k_norm(k.view(batch, seq, self.n_kv_head, self.head_dim)).transpose(1, 2)
        v = v.view(batch, seq, self.n_kv_head, self.head_dim).transpose(1, 2)
        q, k = self.rotate(q, k)
        dropout = self.dropout if self.training else 0.0
        extra = self.position_args() if mask is None else {**self.position_args(), "mask": mask}
        y = self.kernel(q, k, v, window=self.window, softcap=self.softcap, dropout=dropout, **extra)
        return self.resid_dropout(self.proj(y.transpose(1, 2).reshape(batch, seq, -1)))
