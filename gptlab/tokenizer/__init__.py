"""Tokenizers (``conf/tokenizer/``): text <-> token ids, plus each token's UTF-8 byte length."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from gptlab.registry import lookup


class Tokenizer(Protocol):
    name: str
    vocab_size: int

    def fit(self, text: str) -> Tokenizer: ...
    def encode(self, text: str) -> np.ndarray: ...
    def decode(self, ids: list[int]) -> str: ...
    def token_byte_lengths(self) -> np.ndarray: ...
    def state(self) -> dict[str, Any]: ...


def tokenizer_from_state(state: dict[str, Any]) -> Tokenizer:
    """Rebuild a trained tokenizer from the plain dict its ``state()`` returned."""
    return lookup("tokenizer", state["name"]).target.from_state(state)
