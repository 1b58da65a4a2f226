"""gptlab's GPT <-> Hugging Face causal LMs: pure functions over configs and state dicts.

Two families of Hugging Face models have an exact gptlab equivalent:

- **Llama** (Touvron et al. 2023): RMSNorm, RoPE (split halves, as gptlab rotates), SwiGLU or GeGLU,
  GQA. ``LlamaForCausalLM``; ``Qwen2ForCausalLM`` when only q/k/v carry biases; ``Qwen3ForCausalLM``
  with QK-norm (Qwen team 2025, arXiv:2505.09388).
- **GPT-2** (Radford et al. 2019): LayerNorm with bias, learned positions, a plain MLP (``gelu_tanh`` is
  GPT-2's own GELU), q/k/v packed in Conv1D layers whose weights are stored transposed.

:func:`hf_config` refuses, naming every knob, a gptlab config with no Hugging Face equivalent;
:func:`gptlab_config` refuses a Hugging Face config it cannot represent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from gptlab.errors import ConfigError
from gptlab.model.gpt import GPTConfig

LLAMA_ACTIVATIONS = {"swiglu": "silu", "geglu": "gelu"}  # gated MLPs: act(gate) * up
GPT2_ACTIVATIONS = {"gelu_tanh": "gelu_new", "gelu": "gelu", "relu": "relu", "silu": "silu", "relu2": "relu2"}
GPT2_ACTIVATIONS_IN = {**{v: k for k, v in GPT2_ACTIVATIONS.items()}, "gelu_pytorch_tanh": "gelu_tanh", "swish": "silu"}
GPT2_ARCHITECTURE = "GPT2LMHeadModel"
MODEL_TYPES = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2", "Qwen3ForCausalLM": "qwen3"}
MODEL_TYPES[GPT2_ARCHITECTURE] = "gpt2"  # architecture -> config.json's model_type
SUPPORTED = tuple(MODEL_TYPES)
DEFAULT_EPS = {"layernorm": 1e-5, "rmsnorm": 1e-6}
ROPE_SCALINGS = ("none", "linear", "llama3")  # gptlab's model.rope_scaling = Hugging Face's rope_type (none: default)
LLAMA3_FACTORS = {"low_freq_factor": 1.0, "high_freq_factor": 4.0}  # what gptlab's llama3 scaling computes


@dataclass
class HFModel:
    """A Hugging Face model as plain data: its architecture, config.json fields and weights (HF names)."""

    architecture: str
    config: dict[str, Any]
    weights: dict[str, torch.Tensor]


# ------------------------------------------------------------------------------ gptlab -> HF


def refused_knobs(cfg: GPTConfig) -> list[str]:
    """The knobs of ``cfg`` that no exported Hugging Face architecture computes (empty: exportable)."""
    checks = {
        "model.name": cfg.name == "gpt",
        "model.norm_placement": cfg.norm_placement == "pre",
        "model.final_norm": cfg.final_norm,
        "model.window_size": cfg.window_size == 0 and "local" not in cfg.window_pattern,
        "model.attn_softcap": cfg.attn_softcap == 0,
        "model.logit_softcap": cfg.logit_softcap == 0,
        "model.embed_scale": cfg.embed_scale == 1.0,
        "model.moe_experts": cfg.moe_experts == 0,
        "model.rope_scaling": cfg.rope_scaling in ROPE_SCALINGS,
    }
    refused = [f"{key}={getattr(cfg, key.split('.')[1])}" for key, ok in checks.items() if not ok]
    family = (cfg.norm, cfg.pos)
    if family == ("rmsnorm", "rope"):
        if cfg.mlp not in LLAMA_ACTIVATIONS:
            refused.append(f"model.mlp={cfg.mlp} (Llama/Qwen take {', '.join(LLAMA_ACTIVATIONS)})")
        if cfg.qk_norm not in ("none", "rmsnorm"):
            refused.append(f"model.qk_norm={cfg.qk_norm} (Qwen3 takes rmsnorm)")
    elif family == ("layernorm", "learned"):
        if cfg.mlp not in GPT2_ACTIVATIONS:
            refused.append(f"model.mlp={cfg.mlp} (GPT-2 takes {', '.join(GPT2_ACTIVATIONS)})")
        if not cfg.bias:
            refused.append("model.bias=false (GPT-2's LayerNorms and layers have biases)")
        if cfg.kv_heads != cfg.n_head:
            refused.append(f"model.n_kv_head={cfg.n_kv_head} (GPT-2 has one key/value head per query head)")
        if cfg.qk_norm != "none":
            refused.append(f"model.qk_norm={cfg.qk_norm} (GPT-2 has no QK-norm)")
    else:
        refused.append(
            f"model.norm={cfg.norm} with model.pos={cfg.pos} (Llama/Qwen: norm=rmsnorm pos=rope; "
            f"GPT-2: norm=layernorm pos=learned)"
        )
    return refused


def hf_architecture(cfg: GPTConfig, state: dict[str, torch.Tensor]) -> str:
    """Which Hugging Face class computes ``cfg`` (with ``state``, whose zero biases may be left out)."""
    problems = refused_knobs(cfg)
    if problems:
        raise ConfigError(
            "This model cannot be exported to Hugging Face; these knobs have no equivalent there: "
            + "; ".join(problems)
            + ". Export supports Llama/Qwen2/Qwen3 (rmsnorm, rope, swiglu or geglu, optional qk_norm=rmsnorm) "
            "and GPT-2 (layernorm with bias, learned positions, a plain MLP) models."
        )
    if cfg.norm == "layernorm":
        return GPT2_ARCHITECTURE
    if cfg.qk_norm == "rmsnorm":
        if cfg.bias and _any_nonzero(state, ".mlp.up.bias", ".mlp.down.bias"):
            raise ConfigError(
                "model.bias=true with model.qk_norm=rmsnorm exports as Qwen3, which has no MLP biases, and this "
                "model's MLP biases are not zero. Train with model.bias=false to export it."
            )
        return "Qwen3ForCausalLM"
    qwen2 = cfg.bias and not _any_nonzero(state, ".attn.proj.bias", ".mlp.up.bias", ".mlp.down.bias")
    return "Qwen2ForCausalLM" if qwen2 else "LlamaForCausalLM"


def _any_nonzero(state: dict[str, torch.Tensor], *suffixes: str) -> bool:
    return any(bool(t.any()) for name, t in state.items() if name.endswith(suffixes))


def hf_config(cfg: GPTConfig, architecture: str, vocab_size: int, state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The config.json fields of ``architecture`` for a gptlab model (v4-style rope keys, which transformers 5
    reads too; the token ids are added by the caller)."""
    eps = cfg.norm_eps if cfg.norm_eps is not None else DEFAULT_EPS[cfg.norm]
    common = {"vocab_size": vocab_size, "tie_word_embeddings": cfg.tie_embeddings, "torch_dtype": "float32"}
    if architecture == GPT2_ARCHITECTURE:
        return {
            **common,
            "model_type": MODEL_TYPES[architecture],
            "n_embd": cfg.d_model,
            "n_layer": cfg.n_layer,
            "n_head": cfg.n_head,
            "n_positions": cfg.block_size,
            "n_inner": None if cfg.mlp_width == 4 * cfg.d_model else cfg.mlp_width,  # None: GPT-2 reads 4 * n_embd
            "activation_function": GPT2_ACTIVATIONS[cfg.mlp],
            "layer_norm_epsilon": eps,
            "resid_pdrop": cfg.dropout,
            "embd_pdrop": cfg.dropout,
            "attn_pdrop": cfg.dropout,
        }
    config = {
        **common,
        "model_type": MODEL_TYPES[architecture],
        "hidden_size": cfg.d_model,
        "num_hidden_layers": cfg.n_layer,
        "num_attention_heads": cfg.n_head,
        "num_key_value_heads": cfg.kv_heads,
        "head_dim": cfg.d_model // cfg.n_head,
        "intermediate_size": cfg.mlp_width,
        "hidden_act": LLAMA_ACTIVATIONS[cfg.mlp],
        "max_position_embeddings": cfg.block_size,
        "rms_norm_eps": eps,
        "rope_theta": cfg.rope_theta,
        "attention_dropout": cfg.dropout,
    }
    if cfg.rope_scaling == "linear":
        config["rope_scaling"] = {"rope_type": "linear", "factor": cfg.rope_scaling_factor}
    elif cfg.rope_scaling == "llama3":
        original = cfg.rope_original_block_size or max(1, round(cfg.block_size / cfg.rope_scaling_factor))
        config["rope_scaling"] = {"rope_type": "llama3", "factor": cfg.rope_scaling_factor, **LLAMA3_FACTORS}
        config["rope_scaling"]["original_max_position_embeddings"] = original
    if architecture == "LlamaForCausalLM":
        config["attention_bias"] = cfg.bias
        config["mlp_bias"] = cfg.bias and _any_nonzero(state, ".mlp.up.bias", ".mlp.down.bias")
    elif architecture == "Qwen3ForCausalLM":
        config["attention_bias"] = cfg.bias
    if architecture != "LlamaForCausalLM":
        config["use_sliding_window"] = False
    return config


