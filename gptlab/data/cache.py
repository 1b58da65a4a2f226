"""Token ids cached on disk as sharded numpy memmaps, keyed by a fingerprint of source and tokenizer.

``<cache_dir>/tokens/<key>/`` holds ``train_000.bin``, ... ``val_000.bin`` (token ids),
``<shard>.docs.npy`` (where each document starts in the shard) and ``meta.json`` (dtype, sizes,
the trained tokenizer, and each file's size and sampled digest). ``gptlab.data.prepare`` (which
imports this module, never the reverse) writes the folder under a temporary name and renames it when
complete, so an interrupted build never leaves a cache that looks valid; :func:`damage` checks a
finished one (a truncated or changed file, a broken meta.json) cheaply before every use, and a damaged
cache is rebuilt instead of loaded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gptlab.data.source import SPLITS, TextSource
from gptlab.errors import DataError
from gptlab.tokenizer import Tokenizer, tokenizer_from_state

CACHE_FORMAT = 4  # 3: a document longer than a shard's room continues in the next shard; 4: file digests
MAX_IDS = {"uint16": 2**16, "uint32": 2**32}
META_FILE = "meta.json"
DIGEST_SAMPLES, SAMPLE_BYTES = 16, 4096  # a file's digest reads at most 64 KiB, spread over the file


@dataclass
class Shard:
    """One memmapped token file and the offsets where its documents start; ``loss_mask`` (optional,
    one bool per token) says which tokens are targets to learn (fine-tuning: the answers only)."""

    tokens: np.ndarray
    doc_starts: np.ndarray
    loss_mask: np.ndarray | None = None

    @classmethod
    def of(cls, tokens: np.ndarray) -> Shard:
        """A shard of plain token ids that is one document."""
        return cls(tokens, np.zeros(1, dtype=np.int64))


@dataclass
class TokenSplits:
    train: list[Shard]
    val: list[Shard]
    tokenizer: Tokenizer
    directory: Path

    def num_tokens(self, split: str) -> int:
        return sum(len(shard.tokens) for shard in getattr(self, split))

    @property
    def val_tokens(self) -> list[np.ndarray]:
        """The validation shards' ids (the evaluation reads fixed windows from them in place)."""
        return [shard.tokens for shard in self.val]


def _config_dict(cfg: Any) -> dict:
    return asdict(cfg) if is_dataclass(cfg) else dict(cfg)


def tokenizer_key(source: TextSource, tokenizer_cfg: Any) -> str:
    """Names a trained tokenizer: the source's documents and the tokenizer config."""
    blob = json.dumps({"source": source.fingerprint(), "tokenizer": _config_dict(tokenizer_cfg)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def cache_key(source: TextSource, tokenizer_cfg: Any) -> str:
    """Names the token files: the trained tokenizer and the tokenization keys of ``data``."""
    pipeline = source.cfg.tokenization_key()
    blob = json.dumps({"format": CACHE_FORMAT, "tokenizer": tokenizer_key(source, tokenizer_cfg), "pipeline": pipeline})
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def token_dtype(vocab_size: int, requested: str = "auto") -> np.dtype:
    """uint16 when every id fits (auto), else uint32; a vocabulary too large for ``requested`` is an error."""
    name = requested if requested != "auto" else ("uint16" if vocab_size <= MAX_IDS["uint16"] else "uint32")
    if vocab_size > MAX_IDS[name]:
        raise DataError(
            f"The tokenizer's vocabulary of {vocab_size:,} ids does not fit in data.token_dtype={name} "
            f"(at most {MAX_IDS[name]:,} ids). Use data.token_dtype=auto or uint32, or a smaller tokenizer.vocab_size."
        )
    return np.dtype(name)


def sampled_digest(path: Path) -> str:
    """A cheap fingerprint of a file: its size and ``DIGEST_SAMPLES`` blocks spread evenly over it."""
    size = path.stat().st_size
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    with open(path, "rb") as file:
        for offset in sorted({int(x) for x in np.linspace(0, max(size - SAMPLE_BYTES, 0), DIGEST_SAMPLES)}):
            file.seek(offset)
            digest.update(file.read(SAMPLE_BYTES))
    return digest.hexdigest()


def file_records(directory: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    """``{file: {"bytes", "digest"}}`` for the shard files, to be kept in meta.json."""
    return {
        name: {"bytes": (directory / name).stat().st_size, "digest": sampled_digest(directory / name)} for name in names
    }


def damage(directory: Path) -> str | None:
    """Why the finished cache in ``directory`` cannot be used (None if it can): an unreadable
    meta.json, an older format, or a shard file missing, of the wrong size or changed."""
    try:
        meta = json.loads((directory / META_FILE).read_text())
        if meta.get("format") != CACHE_FORMAT:
            return f"{META_FILE} has format {meta.get('format')!r}, not {CACHE_FORMAT}"
        tokenizer_from_state(meta["tokenizer"])
        shards = [shard for split in SPLITS for shard in meta["shards"][split]]
        files = meta["files"]
        if sorted(files) != sorted(f"{shard}{ext}" for shard in shards for ext in (".bin", ".docs.npy")):
            return f"{META_FILE} lists other files than its shards"
        token_bytes = sum(files[f"{shard}.bin"]["bytes"] for shard in shards)
        if token_bytes != sum(meta["tokens"][split] for split in SPLITS) * np.dtype(meta["dtype"]).itemsize:
            return f"{META_FILE}'s token counts do not match its file sizes"
        for name, record in files.items():
            path = directory / name
            if not path.is_file():
                return f"{name} is missing"
            if path.stat().st_size != record["bytes"]:
                return f"{name} has {path.stat().st_size:,} bytes instead of {record['bytes']:,}"
            if sampled_digest(path) != record["digest"]:
                return f"{name} has changed since it was written"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        return f"{META_FILE} cannot be read ({type(error).__name__}: {error})"
    return None


def load(directory: Path) -> TokenSplits:
    """The memmapped shards of a finished cache folder."""
    meta = json.loads((directory / META_FILE).read_text())
    dtype = np.dtype(meta["dtype"])

    def shards(split: str) -> list[Shard]:
        return [
            Shard(
                np.memmap(directory / f"{name}.bin", dtype=dtype, mode="r"),
                np.load(directory / f"{name}.docs.npy"),
            )
            for name in meta["shards"][split]
        ]

    return TokenSplits(shards("train"), shards("val"), tokenizer_from_state(meta["tokenizer"]), directory)
