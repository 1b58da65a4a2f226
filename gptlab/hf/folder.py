"""Hugging Face model folders: write a gptlab model as one (:func:`to_hf`), read one as a gptlab model
(:func:`from_hf`). Weights are safetensors only, never pickles; the folder carries its tokenizer.
:func:`to_transformers` builds the same ``transformers`` model in memory, without a folder.

A folder holds config.json, model.safetensors (or shards with model.safetensors.index.json),
generation_config.json and the tokenizer files of :mod:`gptlab.hf.tokenizer`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import torch

from gptlab.errors import ConfigError, GptlabError
from gptlab.hf.convert import MODEL_TYPES, SUPPORTED, HFModel, gptlab_config, to_gptlab_state, to_hf_model
from gptlab.hf.tokenizer import read_tokenizer, write_tokenizer
from gptlab.model.gpt import GPT, GPTConfig
from gptlab.tokenizer import Tokenizer

WEIGHTS_FILE, WEIGHTS_INDEX = "model.safetensors", "model.safetensors.index.json"
PICKLED_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "model.ckpt")
IMPORT_OVERRIDES = ("block_size", "attention", "dropout")  # what from_hf may change: none alters the function


class Pretrained(NamedTuple):
    """A model with its tokenizer and typed config; unpacks as ``model, tokenizer, config``."""

    model: GPT
    tokenizer: Tokenizer
    config: GPTConfig


def model_state(model: GPT) -> dict[str, torch.Tensor]:
    """The model's weights on the CPU, without the training-only multi-token heads."""
    return {name: t.detach().cpu() for name, t in model.state_dict().items() if not name.startswith("extra_heads.")}


def load_model_state(model: GPT, state: dict[str, torch.Tensor]) -> None:
    """Load converted weights; a tied head and the multi-token heads come from elsewhere."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [name for name in missing if not name.startswith("extra_heads.") and name != "head.weight"]
    if missing or unexpected:
        raise GptlabError(f"The converted weights do not fit the model: missing {missing}, unexpected {unexpected}.")


# ------------------------------------------------------------------------------ export


def to_hf(model: GPT, tokenizer: Tokenizer, out_dir: str | Path, overwrite: bool = False) -> Path:
    """Write ``model`` and ``tokenizer`` as a Hugging Face model folder at ``out_dir``.

    An existing non-empty ``out_dir`` is refused unless ``overwrite``; the folder is written beside it and
    swapped in only when complete, so a failed export never leaves half a folder or removes the old one."""
    from safetensors.torch import save_file

    if not isinstance(getattr(model, "cfg", None), GPTConfig):
        name = getattr(getattr(model, "cfg", None), "name", type(model).__name__)
        raise ConfigError(f"model.name={name} cannot be exported to Hugging Face; only model.name=gpt models can.")
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())) and not overwrite:
        raise GptlabError(f"'{out_dir}' already exists. Choose a new folder, or pass --overwrite to replace it.")
    if getattr(model, "vocab_size", tokenizer.vocab_size) != tokenizer.vocab_size:
        raise GptlabError(f"The model has {model.vocab_size} token ids but the tokenizer {tokenizer.vocab_size}.")
    cfg = model.cfg
    hf = to_hf_model(cfg, model_state(model), tokenizer.vocab_size)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        transformers_config(hf, **_token_ids(tokenizer)).save_pretrained(staging)
        _generation_config(tokenizer).save_pretrained(staging)
        save_file(hf.weights, staging / WEIGHTS_FILE, metadata={"format": "pt"})
        write_tokenizer(tokenizer, staging, cfg.block_size)
        if out_dir.exists():
            shutil.rmtree(out_dir) if out_dir.is_dir() else out_dir.unlink()
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def _token_ids(tokenizer: Tokenizer) -> dict[str, int | None]:
    return {"bos_token_id": tokenizer.bos_id, "eos_token_id": tokenizer.eos_id, "pad_token_id": tokenizer.pad_id}


def transformers_config(hf: HFModel, **fields: Any):
    """``hf``'s config.json fields as a ``transformers`` config object; ``fields`` are added or replace them."""
    from transformers import AutoConfig

    fields = {**{name: value for name, value in hf.config.items() if name != "model_type"}, **fields}
    config = AutoConfig.for_model(hf.config["model_type"], **fields)
    config.architectures = [hf.architecture]
    return config