def to_hf_model(cfg: GPTConfig, state: dict[str, torch.Tensor], vocab_size: int) -> HFModel:
    """The Hugging Face model equal to gptlab ``state`` (names as in ``gptlab.model.gpt``: blocks.{i}.attn_norm, ...)."""
    architecture = hf_architecture(cfg, state)
    config = hf_config(cfg, architecture, vocab_size, state)
    convert = _gpt2_weights if architecture == GPT2_ARCHITECTURE else _llama_weights
    weights = convert(cfg, state, config)
    if not cfg.tie_embeddings:
        weights["lm_head.weight"] = state["head.weight"]
    return HFModel(architecture, config, {name: t.detach().contiguous() for name, t in weights.items()})


def _qkv_sizes(cfg: GPTConfig) -> list[int]:
    head_dim = cfg.d_model // cfg.n_head
    return [cfg.n_head * head_dim, cfg.kv_heads * head_dim, cfg.kv_heads * head_dim]


def _llama_weights(cfg: GPTConfig, state: dict[str, torch.Tensor], config: dict) -> dict[str, torch.Tensor]:
    qkv_bias = cfg.bias
    o_bias = config.get("attention_bias", False) and config["model_type"] != "qwen2"
    mlp_bias = config.get("mlp_bias", False)
    out = {
        "model.embed_tokens.weight": state["token_embedding.weight"],
        "model.norm.weight": state["final_norm.weight"],
    }
    for i in range(cfg.n_layer):
        block, layer = f"blocks.{i}.", f"model.layers.{i}."
        out[layer + "input_layernorm.weight"] = state[block + "attn_norm.weight"]
        out[layer + "post_attention_layernorm.weight"] = state[block + "mlp_norm.weight"]
        kinds = ["weight", "bias"] if qkv_bias else ["weight"]
        for kind in kinds:
            q, k, v = state[f"{block}attn.qkv.{kind}"].split(_qkv_sizes(cfg))
            out.update({f"{layer}self_attn.{n}_proj.{kind}": t for n, t in zip("qkv", (q, k, v))})
        for kind in ["weight", "bias"] if o_bias else ["weight"]:
            out[f"{layer}self_attn.o_proj.{kind}"] = state[f"{block}attn.proj.{kind}"]
        if cfg.qk_norm == "rmsnorm":
            out[layer + "self_attn.q_norm.weight"] = state[block + "attn.q_norm.weight"]
            out[layer + "self_attn.k_norm.weight"] = state[block + "attn.k_norm.weight"]
        for kind in ["weight", "bias"] if mlp_bias else ["weight"]:
            gate, up = state[f"{block}mlp.up.{kind}"].chunk(2, dim=0)
            out[f"{layer}mlp.gate_proj.{kind}"], out[f"{layer}mlp.up_proj.{kind}"] = gate, up
            out[f"{layer}mlp.down_proj.{kind}"] = state[f"{block}mlp.down.{kind}"]
    return out


