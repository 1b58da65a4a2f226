"""A Hugging Face ``tokenizers`` tokenizer from a local ``tokenizer.json`` (e.g. a pretrained model's).

``tokenizer=hf tokenizer.path=/models/x/tokenizer.json``. The file's JSON is kept in the tokenizer
state, so checkpoints carry it. Byte lengths are exact for byte-level vocabularies (GPT-2 style),
and the UTF-8 length of each token's decoded text otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import MISSING

from gptlab.errors import DataError
from gptlab.registry import register
from gptlab.tokenizer.base import BaseTokenizer, SpecialTokens, TokenizerConfig


@dataclass
class HFTokenizerConfig(TokenizerConfig):
    name: str = "hf"
    path: str = MISSING  # a tokenizer.json file


@register("tokenizer", "hf", HFTokenizerConfig)
class HFTokenizer(BaseTokenizer):
    """A ``tokenizers.Tokenizer`` loaded from a local tokenizer.json."""

    name = "hf"

    def __init__(self, cfg: HFTokenizerConfig | None = None, json_text: str = "", special=None):
        self.cfg = cfg
        if not json_text:
            return
        from tokenizers import Tokenizer as HFBackend

        self.json_text, self.backend = json_text, HFBackend.from_str(json_text)
        self.ordinary_size = self.backend.get_vocab_size(with_added_tokens=True)
        self.special = special or SpecialTokens.declare(cfg, self.ordinary_size, self.backend.token_to_id)

    def fit(self, train: Iterable[str] = (), val: Iterable[str] = ()) -> HFTokenizer:
        path = Path(self.cfg.path).expanduser()
        if not path.is_file():
            raise DataError(f"tokenizer.path='{self.cfg.path}' is not a file. Give a Hugging Face tokenizer.json.")
        json_text = path.read_text("utf-8")
        try:
            return HFTokenizer(self.cfg, json_text)
        except Exception as error:
            raise DataError(f"tokenizer.path='{self.cfg.path}' is not a valid tokenizer.json: {error}") from None

    def _encode_ordinary(self, text: str) -> list[int]:
        return self.backend.encode(text, add_special_tokens=False).ids

    def _decode_ordinary(self, ids: list[int]) -> str:
        return self.backend.decode(ids, skip_special_tokens=False)

    def _ordinary_byte_lengths(self) -> np.ndarray:
        byte_level = (json.loads(self.json_text).get("decoder") or {}).get("type") == "ByteLevel"
        lengths = np.zeros(self.ordinary_size, dtype=np.int64)
        for token, i in self.backend.get_vocab(with_added_tokens=False).items():
            # byte-level: one stand-in character per byte; else the decoded text's bytes
            lengths[i] = len(token) if byte_level else len(self.backend.decode([i]).encode("utf-8"))
        return lengths

    def _ordinary_state(self) -> dict[str, Any]:
        return {"json": self.json_text}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> HFTokenizer:
        return cls(None, state["json"], SpecialTokens.from_state(state["special"]))
