"""Tokenizers (``conf/tokenizer/``): text <-> token ids, plus each token's UTF-8 byte length.

Every built-in tokenizer derives from ``gptlab.tokenizer.base.BaseTokenizer``, which honours the
special tokens declared in the tokenizer config (BOS/EOS/PAD, chat tokens).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Optional, Protocol

import numpy as np

from gptlab.registry import lookup


class Tokenizer(Protocol):
    name: str
    vocab_size: int
    bos_id: Optional[int]
    eos_id: Optional[int]
    pad_id: Optional[int]

    def fit(self, train: Iterable[str], val: Iterable[str]) -> Tokenizer:
        """The trained tokenizer. ``train`` are the training documents; a closed vocabulary
        (``char``) also reads ``val`` so that it covers every character it will encode."""

    def encode(self, text: str) -> np.ndarray: ...
    def decode(self, ids: list[int]) -> str: ...
    def token_byte_lengths(self) -> np.ndarray: ...
    def state(self) -> dict[str, Any]: ...


def tokenizer_from_state(state: dict[str, Any]) -> Tokenizer:
    """Rebuild a trained tokenizer from the plain dict its ``state()`` returned."""
    return lookup("tokenizer", state["name"]).target.from_state(state)