def to_transformers(model: GPT, **fields: Any):
    """The ``transformers`` causal LM computing ``model``, with its weights, in memory (e.g. a Llama twin to
    compare against); ``fields`` change its config (``max_position_embeddings``, ...)."""
    from transformers import AutoModelForCausalLM

    hf = to_hf_model(model.cfg, model_state(model), model.vocab_size)
    twin = AutoModelForCausalLM.from_config(transformers_config(hf, **fields))
    missing, unexpected = twin.load_state_dict(hf.weights, strict=False)
    missing = [name for name in missing if not (model.cfg.tie_embeddings and name == "lm_head.weight")]
    if missing or unexpected:
        raise GptlabError(
            f"The converted weights do not fit {hf.architecture}: missing {missing}, unexpected {unexpected}."
        )
    return twin


def _generation_config(tokenizer: Tokenizer):
    from transformers import GenerationConfig

    return GenerationConfig(**_token_ids(tokenizer))


# ------------------------------------------------------------------------------ import


def read_config(folder: Path) -> tuple[str, dict[str, Any]]:
    """(architecture, config.json with transformers' defaults filled in); unsupported architectures are named."""
    path = folder / "config.json"
    if not path.is_file():
        raise GptlabError(
            f"'{folder}' is not a Hugging Face model folder: it has no config.json. Pass the folder that holds "
            f"config.json, model.safetensors and tokenizer.json."
        )
    try:
        raw = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as error:
        raise GptlabError(f"'{path}' is not valid JSON: {error}.") from None
    by_model_type = {model_type: architecture for architecture, model_type in MODEL_TYPES.items()}
    architectures = raw.get("architectures") or [by_model_type.get(raw.get("model_type"), raw.get("model_type"))]
    architecture = architectures[0]
    if architecture not in SUPPORTED:
        raise ConfigError(
            f"'{folder}' holds a {architecture} (model_type {raw.get('model_type')}), which gptlab cannot import. "
            f"Supported architectures: {', '.join(SUPPORTED)}."
        )
    from transformers import AutoConfig

    return architecture, AutoConfig.from_pretrained(folder).to_dict()


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The safetensors weights of a folder, one file or shards; pickled weights are refused."""
    from safetensors.torch import load_file

    if (folder / WEIGHTS_FILE).is_file():
        return load_file(folder / WEIGHTS_FILE)
    if (folder / WEIGHTS_INDEX).is_file():
        shards = sorted(set(json.loads((folder / WEIGHTS_INDEX).read_text("utf-8"))["weight_map"].values()))
        return {name: t for shard in shards for name, t in load_file(folder / shard).items()}
    pickled = [name for name in PICKLED_WEIGHTS if (folder / name).is_file()]
    if pickled:
        raise GptlabError(
            f"'{folder}' holds its weights as pickles ({', '.join(pickled)}); gptlab reads only safetensors, which "
            f"cannot run code on load. Convert once where you trust the file: AutoModelForCausalLM.from_pretrained("
            f"path).save_pretrained(path, safe_serialization=True)."
        )
    raise GptlabError(f"'{folder}' has no {WEIGHTS_FILE} (nor {WEIGHTS_INDEX}): it holds no model weights.")


def from_hf(path: str | Path, **overrides: Any) -> Pretrained:
    """A gptlab model, tokenizer and config from a local Hugging Face Llama, Qwen2, Qwen3 or GPT-2 folder.

    ``overrides`` may set ``block_size`` (a shorter context; learned positions are cut), ``attention``
    (the kernel) and ``dropout``. The vocabulary is cut to the tokenizer's (models often pad theirs)."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise GptlabError(f"'{folder}' is not a folder. Pass a local Hugging Face model folder (with config.json).")
    unknown = sorted(set(overrides) - set(IMPORT_OVERRIDES))
    if unknown:
        raise ConfigError(f"from_hf cannot override {unknown}; it takes {', '.join(IMPORT_OVERRIDES)}.")
    architecture, config = read_config(folder)
    cfg = gptlab_config(architecture, config, **{k: v for k, v in overrides.items() if v is not None})
    weights = read_weights(folder)
    tokenizer = read_tokenizer(folder, config)
    rows = config["vocab_size"]
    if tokenizer.vocab_size > rows:
        raise GptlabError(
            f"The tokenizer of '{folder}' has {tokenizer.vocab_size} ids but the model only {rows} embedding rows."
        )
    state = to_gptlab_state(HFModel(architecture, config, weights), cfg, tokenizer.vocab_size)
    model = GPT(cfg, tokenizer.vocab_size)
    load_model_state(model, state)
    return Pretrained(model.eval(), tokenizer, cfg)
