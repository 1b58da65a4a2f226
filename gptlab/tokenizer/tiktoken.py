"""Byte-level BPE encodings run by ``tiktoken`` (OpenAI): named pretrained ones such as ``gpt2`` or
``cl100k_base`` (GPT-2's byte-level BPE, Radford et al. 2019), and the base of ``tokenizer=bpe``.

``tokenizer=tiktoken tokenizer.encoding=cl100k_base`` loads the encoding through tiktoken, which
downloads its ranks file once into ``$TIKTOKEN_CACHE_DIR``. Offline, give the ranks file itself:
``tokenizer.file=/path/to/cl100k_base.tiktoken`` (lines of ``base64(token) rank``); the split
pattern and special tokens still come from the named encoding.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from gptlab.errors import ConfigError, DataError
from gptlab.registry import register
from gptlab.tokenizer.base import BaseTokenizer, SpecialTokens, TokenizerConfig

_RANK_LOADERS = ("load_tiktoken_bpe", "data_gym_to_mergeable_bpe_ranks")  # what tiktoken_ext constructors call


@dataclass
class TiktokenConfig(TokenizerConfig):
    name: str = "tiktoken"
    encoding: str = "gpt2"  # a tiktoken encoding name: gpt2, r50k_base, p50k_base, cl100k_base, o200k_base, ...
    file: Optional[str] = None  # a local .tiktoken ranks file for the encoding (offline use)


class TiktokenEncoder(BaseTokenizer):
    """Token ids from a ``tiktoken.Encoding`` built from mergeable ranks and a split pattern.

    Built from a config it is untrained: ``fit`` returns the trained (or loaded) tokenizer.
    """

    name = "tiktoken"

    def __init__(self, cfg: Any = None, ranks: Optional[dict[bytes, int]] = None, pattern: str = "", special=None):
        self.cfg = cfg
        if ranks is None:
            return
        import tiktoken

        self.ranks, self.pattern, self.special = ranks, pattern, special
        self.ordinary_size = max(ranks.values()) + 1
        self.encoding = tiktoken.Encoding(
            name=f"gptlab-{self.name}", pat_str=pattern, mergeable_ranks=ranks, special_tokens=special.ids
        )

    def _encode_ordinary(self, text: str) -> list[int]:
        return self.encoding.encode_ordinary(text)

    def _decode_ordinary(self, ids: list[int]) -> str:
        return self.encoding.decode_bytes(ids).decode("utf-8", errors="replace")

    def _ordinary_byte_lengths(self) -> np.ndarray:
        lengths = np.zeros(self.ordinary_size, dtype=np.int64)
        for token, rank in self.ranks.items():
            lengths[rank] = len(token)
        return lengths

    def _ordinary_state(self) -> dict[str, Any]:
        ordered = sorted(self.ranks.items(), key=lambda item: item[1])
        return {
            "pattern": self.pattern,
            "tokens": [base64.b64encode(token).decode("ascii") for token, _ in ordered],
            "ranks": [rank for _, rank in ordered],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TiktokenEncoder:
        ranks = {base64.b64decode(token): rank for token, rank in zip(state["tokens"], state["ranks"])}
        return cls(None, ranks, state["pattern"], SpecialTokens.from_state(state["special"]))


def named_encoding(cfg: TiktokenConfig) -> dict[str, Any]:
    """tiktoken's spec of ``cfg.encoding`` (ranks, pattern, special tokens), from ``cfg.file`` if given."""
    from tiktoken import registry as tiktoken_registry
    from tiktoken.load import load_tiktoken_bpe

    valid = tiktoken_registry.list_encoding_names()  # also fills ENCODING_CONSTRUCTORS
    if cfg.encoding not in valid:
        raise ConfigError(
            f"tokenizer.encoding='{cfg.encoding}' is not a tiktoken encoding. Valid: {', '.join(sorted(valid))}."
        )
    constructor = tiktoken_registry.ENCODING_CONSTRUCTORS[cfg.encoding]
    if cfg.file is None:
        try:
            return constructor()
        except Exception as error:
            raise DataError(
                f"tiktoken could not load encoding '{cfg.encoding}' ({type(error).__name__}: {error}). It downloads "
                f"the ranks file once; offline, pass the file itself with tokenizer.file=/path/to/{cfg.encoding}.tiktoken, "
                f"or copy tiktoken's cache from a machine with network access into a folder named by $TIKTOKEN_CACHE_DIR."
            ) from None
    path = Path(cfg.file).expanduser()
    if not path.is_file():
        raise DataError(
            f"tokenizer.file='{cfg.file}' is not a file. Give a .tiktoken ranks file (lines of 'base64 rank')."
        )
    try:
        ranks = load_tiktoken_bpe(str(path))
    except ValueError as error:
        raise DataError(f"tokenizer.file='{cfg.file}' is not a .tiktoken ranks file: {error}.") from None
    if not ranks:
        raise DataError(f"tokenizer.file='{cfg.file}' is empty. Give a .tiktoken ranks file (lines of 'base64 rank').")
    # Run tiktoken's own constructor for the pattern and special tokens, with our ranks in place of its download.
    module = constructor.__globals__
    saved = {name: module[name] for name in _RANK_LOADERS if name in module}
    module.update({name: lambda *args, **kwargs: ranks for name in saved})
    try:
        return constructor()
    finally:
        module.update(saved)


@register("tokenizer", "tiktoken", TiktokenConfig)
class TiktokenTokenizer(TiktokenEncoder):
    """A named pretrained tiktoken encoding (gpt2, cl100k_base, ...), e.g. to fine-tune or compare."""

    name = "tiktoken"

    def fit(self, train: Iterable[str] = (), val: Iterable[str] = ()) -> TiktokenTokenizer:
        spec = named_encoding(self.cfg)
        ranks, builtin = spec["mergeable_ranks"], spec.get("special_tokens", {})
        special = SpecialTokens.declare(self.cfg, max(ranks.values()) + 1, builtin.get)
        return TiktokenTokenizer(self.cfg, ranks, spec["pat_str"], special)
