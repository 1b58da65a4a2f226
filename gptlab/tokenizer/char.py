"""Character-level tokenizer: one id per Unicode character seen in the data (char-rnn, Karpathy 2015)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from gptlab.errors import GptlabError
from gptlab.registry import register
from gptlab.tokenizer.base import BaseTokenizer, SpecialTokens, TokenizerConfig, split_special


@dataclass
class CharTokenizerConfig(TokenizerConfig):
    name: str = "char"


@register("tokenizer", "char", CharTokenizerConfig)
class CharTokenizer(BaseTokenizer):
    """Vocabulary = the sorted set of characters of the data, then the special tokens."""

    name = "char"

    def __init__(
        self, cfg: Optional[CharTokenizerConfig] = None, chars: str = "", special: SpecialTokens | None = None
    ):
        self.cfg = cfg or CharTokenizerConfig()
        self.chars = chars
        self.special = special or SpecialTokens.declare(self.cfg, len(chars))
        self._codepoints = np.array([ord(c) for c in chars], dtype=np.uint32)

    @property
    def ordinary_size(self) -> int:
        return len(self.chars)

    def fit(self, train: Iterable[str], val: Iterable[str] = ()) -> CharTokenizer:
        seen: set[str] = set()
        for piece in split_special(itertools.chain(train, val), self.cfg):
            seen.update(piece)
        return CharTokenizer(self.cfg, "".join(sorted(seen)))

    def _encode_ordinary(self, text: str) -> np.ndarray:
        codepoints = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        ids = np.minimum(np.searchsorted(self._codepoints, codepoints), max(len(self.chars) - 1, 0))
        unknown = self._codepoints[ids] != codepoints if len(self.chars) else np.ones(len(codepoints), bool)
        if unknown.any():
            missing = sorted({chr(c) for c in codepoints[unknown]})
            raise GptlabError(
                f"The text has characters the char tokenizer never saw in training: {missing!r}. "
                f"Use only characters from its vocabulary of {len(self.chars)}: {self.chars!r}."
            )
        return ids

    def _decode_ordinary(self, ids: list[int]) -> str:
        return "".join(self.chars[i] for i in ids)

    def _ordinary_byte_lengths(self) -> np.ndarray:
        return np.array([len(c.encode("utf-8")) for c in self.chars], dtype=np.int64)

    def _ordinary_state(self) -> dict[str, Any]:
        return {"chars": self.chars}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CharTokenizer:
        return cls(chars=state["chars"], special=SpecialTokens.from_state(state["special"]))
