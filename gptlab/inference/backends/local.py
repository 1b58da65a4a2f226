"""A gptlab run dir or checkpoint file as a backend: the model on a KV cache, its tokenizer and chat template."""

from __future__ import annotations

from pathlib import Path

from gptlab.inference.backends.base import LocalBackend, Messages
from gptlab.inference.decoder import CachedDecoder
from gptlab.inference.engine import Engine


def special_token_ids(tokenizer, texts) -> set[int]:
    """The ids of those ``texts`` that are special tokens of the tokenizer (each one token)."""
    return {tokenizer.special.ids[text] for text in texts if text in tokenizer.special.ids}


class GptlabBackend(LocalBackend):
    kind = "gptlab"

    def __init__(self, path: str | Path, device: str = "auto", name: str | None = None, compile: bool = False):
        import gptlab
        from gptlab.tokenizer.chat import ChatTemplate

        run = gptlab.load(path, device=device)
        self.path, self.tokenizer = Path(run.path), run.tokenizer
        self.template = ChatTemplate.for_chat(self.tokenizer)  # a base model without role tokens: a transcript
        stops = self.template.stop_tokens(self.tokenizer)
        end_ids = {self.tokenizer.eos_id} | special_token_ids(self.tokenizer, stops)
        engine = Engine(CachedDecoder(run.model, compile=compile), self.tokenizer.decode, end_ids)
        super().__init__(name or str(path), engine, self.tokenizer.encode, stops)

    def render(self, messages: Messages) -> str:
        return self.template.render(messages, add_generation_prompt=True)
