"""Causal self-attention: the projections (:class:`CausalSelfAttention`) and the kernels
(registry kind ``attention``, selected by ``model.attention``).

A kernel is a separate function of q, k, v so that a KV cache plugs in without touching the
projections: q is ``(batch, heads, q_len, head_dim)``, k and v are ``(batch, kv_heads, kv_len,
head_dim)`` with ``kv_len >= q_len``; query i sits at position ``kv_len - q_len + i`` and sees the
keys at positions <= its own (within ``window`` of it when window > 0). ``mask`` (batch, q_len,
kv_len), where a kernel supports it, also hides keys, e.g. those of other documents.

Every kernel declares the features it supports; asking one for a feature it lacks fails when the
config is checked, and ``auto`` picks the fastest available kernel that supports them. Whether a
kernel runs on this machine is asked when the model is built (:func:`build_kernel`): a saved model
whose kernel cannot run here (flash4 trained on a GPU, loaded on a laptop) falls back to the first
of FALLBACK_ORDER that has every feature it needs, with one logged line.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import math
import warnings

import torch
from torch import nn
from torch.nn import functional as F

from gptlab.errors import ConfigError
from gptlab.model.attributes import Linear, submodules
from gptlab.model.dropout import Dropout
from gptlab.registry import build_part, lookup, register

FEATURES = ("gqa", "window", "alibi", "softcap", "dropout", "mask")
# auto's preference, fastest first, from gptlab.bench.attention on an H100 (the README's kernel tables):
# sdpa through cuDNN is the fastest kernel alone at 1024 tokens, FlashAttention-4 at 4096 (2048: a tie)
AUTO_ORDER = ("sdpa", "flash4", "flash", "flex", "math")
LONG_AUTO_ORDER = ("flash4", "sdpa", "flash", "flex", "math")
LONG_SEQUENCE = 2048
FALLBACK_ORDER = ("sdpa", "math")  # where a kernel that cannot run here falls back to; math has every feature

log = logging.getLogger(__name__)


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

    def __init__(
        self, required: frozenset[str] = frozenset(), check_available: bool = True, head_dim: int = 0, seq_len: int = 0
    ) -> None:
        """``required``: the features the config needs; ``head_dim``: the head size (0: not known), checked
        against what the kernel can run. ``seq_len`` is passed to every kernel alike, but only ``auto``
        uses it (to pick a kernel)."""
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
        reason = self.head_dim_problem(head_dim) if head_dim else ""
        if reason:
            raise ConfigError(
                f"model.attention kernel {name} cannot run the head size d_model/n_head={head_dim}: {reason}. "
                f"Change model.d_model or model.n_head, or use model.attention=sdpa."
            )

    @staticmethod
    def unavailable() -> str:
        """Why this kernel cannot run in this environment ('' when it can)."""
        return ""

    @staticmethod
    def head_dim_problem(head_dim: int) -> str:
        """Why this kernel cannot run heads of ``head_dim`` dimensions ('' when it can)."""
        return ""


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
    """torch's fused scaled_dot_product_attention; no softcap. On CUDA its backends are tried in the
    order of ``cuda_backends``: cuDNN first, which beats torch's default flash backend on Hopper."""

    features = frozenset({"gqa", "window", "alibi", "dropout", "mask"})
    cuda_backends: tuple[str, ...] | None = ("CUDNN_ATTENTION", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "MATH")

    def __call__(self, q, k, v, *, window=0, softcap=0.0, alibi=None, dropout=0.0, mask=None):
        if q.is_cuda and self.cuda_backends is not None:
            from torch.nn.attention import SDPBackend, sdpa_kernel

            with sdpa_kernel([getattr(SDPBackend, name) for name in self.cuda_backends], set_priority=True):
                return self._attend(q, k, v, window, alibi, dropout, mask)
        return self._attend(q, k, v, window, alibi, dropout, mask)  # no context manager: a decode step calls this 6x

    @staticmethod
    def _attend(q, k, v, window, alibi, dropout, mask):
        gqa = k.size(1) != q.size(1)  # shared kv heads, never copied
        q_len, kv_len = q.size(2), k.size(2)
        if window == 0 and alibi is None and mask is None:
            if q_len == kv_len:
                return F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout, enable_gqa=gqa)
            if q_len == 1:  # one new token (decoding) sees every cached key
                return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, enable_gqa=gqa)
        seen = visible(q_len, kv_len, window, q.device)
        seen = seen if mask is None else seen & mask[:, None]
        bias = seen
        if alibi is not None:
            bias = alibi_bias(alibi, q_len, kv_len).to(q.dtype).masked_fill(~seen, float("-inf"))
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout, enable_gqa=gqa)


@functools.cache
def _compiled_flex_attention():
    """flex_attention compiled once per process, for static shapes (training shapes do not change;
    dynamic shapes break the lowering of score modifications in torch 2.11)."""
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