# GPT-2's layers (gptlab name -> HF name under transformer.h.{i}); Conv1D layers store weights as (in, out).
GPT2_LAYERS = {"attn_norm": "ln_1", "attn.qkv": "attn.c_attn", "attn.proj": "attn.c_proj", "mlp_norm": "ln_2"}
GPT2_LAYERS.update({"mlp.up": "mlp.c_fc", "mlp.down": "mlp.c_proj"})
GPT2_CONV1D = ("attn.qkv", "attn.proj", "mlp.up", "mlp.down")


def _gpt2_weights(cfg: GPTConfig, state: dict[str, torch.Tensor], config: dict) -> dict[str, torch.Tensor]:
    out = {
        "transformer.wte.weight": state["token_embedding.weight"],
        "transformer.wpe.weight": state["positions.embedding.weight"],
        "transformer.ln_f.weight": state["final_norm.weight"],
        "transformer.ln_f.bias": state["final_norm.bias"],
    }
    for i in range(cfg.n_layer):
        for ours, theirs in GPT2_LAYERS.items():
            weight = state[f"blocks.{i}.{ours}.weight"]
            out[f"transformer.h.{i}.{theirs}.weight"] = weight.t() if ours in GPT2_CONV1D else weight
            out[f"transformer.h.{i}.{theirs}.bias"] = state[f"blocks.{i}.{ours}.bias"]
    return out


