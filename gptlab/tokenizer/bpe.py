"""Byte-level BPE trained on the run's training split (Sennrich et al. 2016; byte-level as in GPT-2).

Training runs in ``rustbpe`` (GPT-4 style split pattern by default); encoding runs in a
``tiktoken.Encoding`` built from the learned merges. The trained tokenizer is saved with the token
cache, keyed by the source and this config, so it is trained once and reused.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Optional

from gptlab.errors import ConfigError
from gptlab.registry import register
from gptlab.tokenizer.base import SpecialTokens, TokenizerConfig, split_special
from gptlab.tokenizer.tiktoken import TiktokenEncoder


@dataclass
class BPEConfig(TokenizerConfig):
    name: str = "bpe"
    vocab_size: int = 4096  # in all, special tokens included
    pattern: Optional[str] = None  # the pre-tokenization regex; null: rustbpe's GPT-4 pattern
    train_chars: int = 0  # train on at most this many characters of the training split; 0: all

    def __post_init__(self) -> None:
        super().__post_init__()
        minimum = 256 + len(self.special_tokens()) + 1
        if self.vocab_size < minimum:
            raise ConfigError(
                f"tokenizer.vocab_size={self.vocab_size} leaves no room for merges: it holds the 256 byte tokens and "
                f"{len(self.special_tokens())} special tokens; use tokenizer.vocab_size >= {minimum}."
            )
        if self.train_chars < 0:
            raise ConfigError(f"tokenizer.train_chars={self.train_chars} must be >= 0 (0 trains on everything).")


def _first_chars(texts: Iterable[str], limit: int) -> Iterator[str]:
    """``texts`` cut off after ``limit`` characters in all (0: no limit)."""
    if not limit:
        yield from texts
        return
    for text in texts:
        yield text[:limit]
        limit -= len(text)
        if limit <= 0:
            return


@register("tokenizer", "bpe", BPEConfig)
class BPETokenizer(TiktokenEncoder):
    """Byte-level BPE trained with rustbpe on the training split, encoded with tiktoken."""

    name = "bpe"

    def fit(self, train: Iterable[str], val: Iterable[str] = ()) -> BPETokenizer:
        import rustbpe

        cfg: BPEConfig = self.cfg
        trainer = rustbpe.Tokenizer()
        texts = _first_chars(split_special(train, cfg), cfg.train_chars)
        first = list(itertools.islice(texts, 1))
        if not first:
            raise ConfigError("tokenizer=bpe has no training text to learn merges from.")
        merges = cfg.vocab_size - len(cfg.special_tokens())
        trainer.train_from_iterator(itertools.chain(first, texts), merges, pattern=cfg.pattern)
        ranks = dict(trainer.get_mergeable_ranks())
        return BPETokenizer(cfg, ranks, trainer.get_pattern(), SpecialTokens.declare(cfg, len(ranks)))
