"""What every data source shares: a train/val text split and a fingerprint for the cache."""

from __future__ import annotations

from typing import Protocol


class TextSource(Protocol):
    def fingerprint(self) -> str:
        """Changes whenever the text this source yields would change."""

    def describe(self) -> str:
        """A short human-readable name, for messages."""

    def read_splits(self) -> tuple[str, str]:
        """(train text, validation text)."""


def split_contiguous(text: str, val_fraction: float) -> tuple[str, str]:
    """First ``1 - val_fraction`` of the characters train, the rest validation (nanoGPT's split)."""
    cut = int(len(text) * (1.0 - val_fraction))
    return text[:cut], text[cut:]


def check_val_fraction(val_fraction: float) -> None:
    from gptlab.errors import ConfigError

    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"data.val_fraction={val_fraction} must lie strictly between 0 and 1 (0.1 is usual).")
