"""Byte-level tokenizer: the 256 UTF-8 byte values, then the special tokens (as in ByT5, Xue et al. 2022)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from gptlab.registry import register
from gptlab.tokenizer.base import BaseTokenizer, SpecialTokens, TokenizerConfig


@dataclass
class ByteTokenizerConfig(TokenizerConfig):
    name: str = "byte"


@register("tokenizer", "byte", ByteTokenizerConfig)
class ByteTokenizer(BaseTokenizer):
    """One id per byte of the UTF-8 text: no training, any text, 256 + special tokens."""

    name = "byte"
    ordinary_size = 256

    def __init__(self, cfg: Optional[ByteTokenizerConfig] = None, special: SpecialTokens | None = None):
        self.special = special or SpecialTokens.declare(cfg or ByteTokenizerConfig(), 256)

    def fit(self, train: Iterable[str], val: Iterable[str] = ()) -> ByteTokenizer:
        return self

    def _encode_ordinary(self, text: str) -> np.ndarray:
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    def _decode_ordinary(self, ids: list[int]) -> str:
        return bytes(ids).decode("utf-8", errors="replace")

    def _ordinary_byte_lengths(self) -> np.ndarray:
        return np.ones(256, dtype=np.int64)

    def _ordinary_state(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ByteTokenizer:
        return cls(special=SpecialTokens.from_state(state["special"]))