@register("attention", "flex")
class FlexAttention(Kernel):
    """torch FlexAttention (Dong et al. 2024, arXiv:2412.05496): block-sparse masks (windows) and score
    modifications (ALiBi, softcap) compiled into one kernel; trains on CUDA (the CPU has a forward only)."""

    features = frozenset({"gqa", "window", "alibi", "softcap"})

    def __init__(
        self, required: frozenset[str] = frozenset(), check_available: bool = True, head_dim: int = 0, seq_len: int = 0
    ) -> None:
        super().__init__(required, check_available, head_dim, seq_len)
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
        attend = _compiled_flex_attention() if q.is_cuda else flex_attention
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the eager fallback off CUDA warns on every call
            return attend(q, k, v, score_mod=modify, block_mask=block_mask, enable_gqa=k.size(1) != q.size(1))


def _flash_layout(q, k, v):
    """q, k, v as the flash-attn kernels want them: (batch, seq, heads, dim), in a half dtype."""
    dtype = q.dtype if q.dtype in (torch.float16, torch.bfloat16) else torch.bfloat16
    return (t.transpose(1, 2).to(dtype) for t in (q, k, v))


def _installed(module: str) -> bool:
    """Whether ``module`` (dotted) can be imported; find_spec of a submodule raises if its parent is missing."""
    parent = module.partition(".")[0]
    return importlib.util.find_spec(parent) is not None and importlib.util.find_spec(module) is not None


def _cuda_capability() -> int:
    major, minor = torch.cuda.get_device_capability()
    return 10 * major + minor


@register("attention", "flash")
class FlashAttention(Kernel):
    """FlashAttention-2 (Dao 2023, arXiv:2307.08691) from the flash-attn package, on CUDA; runs in bfloat16."""

    features = frozenset({"gqa", "window", "alibi", "softcap", "dropout"})

    @staticmethod
    def unavailable() -> str:
        if not _installed("flash_attn.flash_attn_interface"):
            return "the flash-attn package (FlashAttention-2) is not installed (pip install flash-attn)"
        return "" if torch.cuda.is_available() else "flash-attn needs a CUDA GPU"

    @staticmethod
    def head_dim_problem(head_dim: int) -> str:
        return "" if head_dim <= 256 else "flash-attn 2 takes head sizes up to 256"

    def __call__(self, q, k, v, *, window=0, softcap=0.0, alibi=None, dropout=0.0, mask=None):
        from flash_attn import flash_attn_func

        out_dtype = q.dtype
        q, k, v = _flash_layout(q, k, v)
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
        return y.transpose(1, 2).to(out_dtype)


@register("attention", "flash4")
class Flash4Attention(Kernel):
    """FlashAttention-4 (the flash-attn-4 package, ``flash_attn.cute``: CuTe-DSL kernels for Hopper and
    Blackwell, from the FlashAttention-3 line of Shah et al. 2024, arXiv:2407.08608); runs in bfloat16."""

    features = frozenset({"gqa", "window", "softcap"})

    @staticmethod
    def unavailable() -> str:
        if not _installed("flash_attn.cute"):
            return "the flash-attn-4 package (flash_attn.cute) is not installed (pip install flash-attn-4)"
        if not torch.cuda.is_available():
            return "flash-attn-4 needs a CUDA GPU"
        return "" if _cuda_capability() >= 80 else "flash-attn-4 needs a GPU of compute capability 8.0 or newer"

    @staticmethod
    def head_dim_problem(head_dim: int) -> str:
        if head_dim % 8:
            return "flash-attn-4 takes head sizes that are multiples of 8"
        blackwell = torch.cuda.is_available() and _cuda_capability() // 10 in (10, 11)
        if blackwell and not (head_dim <= 128 or head_dim == 256):
            return "flash-attn-4 on Blackwell takes head sizes up to 128, or 256"
        return "" if 8 <= head_dim <= 256 else "flash-attn-4 takes head sizes from 8 to 256"

    def __call__(self, q, k, v, *, window=0, softcap=0.0, alibi=None, dropout=0.0, mask=None):
        from flash_attn.cute import flash_attn_func

        out_dtype = q.dtype
        q, k, v = _flash_layout(q, k, v)
        y, _ = flash_attn_func(
            q, k, v, causal=True, window_size=(window - 1, 0) if window > 0 else (None, None), softcap=softcap
        )
        return y.transpose(1, 2).to(out_dtype)


@register("attention", "auto")
def auto_attention(required: frozenset[str] = frozenset(), head_dim: int = 0, seq_len: int = 0) -> Kernel:
    """The first kernel that runs here and supports the config, in the order of AUTO_ORDER, or of
    LONG_AUTO_ORDER for sequences of LONG_SEQUENCE tokens or more."""
    order = LONG_AUTO_ORDER if seq_len >= LONG_SEQUENCE else AUTO_ORDER
    for name in order:
        kernel = lookup("attention", name).target
        runs = not kernel.unavailable() and not (head_dim and kernel.head_dim_problem(head_dim))
        if required <= kernel.features and runs:
            return kernel(required, head_dim=head_dim, seq_len=seq_len)
    raise ConfigError(f"model.attention=auto found no kernel for {', '.join(sorted(required))}.")