# ------------------------------------------------------------------------------ HF -> gptlab


def _get(config: dict, key: str, default: Any = None) -> Any:
    value = config.get(key, default)
    return default if value is None else value


def _rope(config: dict) -> tuple[float, dict]:
    """(theta, scaling) from either convention: transformers 5's rope_parameters or 4's rope_theta/rope_scaling."""
    params = config.get("rope_parameters") or {}
    scaling = params if params.get("rope_type", "default") != "default" else (config.get("rope_scaling") or {})
    theta = params.get("rope_theta") or config.get("rope_theta") or 10000.0
    return float(theta), scaling


def gptlab_config(architecture: str, config: dict[str, Any], **overrides: Any) -> GPTConfig:
    """The GPTConfig computing the Hugging Face ``config`` (config.json as a dict, defaults filled in)."""
    if architecture not in SUPPORTED:
        raise ConfigError(
            f"Hugging Face architecture '{architecture}' is not supported; gptlab imports {', '.join(SUPPORTED)}."
        )
    fields = _gpt2_fields(config) if architecture == GPT2_ARCHITECTURE else _llama_fields(architecture, config)
    learned = fields["block_size"] if architecture == GPT2_ARCHITECTURE else None
    if learned and overrides.get("block_size", 0) > learned:
        raise ConfigError(
            f"block_size={overrides['block_size']} (model.block_size) is longer than the {learned} positions this "
            f"GPT-2 learned (n_positions); use at most {learned}."
        )
    return GPTConfig(**{**fields, **overrides})


def _refuse(architecture: str, problems: list[str]) -> None:
    if problems:
        raise ConfigError(f"This {architecture} cannot be imported into gptlab: {'; '.join(problems)}.")


