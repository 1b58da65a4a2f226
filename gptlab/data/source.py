"""What every data source shares: its documents tagged by split, a fingerprint for the cache, and
the pipeline keys every ``data=...`` option has (``DataConfig``).

A source yields its text lazily in one pass as :class:`Piece` s (``pieces()``): a whole document,
or a part of a long one (a text file is read in pieces of about a megabyte), so a corpus, or a
single file, larger than memory streams through ``gptlab-prepare`` once. ``documents(split)``
filters that pass (the BPE tokenizer trains on ``documents('train')``). The pipeline separates
documents with the tokenizer's BOS/EOS tokens.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from omegaconf import MISSING

from gptlab.errors import ConfigError

SPLITS = ("train", "val")
TOKEN_DTYPES = ("auto", "uint16", "uint32")


@dataclass
class DataConfig:
    """Keys of every data option: the split, how documents are tokenized, and how batches are drawn."""

    name: str = MISSING
    val_fraction: float = 0.1
    max_doc_tokens: int = 0  # cut every document to this many tokens (BOS/EOS not counted); 0: no limit
    token_dtype: str = "auto"  # auto (uint16 when the vocabulary fits, else uint32), uint16 or uint32
    shard_tokens: int = 250_000_000  # tokens per memmap shard file (a document may continue in the next one)
    workers: int = 1  # tokenizer processes of gptlab-prepare (and of train when the cache is missing)
    doc_starts: bool = False  # training windows start at document starts (when the shard has any left)
    doc_mask: bool = False  # targets that cross a document boundary become -100 (ignored by the loss)

    def __post_init__(self) -> None:
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(
                f"data.val_fraction={self.val_fraction} must lie strictly between 0 and 1 (0.1 is usual)."
            )
        if self.token_dtype not in TOKEN_DTYPES:
            raise ConfigError(f"data.token_dtype='{self.token_dtype}' is not one of {', '.join(TOKEN_DTYPES)}.")
        for key in ("max_doc_tokens", "shard_tokens", "workers"):
            if getattr(self, key) < (0 if key == "max_doc_tokens" else 1):
                raise ConfigError(
                    f"data.{key}={getattr(self, key)} must be {'>= 0' if key == 'max_doc_tokens' else '>= 1'}."
                )

    def tokenization_key(self) -> dict:
        """The keys that change the token files (the others only change how they are read)."""
        return {
            "max_doc_tokens": self.max_doc_tokens,
            "token_dtype": self.token_dtype,
            "shard_tokens": self.shard_tokens,
        }


class Piece(NamedTuple):
    """Text of one split: a whole document, or a part of one (``starts``/``ends``: whether the piece
    begins/finishes its document). The pieces of a document follow each other within its split."""

    split: str
    text: str
    starts: bool = True
    ends: bool = True


class TextSource(Protocol):
    cfg: DataConfig

    def fingerprint(self) -> str:
        """Changes whenever the documents this source yields would change."""

    def describe(self) -> str:
        """A short human-readable name, for messages."""

    def pieces(self) -> Iterator[Piece]:
        """All the text, lazily, in a fixed order."""

    def documents(self, split: str) -> Iterator[str]:
        """The texts of ``split`` only (a long document in pieces)."""


class DocumentSource:
    """Base of the built-in sources: a subclass yields whole documents as ``(split, text)`` from
    ``split_documents()``, or overrides ``pieces()``; ``documents()`` filters the pieces by split."""

    def split_documents(self) -> Iterator[tuple[str, str]]:
        raise NotImplementedError

    def pieces(self) -> Iterator[Piece]:
        return (Piece(split, text) for split, text in self.split_documents())

    def documents(self, split: str) -> Iterator[str]:
        return (piece.text for piece in self.pieces() if piece.split == split)


def split_contiguous(text: str, val_fraction: float) -> tuple[str, str]:
    """First ``1 - val_fraction`` of the characters train, the rest validation (nanoGPT's split)."""
    cut = int(len(text) * (1.0 - val_fraction))
    return text[:cut], text[cut:]


def is_val(index: int, val_fraction: float) -> bool:
    """Document ``index`` goes to validation: evenly spaced, exactly ``val_fraction`` of them, streaming."""
    return math.floor((index + 1) * val_fraction) > math.floor(index * val_fraction)


def interleaved_split(documents: Iterable[str], val_fraction: float) -> Iterator[tuple[str, str]]:
    """(split, document) when every 1/val_fraction-th document is a validation document."""
    for index, document in enumerate(documents):
        yield ("val" if is_val(index, val_fraction) else "train"), document
