"""Parameter count, training FLOPs per token and a training-memory estimate, from the config alone.

FLOPs follow the convention of Kaplan et al. 2020 (arXiv:2001.08361) and PaLM (Chowdhery et al.
2022, appendix B): 6 per weight a token is multiplied through (2 forward, 4 backward), counting the
head but not the embedding lookups, plus the attention scores and their weighted sum, 12 * n_head *
head_dim * (keys each query attends to) per layer, with all keys of the block counted for a global
layer (the kernels compute the masked half too) and the window for a local one.
"""

from __future__ import annotations

from gptlab.model.moe import MixtureOfExperts
from gptlab.registry import lookup

BYTES_PER_PARAMETER = 4 + 4 + 8  # float32 weight, gradient, and AdamW's two moments


def _attention_weights(cfg) -> int:
    head_dim = cfg.d_model // cfg.n_head
    return cfg.d_model * (cfg.n_head + 2 * cfg.kv_heads) * head_dim + cfg.n_head * head_dim * cfg.d_model


def parameter_count(cfg, vocab_size: int) -> int:
    """Unique parameters of a GPT built from ``cfg`` (a tied head shares the embedding's; the
    multi-token heads add one block each and share the unembedding)."""
    d, head_dim = cfg.d_model, cfg.d_model // cfg.n_head
    norm = lookup("norm", cfg.norm).target.param_count(d, cfg.bias)
    qk_norm = lookup("norm", cfg.qk_norm).target.param_count(head_dim, cfg.bias)
    attention = _attention_weights(cfg) + ((cfg.n_head + 2 * cfg.kv_heads) * head_dim + d if cfg.bias else 0)
    mlp = lookup("mlp", cfg.mlp).target.param_count(d, cfg.mlp_width, cfg.bias)
    feed_forward = [MixtureOfExperts.param_count(cfg) if moe else mlp for moe in cfg.moe_flags()]
    feed_forward += [mlp] * cfg.mtp_heads
    blocks = len(feed_forward) * (2 * norm + 2 * qk_norm + attention) + sum(feed_forward)
    embeddings = vocab_size * d * (1 if cfg.tie_embeddings else 2)
    positions = lookup("position", cfg.pos).target.param_count(cfg)
    return embeddings + positions + blocks + (norm if cfg.final_norm else 0)


def matmul_weights(cfg, vocab_size: int) -> int:
    """The weights each token is multiplied through: attention and MLP matrices (MoE: the router and
    the active experts), and the head (once more per multi-token head, with its block)."""
    mlp = lookup("mlp", cfg.mlp).target.matrices * cfg.d_model * cfg.mlp_width
    feed_forward = [MixtureOfExperts.active_matmul_weights(cfg) if moe else mlp for moe in cfg.moe_flags()]
    feed_forward += [mlp] * cfg.mtp_heads
    head = (1 + cfg.mtp_heads) * cfg.d_model * vocab_size
    return len(feed_forward) * _attention_weights(cfg) + sum(feed_forward) + head


def flops_per_token(cfg, vocab_size: int, seq_len: int | None = None) -> int:
    """Training (forward + backward) FLOPs per token at sequence length ``seq_len`` (default block_size)."""
    seq_len = seq_len or cfg.block_size
    head_dim = cfg.d_model // cfg.n_head
    keys = [min(window, seq_len) if window else seq_len for window in cfg.layer_windows()]
    keys += [seq_len] * cfg.mtp_heads  # the multi-token heads' blocks attend globally
    return 6 * matmul_weights(cfg, vocab_size) + sum(12 * cfg.n_head * head_dim * k for k in keys)


def activation_elements(cfg, vocab_size: int, batch_size: int) -> int:
    """Rough count of the activations kept for the backward pass: per layer ~17 values per token and
    dimension plus 2.5 attention maps per head (Korthikanti et al. 2022, arXiv:2205.05198, sec. 4),
    and the float32 logits with their gradient."""
    tokens, seq = batch_size * cfg.block_size, cfg.block_size
    per_layer = tokens * cfg.d_model * 17 + 2.5 * batch_size * cfg.n_head * seq * seq
    return int(cfg.n_layer * per_layer + 2 * tokens * vocab_size)


def memory_bytes(parameters: int, activation_elements: int, activation_bytes: int = 4) -> int:
    """Weights, gradients and AdamW state in float32, plus ``activation_elements`` of ``activation_bytes`` each."""
    return parameters * BYTES_PER_PARAMETER + activation_elements * activation_bytes


def training_memory_bytes(model, batch_size: int, activation_bytes: int = 4) -> int:
    """:func:`memory_bytes` of a built model for one micro-batch of ``batch_size``."""
    return memory_bytes(model.num_parameters(), model.activation_elements(batch_size), activation_bytes)


def summary(model, batch_size: int, activation_bytes: int = 4) -> str:
    """One line with the model's size, FLOPs per token and estimated training memory."""
    memory = training_memory_bytes(model, batch_size, activation_bytes)
    return (
        f"{model.num_parameters():,} parameters ({model.num_parameters(non_embedding=True):,} non-embedding) | "
        f"{model.flops_per_token():,} training FLOPs per token | ~{memory / 2**20:,.1f} MiB to train at batch "
        f"size {batch_size} (weights, grads, AdamW, activations)"
    )
