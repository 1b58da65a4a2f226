"""The GPT: token embedding -> positions -> blocks -> final norm -> head.

Radford et al. 2019 ("Language Models are Unsupervised Multitask Learners"), as in nanoGPT. Every
architectural knob is a field of :class:`GPTConfig` (``config.py``); where it chooses between
alternatives it names a registered part (norm, position, attention kernel, MLP, norm placement,
init), so this file only wires parts together and never branches on a name.
"""

from __future__ import annotations

import torch
from torch import nn

from gptlab.model import counting
from gptlab.model.attention import CausalSelfAttention
from gptlab.model.attributes import submodules
from gptlab.model.cache import KVCache
from gptlab.model.config import GPTConfig
from gptlab.model.dropout import Dropout
from gptlab.model.head import LMHead
from gptlab.model.moe import MixtureOfExperts, add_moe_losses
from gptlab.model.mtp import MultiTokenHeads
from gptlab.model.output import ModelOutput
from gptlab.registry import build_part, lookup, register


class Block(nn.Module):
    """A transformer block: attention, then a feed-forward (an MLP, or a mixture of experts in the layers
    ``model.moe_layers`` names), each a residual branch with its own norm, placed before the branch
    (pre-norm) or after the sum (post-norm) as ``model.norm_placement`` says."""

    attn_norm, attn, mlp_norm, mlp = submodules("attn_norm", "attn", "mlp_norm", "mlp")

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

    token_embedding, positions, blocks, final_norm, head = submodules(
        "token_embedding", "positions", "blocks", "final_norm", "head"
    )

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
            cfg.d_model,
            vocab_size,
            softcap=cfg.logit_softcap,
            z_loss=cfg.z_loss,
            chunk_tokens=cfg.loss_chunk_tokens,
            loss_kernel=cfg.loss_kernel,
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
        logits_to_keep: int = 0,
    ) -> ModelOutput:
        """Logits (batch, seq, vocab) for token ids (batch, seq), and with ``targets`` the training loss.

        ``doc_ids`` (batch, seq) keeps attention inside each document (``data.doc_mask``). ``cache``
        (:class:`gptlab.model.cache.KVCache`): ``idx`` continues the cached tokens, its positions start
        at ``cache.length``; the logits cover the new tokens only and the cache grows by them.
        ``logits_to_keep`` > 0 (inference): logits for the last that many tokens only, e.g. 1 when a prompt
        is read to predict the next token (the head's product for every prompt token is skipped).
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
        x = self.positions.embed(x, start)
        x = self.dropout(x) if self.training else x  # eval: no module call
        moe_stats = []
        for i, block in enumerate(self.blocks):
            x, stats = block(x, mask, None if cache is None else cache.layers[i], start)
            if stats is not None:
                moe_stats.append(stats)
        if cache is not None:
            cache.advance(idx.size(1))
        if logits_to_keep:
            x = x[:, -logits_to_keep:]
        out = self.head(self.final_norm(x), targets)
        if targets is None:  # inference: no MTP heads, no auxiliary losses
            return out
        out = self.extra_heads(x, targets, out, self.final_norm, self.head)  # no MTP heads: out as is
        return add_moe_losses(moe_stats, out)  # dense MLPs: out as is

    @staticmethod
    def counts(cfg: GPTConfig, vocab_size: int, batch_size: int) -> tuple[int, int]:
        """(parameters, activation elements of one batch) from the config alone, without building the model."""
        return counting.parameter_count(cfg, vocab_size), counting.activation_elements(cfg, vocab_size, batch_size)

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