def build_kernel(name: str, required: frozenset[str], head_dim: int = 0, seq_len: int = 0, fallback: bool = True):
    """The kernel ``model.attention=name`` for this machine. If it cannot run here and ``fallback`` is
    on, the first kernel of FALLBACK_ORDER that runs and has every ``required`` feature (a softcap moves
    past sdpa to math), with one logged line; without ``fallback`` the kernel's own error is raised."""
    target = lookup("attention", name, key="model.attention").target
    reason = target.unavailable() if isinstance(target, type) and issubclass(target, Kernel) else ""
    if reason and fallback:
        for other in FALLBACK_ORDER:
            kernel = lookup("attention", other).target
            if required <= kernel.features and not kernel.unavailable() and not kernel.head_dim_problem(head_dim):
                log.warning("model.attention=%s cannot run here (%s): using %s instead.", name, reason, other)
                return kernel(required, head_dim=head_dim, seq_len=seq_len)
    return build_part("attention", name, required, head_dim=head_dim, seq_len=seq_len, key="model.attention")


def check_kernel(name: str, required: frozenset[str], head_dim: int = 0, seq_len: int = 0) -> None:
    """Fail early if kernel ``name`` lacks a ``required`` feature or cannot take the head size; whether
    it runs on this machine is left to :func:`build_kernel`."""
    target = lookup("attention", name, key="model.attention").target
    if isinstance(target, type) and issubclass(target, Kernel):
        target(required, check_available=False, head_dim=head_dim, seq_len=seq_len)
    else:
        target(required, head_dim=head_dim, seq_len=seq_len)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with n_kv_head key/value heads: MHA (= n_head), GQA (fewer;
    Ainslie et al. 2023, arXiv:2305.13245) or MQA (one; Shazeer 2019, arXiv:1911.02150); optional
    QK-norm (Henry et al. 2020, arXiv:2010.04245)."""

    qkv, proj = submodules("qkv", "proj")

    def __init__(self, cfg, kernel: Kernel, positions, window: int = 0):
        super().__init__()
        self.n_head, self.n_kv_head = cfg.n_head, cfg.kv_heads
        self.head_dim = cfg.d_model // cfg.n_head
        self.qkv = Linear(cfg.d_model, (self.n_head + 2 * self.n_kv_head) * self.head_dim, bias=cfg.bias)
        self.proj = Linear(self.n_head * self.head_dim, cfg.d_model, bias=cfg.bias)
        self.proj.is_residual_projection = True
        self.q_norm = build_part(
            "norm", cfg.qk_norm, self.head_dim, bias=cfg.bias, eps=cfg.norm_eps, key="model.qk_norm"
        )
        self.k_norm = build_part(
            "norm", cfg.qk_norm, self.head_dim, bias=cfg.bias, eps=cfg.norm_eps, key="model.qk_norm"
        )
        self.qk_normed = not isinstance(self.q_norm, nn.Identity)  # model.qk_norm=none: no call at all
        self.kernel, self.window, self.softcap, self.dropout = kernel, window, cfg.attn_softcap, cfg.dropout
        self.rotate, self.position_args = positions.rotate, positions.kernel_args  # shared, not owned
        self.has_position_args = bool(positions.kernel_features)  # ALiBi's slopes; else no call per step
        self.head_groups = [self.n_head + self.n_kv_head, self.n_kv_head]  # split sizes: (queries + keys, values)
        self.qk_heads = [self.n_head, self.n_kv_head]
        self.resid_dropout = Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, cache=None, start: int = 0) -> torch.Tensor:
        """``mask`` (batch, seq, seq): True where a query may see a key (document masking). ``cache`` (a
        :class:`gptlab.model.cache.LayerCache`): store this chunk's keys and values at ``start`` and attend
        over every cached position too."""
        batch, seq, _ = x.shape
        # split_with_sizes: Tensor.split's Python wrapper costs as much again
        qk, v = self.qkv(x).view(batch, seq, -1, self.head_dim).split_with_sizes(self.head_groups, 2)
        if self.qk_normed:  # each its own norm, then each turned
            q, k = qk.split_with_sizes(self.qk_heads, 2)
            q, k = (
                self.rotate(self.q_norm(q).transpose(1, 2), start),
                self.rotate(self.k_norm(k).transpose(1, 2), start),
            )
        else:  # query and key heads turned at once
            q, k = self.rotate(qk.transpose(1, 2), start).split_with_sizes(self.qk_heads, 1)
        v = v.transpose(1, 2)  # q, k, v: (batch, heads, seq, head_dim)
        if cache is not None:
            k, v = cache.store(k, v, start)
        extra = self.position_args() if self.has_position_args else {}
        if mask is not None:
            extra = {**extra, "mask": mask}
        dropout = self.dropout if self.training else 0.0
        y = self.kernel(q, k, v, window=self.window, softcap=self.softcap, dropout=dropout, **extra)
        y = self.proj(y.transpose(1, 2).reshape(batch, seq, -1))
        return self.resid_dropout(y) if self.training else y  # eval: no module call (~5 us each in a decode step)