def _llama_fields(architecture: str, config: dict) -> dict[str, Any]:
    d_model, n_head = config["hidden_size"], config["num_attention_heads"]
    head_dim = _get(config, "head_dim", d_model // n_head)
    theta, scaling = _rope(config)
    rope_type = scaling.get("rope_type") or scaling.get("type") or "default"
    problems = []
    if head_dim * n_head != d_model:
        problems.append(f"head_dim={head_dim} is not hidden_size/num_attention_heads={d_model}/{n_head}")
    if config.get("hidden_act") not in {v: k for k, v in LLAMA_ACTIVATIONS.items()}:
        problems.append(f"hidden_act={config.get('hidden_act')} (gptlab has {', '.join(LLAMA_ACTIVATIONS.values())})")
    if rope_type not in ("default", *ROPE_SCALINGS):
        problems.append(f"rope scaling rope_type={rope_type} (gptlab maps default, linear and llama3)")
    elif rope_type == "llama3" and any(float(scaling.get(k, v)) != v for k, v in LLAMA3_FACTORS.items()):
        problems.append(f"llama3 rope scaling with factors other than {LLAMA3_FACTORS}")
    if config.get("use_sliding_window"):
        problems.append("use_sliding_window=true")
    _refuse(architecture, problems)
    bias = {
        "LlamaForCausalLM": bool(config.get("attention_bias")) or bool(config.get("mlp_bias")),
        "Qwen2ForCausalLM": True,
        "Qwen3ForCausalLM": bool(config.get("attention_bias")),
    }[architecture]
    return {
        "n_layer": config["num_hidden_layers"],
        "n_head": n_head,
        "n_kv_head": _get(config, "num_key_value_heads", n_head),
        "d_model": d_model,
        "block_size": config["max_position_embeddings"],
        "mlp": {v: k for k, v in LLAMA_ACTIVATIONS.items()}[config["hidden_act"]],
        "mlp_hidden": config["intermediate_size"],
        "norm": "rmsnorm",
        "norm_eps": float(_get(config, "rms_norm_eps", 1e-6)),
        "qk_norm": "rmsnorm" if architecture == "Qwen3ForCausalLM" else "none",
        "pos": "rope",
        "rope_theta": theta,
        "rope_scaling": rope_type if rope_type in ROPE_SCALINGS else "none",
        "rope_scaling_factor": float(scaling.get("factor", 1.0)) if rope_type != "default" else 1.0,
        "rope_original_block_size": int(scaling.get("original_max_position_embeddings") or 0),
        "tie_embeddings": bool(config.get("tie_word_embeddings", False)),
        "bias": bias,
    }


def _gpt2_fields(config: dict) -> dict[str, Any]:
    activation = config.get("activation_function", "gelu_new")
    problems = []
    if activation not in GPT2_ACTIVATIONS_IN:
        problems.append(f"activation_function={activation} (gptlab has {', '.join(GPT2_ACTIVATIONS_IN)})")
    if config.get("scale_attn_by_inverse_layer_idx"):
        problems.append("scale_attn_by_inverse_layer_idx=true")
    if not config.get("scale_attn_weights", True):
        problems.append("scale_attn_weights=false")
    if config.get("add_cross_attention"):
        problems.append("add_cross_attention=true")
    _refuse(GPT2_ARCHITECTURE, problems)
    return {
        "n_layer": config["n_layer"],
        "n_head": config["n_head"],
        "d_model": config["n_embd"],
        "block_size": config["n_positions"],
        "mlp": GPT2_ACTIVATIONS_IN[activation],
        "mlp_hidden": _get(config, "n_inner", 4 * config["n_embd"]),
        "norm": "layernorm",
        "norm_eps": float(_get(config, "layer_norm_epsilon", 1e-5)),
        "pos": "learned",
        "tie_embeddings": bool(config.get("tie_word_embeddings", True)),
        "bias": True,
    }


def to_gptlab_state(hf: HFModel, cfg: GPTConfig, vocab_size: int) -> dict[str, torch.Tensor]:
    """The gptlab state dict (blocks.{i}.attn_norm, ... names) of ``hf`` for ``cfg``; the vocabulary is cut to
    ``vocab_size`` rows (Hugging Face models often pad theirs) and biases HF leaves out are zero."""
    convert = _gpt2_state if hf.architecture == GPT2_ARCHITECTURE else _llama_state
    state = convert(cfg, hf.weights)
    state["token_embedding.weight"] = state["token_embedding.weight"][:vocab_size]
    if not cfg.tie_embeddings:
        state["head.weight"] = hf.weights["lm_head.weight"][:vocab_size]
    return state


def _weight(weights: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    if name not in weights:
        raise ConfigError(f"The Hugging Face weights lack '{name}', which the model's config.json implies.")
    return weights[name]


def _llama_state(cfg: GPTConfig, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    def take(name: str, like: torch.Tensor | None = None) -> torch.Tensor:
        """A weight; a bias the file leaves out is zero (gptlab's model.bias covers every layer)."""
        if like is not None and name not in weights:
            return torch.zeros(like.size(0), dtype=like.dtype)
        return _weight(weights, name)

    state = {
        "token_embedding.weight": take("model.embed_tokens.weight"),
        "final_norm.weight": take("model.norm.weight"),
    }
    for i in range(cfg.n_layer):
        block, layer = f"blocks.{i}.", f"model.layers.{i}."
        state[block + "attn_norm.weight"] = take(layer + "input_layernorm.weight")
        state[block + "mlp_norm.weight"] = take(layer + "post_attention_layernorm.weight")
        q, k, v = (take(f"{layer}self_attn.{n}_proj.weight") for n in "qkv")
        state[block + "attn.qkv.weight"] = torch.cat([q, k, v])
        state[block + "attn.proj.weight"] = take(layer + "self_attn.o_proj.weight")
        if cfg.qk_norm == "rmsnorm":
            state[block + "attn.q_norm.weight"] = take(layer + "self_attn.q_norm.weight")
            state[block + "attn.k_norm.weight"] = take(layer + "self_attn.k_norm.weight")
        gate, up = take(layer + "mlp.gate_proj.weight"), take(layer + "mlp.up_proj.weight")
        state[block + "mlp.up.weight"] = torch.cat([gate, up])
        state[block + "mlp.down.weight"] = take(layer + "mlp.down_proj.weight")
        if cfg.bias:
            biases = [take(f"{layer}self_attn.{n}_proj.bias", w) for n, w in zip("qkv", (q, k, v))]
            state[block + "attn.qkv.bias"] = torch.cat(biases)
            state[block + "attn.proj.bias"] = take(layer + "self_attn.o_proj.bias", state[block + "attn.proj.weight"])
            gate_bias, up_bias = take(layer + "mlp.gate_proj.bias", gate), take(layer + "mlp.up_proj.bias", up)
            state[block + "mlp.up.bias"] = torch.cat([gate_bias, up_bias])
            state[block + "mlp.down.bias"] = take(layer + "mlp.down_proj.bias", state[block + "mlp.down.weight"])
    return state


def _gpt2_state(cfg: GPTConfig, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    weights = {name.removeprefix("transformer."): t for name, t in weights.items()}
    state = {
        "token_embedding.weight": _weight(weights, "wte.weight"),
        "positions.embedding.weight": _weight(weights, "wpe.weight")[: cfg.block_size],
        "final_norm.weight": _weight(weights, "ln_f.weight"),
        "final_norm.bias": _weight(weights, "ln_f.bias"),
    }
    for i in range(cfg.n_layer):
        for ours, theirs in GPT2_LAYERS.items():
            weight = _weight(weights, f"h.{i}.{theirs}.weight")
            state[f"blocks.{i}.{ours}.weight"] = weight.t() if ours in GPT2_CONV1D else weight
            state[f"blocks.{i}.{ours}.bias"] = _weight(weights, f"h.{i}.{theirs}.bias")
    return state
