"""A local Hugging Face causal LM folder (``config.json`` + weights + tokenizer) as a backend, through ``transformers``.

The engine drives it like a gptlab model; its cache is the model's own ``past_key_values``. Chat
messages are rendered with the tokenizer's chat template when it has one, else as plain
"role: text" lines.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import torch

from gptlab.errors import GptlabError
from gptlab.inference.backends.base import LocalBackend, Messages
from gptlab.inference.engine import Engine

PLAIN_STOP = "\nuser:"


class HFDecoder:
    """A ``transformers`` causal LM decoding on its own KV cache (``past_key_values``)."""

    def __init__(self, model, context: int):
        self.model, self.context = model.eval(), context
        self.device = next(model.parameters()).device
        self.past, self.length = None, 0
        # transformers 5 renamed past_key_values to cache (in the arguments and the output)
        self.cache_key = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

    @property
    def full(self) -> bool:
        return self.length >= self.context

    @torch.inference_mode()
    def start(self, ids: torch.Tensor) -> torch.Tensor:
        out = self.model(input_ids=ids, use_cache=True, logits_to_keep=1)
        self.past, self.length = out[self.cache_key], ids.size(1)
        return out.logits[:, -1]

    @torch.inference_mode()
    def step(self, ids: torch.Tensor) -> torch.Tensor:
        out = self.model(input_ids=ids, use_cache=True, logits_to_keep=1, **{self.cache_key: self.past})
        self.past, self.length = out[self.cache_key], self.length + ids.size(1)
        return out.logits[:, -1]


def is_hf_folder(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file()


def load_causal_lm(path: Path, device: str):
    """Model and tokenizer of a local folder; clear errors for a folder that is not a causal LM."""
    import transformers

    try:
        config = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as error:
        raise GptlabError(f"'{path}' has a config.json that transformers cannot read ({error}).") from None
    if type(config) not in transformers.AutoModelForCausalLM._model_mapping:
        raise GptlabError(
            f"'{path}' holds a {type(config).__name__} ({config.model_type}), which is not a causal language "
            f"model; pass a folder saved from an AutoModelForCausalLM (e.g. Llama, GPT-2, Qwen)."
        )
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, TypeError) as error:
        raise GptlabError(
            f"'{path}' has no tokenizer transformers can load ({error}); save one next to the model."
        ) from None
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as error:
        raise GptlabError(f"The model in '{path}' cannot be loaded ({error}).") from None
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return model.to(device), tokenizer


class HFBackend(LocalBackend):
    kind = "hf"

    def __init__(self, path: str | Path, device: str = "auto", name: str | None = None):
        path = Path(path)
        model, self.tokenizer = load_causal_lm(path, device)
        context = getattr(model.config, "max_position_embeddings", None) or self.tokenizer.model_max_length
        end_ids = model.generation_config.eos_token_id or self.tokenizer.eos_token_id
        end_ids = end_ids if isinstance(end_ids, list) else [end_ids]
        engine = Engine(HFDecoder(model, int(min(context, 1 << 20))), self.decode, end_ids)
        stops = [] if self.tokenizer.chat_template else [PLAIN_STOP]
        super().__init__(name or path.name, engine, self.encode, stops)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def render(self, messages: Messages) -> str:
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
