"""Token ids cached on disk as numpy memmaps, keyed by a fingerprint of source and tokenizer.

``<cache_dir>/tokens/<key>/`` holds ``train.bin``, ``val.bin`` and ``meta.json`` (dtype, sizes,
the trained tokenizer). The folder is written under a temporary name and renamed when complete,
so an interrupted build never leaves a cache that looks valid.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gptlab.data.source import TextSource
from gptlab.errors import DataError
from gptlab.tokenizer import Tokenizer, tokenizer_from_state

CACHE_FORMAT = 1


@dataclass
class TokenSplits:
    train: np.ndarray
    val: np.ndarray
    tokenizer: Tokenizer
    directory: Path


def cache_key(source: TextSource, tokenizer_cfg: Any) -> str:
    config = asdict(tokenizer_cfg) if is_dataclass(tokenizer_cfg) else dict(tokenizer_cfg)
    blob = json.dumps({"format": CACHE_FORMAT, "source": source.fingerprint(), "tokenizer": config}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16 if vocab_size <= 2**16 else np.uint32)


def load_or_build(source: TextSource, tokenizer: Tokenizer, tokenizer_cfg: Any, cache_dir: str | Path) -> TokenSplits:
    """Memmapped train/val token ids for ``source``; tokenizes (and fits the tokenizer) on a miss."""
    root = Path(cache_dir).expanduser() / "tokens"
    directory = root / cache_key(source, tokenizer_cfg)
    if not (directory / "meta.json").exists():
        _build(source, tokenizer, directory)
    meta = json.loads((directory / "meta.json").read_text())
    dtype = np.dtype(meta["dtype"])
    return TokenSplits(
        train=np.memmap(directory / "train.bin", dtype=dtype, mode="r"),
        val=np.memmap(directory / "val.bin", dtype=dtype, mode="r"),
        tokenizer=tokenizer_from_state(meta["tokenizer"]),
        directory=directory,
    )


def _build(source: TextSource, tokenizer: Tokenizer, directory: Path) -> None:
    train_text, val_text = source.read_splits()
    if not train_text or not val_text:
        raise DataError(f"{source.describe()} is too short to split into train and validation text.")
    tokenizer = tokenizer.fit([train_text], [val_text])
    dtype = token_dtype(tokenizer.vocab_size)
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    except OSError as error:
        raise DataError(
            f"Cannot write the token cache under '{directory.parent}' ({error}). Set cache_dir=... to a writable folder."
        ) from None
    try:
        sizes = {}
        for split, text in (("train", train_text), ("val", val_text)):
            ids = tokenizer.encode(text).astype(dtype)
            ids.tofile(staging / f"{split}.bin")
            sizes[split] = int(ids.size)
        meta = {
            "format": CACHE_FORMAT,
            "dtype": dtype.name,
            "tokens": sizes,
            "source": source.describe(),
            "tokenizer": tokenizer.state(),
        }
        (staging / "meta.json").write_text(json.dumps(meta, indent=1))
        try:
            os.replace(staging, directory)
        except OSError:  # another process finished the same cache first
            if not (directory / "meta.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
