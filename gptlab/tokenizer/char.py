"""Character-level tokenizer: one id per Unicode character seen in the data (char-rnn, Karpathy 2015)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gptlab.errors import GptlabError
from gptlab.registry import register


@dataclass
class CharTokenizerConfig:
    name: str = "char"


@register("tokenizer", "char", CharTokenizerConfig)
class CharTokenizer:
    """Vocabulary = the sorted set of characters of the training data."""

    name = "char"

    def __init__(self, cfg: CharTokenizerConfig | None = None, chars: str = ""):
        self.chars = chars
        self._codepoints = np.array([ord(c) for c in chars], dtype=np.uint32)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def fit(self, text: str) -> CharTokenizer:
        return CharTokenizer(chars="".join(sorted(set(text))))

    def encode(self, text: str) -> np.ndarray:
        codepoints = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        ids = np.searchsorted(self._codepoints, codepoints)
        ids = np.minimum(ids, len(self.chars) - 1)
        unknown = self._codepoints[ids] != codepoints
        if unknown.any():
            missing = sorted({chr(c) for c in codepoints[unknown]})
            raise GptlabError(
                f"The text has characters the char tokenizer never saw in training: {missing!r}. "
                f"Use only characters from its vocabulary of {self.vocab_size}: {self.chars!r}."
            )
        return ids.astype(np.int64)

    def decode(self, ids: list[int]) -> str:
        return "".join(self.chars[i] for i in ids)

    def token_byte_lengths(self) -> np.ndarray:
        return np.array([len(c.encode("utf-8")) for c in self.chars], dtype=np.int64)

    def state(self) -> dict[str, Any]:
        return {"name": self.name, "chars": self.chars}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CharTokenizer:
        return cls(chars=state["chars"])
