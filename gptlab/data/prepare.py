"""Tokenize a data source into sharded token memmaps in the cache, streaming, in parallel.

``gptlab-prepare`` (``gptlab/prepare.py``) runs it from the command line; ``load_or_build`` is what
training calls (it prepares on a cache miss). Text streams from the source as pieces (whole documents, or parts of a long one such as a big
text file) in batches of about 1 MB; ``data.workers`` processes encode them; the main process
puts each document together as [BOS] ids[:max_doc_tokens] [EOS] and appends it to the current
shard file, so memory stays bounded by a few batches whatever the size of the corpus or of one file.
The trained tokenizer is saved first under ``<cache_dir>/tokenizers/`` and reused.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np

from gptlab.data.cache import CACHE_FORMAT, TokenSplits, cache_key, load, token_dtype, tokenizer_key
from gptlab.data.source import SPLITS, DataConfig, Piece, TextSource
from gptlab.errors import DataError
from gptlab.tokenizer import Tokenizer, tokenizer_from_state

BATCH_CHARS = 1 << 20  # text per worker task


class PieceAssembler:
    """The ids one split's pieces add to its shards: [BOS] before a document's first piece, [EOS]
    after its last, and at most ``max_doc_tokens`` text ids per document (0: no limit)."""

    def __init__(self, tokenizer: Tokenizer, max_doc_tokens: int, dtype: np.dtype):
        self.max_doc_tokens = max_doc_tokens
        self.head = np.array([tokenizer.bos_id] if tokenizer.bos_id is not None else [], dtype=dtype)
        self.tail = np.array([tokenizer.eos_id] if tokenizer.eos_id is not None else [], dtype=dtype)
        self.kept = 0  # text ids of the current document so far

    def __call__(self, piece: Piece, ids: np.ndarray) -> np.ndarray:
        if piece.starts:
            self.kept = 0
        if self.max_doc_tokens:
            ids = ids[: max(0, self.max_doc_tokens - self.kept)]
        self.kept += len(ids)
        head = [self.head] if piece.starts else []
        tail = [self.tail] if piece.ends else []
        return np.concatenate([*head, ids, *tail])


def encode_texts(tokenizer: Tokenizer, texts: list[str], dtype: np.dtype) -> list[np.ndarray]:
    return [tokenizer.encode(text).astype(dtype) for text in texts]


_worker_state: tuple[Tokenizer, np.dtype] | None = None


def _init_worker(tokenizer_module: str, tokenizer_state: dict[str, Any], dtype: str) -> None:
    """A pool worker rebuilds the fitted tokenizer from its state, importing only the module that
    registers its class (also under the spawn start method, where nothing is inherited)."""
    global _worker_state
    import_module(tokenizer_module)
    _worker_state = (tokenizer_from_state(tokenizer_state), np.dtype(dtype))


def _encode_batch(texts: list[str]) -> list[np.ndarray]:
    return encode_texts(_worker_state[0], texts, _worker_state[1])


def _utf8_bytes(texts: list[str]) -> int:
    return sum(len(text.encode("utf-8")) for text in texts)


def _batches(pieces: Iterable[Piece]) -> Iterator[list[Piece]]:
    """Pieces in groups of about BATCH_CHARS characters."""
    batch, size = [], 0
    for piece in pieces:
        batch.append(piece)
        size += len(piece.text)
        if size >= BATCH_CHARS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


class ShardWriter:
    """Appends a split's ids to ``<split>_NNN.bin`` files of ``shard_tokens`` ids each (the last one
    shorter; a document that does not fit continues in the next file) and records, in
    ``<split>_NNN.docs.npy``, where each document starts in its file."""

    def __init__(self, directory: Path, split: str, shard_tokens: int):
        self.directory, self.split, self.shard_tokens = directory, split, shard_tokens
        self.names: list[str] = []
        self.tokens = self.documents = 0
        self._file = None
        self._starts: list[int] = []
        self._size = 0
        self._document_pending = False

    def add(self, ids: np.ndarray, starts_document: bool) -> None:
        """Append ``ids``; ``starts_document``: they begin a document (an empty document is left out)."""
        self._document_pending = self._document_pending or starts_document
        while len(ids):
            if self._file is None or self._size == self.shard_tokens:
                self._open_shard()
            if self._document_pending:
                self._starts.append(self._size)
                self.documents += 1
                self._document_pending = False
            written = ids[: self.shard_tokens - self._size]
            self._file.write(written.tobytes())
            self._size += len(written)
            self.tokens += len(written)
            ids = ids[len(written) :]

    def _open_shard(self) -> None:
        self._close_shard()
        self.names.append(f"{self.split}_{len(self.names):03d}")
        self._file = open(self.directory / f"{self.names[-1]}.bin", "wb")

    def _close_shard(self) -> None:
        if self._file is not None:
            self._file.close()
            np.save(self.directory / f"{self.names[-1]}.docs.npy", np.array(self._starts, dtype=np.int64))
        self._file, self._starts, self._size = None, [], 0

    def close(self) -> None:
        self._close_shard()


def trained_tokenizer(source: TextSource, tokenizer: Tokenizer, tokenizer_cfg: Any, root: Path) -> Tokenizer:
    """The tokenizer fitted on ``source`` (its training split), loaded from ``root/tokenizers`` if saved."""
    path = root / "tokenizers" / f"{tokenizer_key(source, tokenizer_cfg)}.json"
    if path.exists():
        return tokenizer_from_state(json.loads(path.read_text()))
    started = time.perf_counter()
    fitted = tokenizer.fit(source.documents("train"), source.documents("val"))
    if fitted.vocab_size == 0:
        raise DataError(f"{source.describe()} has no text to build a vocabulary from.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(fitted.state()))
    os.replace(tmp, path)
    print(f"tokenizer: fitted {fitted.name} ({fitted.vocab_size:,} ids) in {time.perf_counter() - started:.1f} s")
    return fitted


def _encoded(pieces: Iterable[Piece], tokenizer: Tokenizer, dtype: np.dtype, pool, workers: int) -> Iterator[tuple]:
    """(UTF-8 bytes, pieces, ids per piece) for each batch, encoded in ``pool`` two batches per worker at a time."""
    batches = _batches(pieces)
    if pool is None:
        for batch in batches:
            texts = [piece.text for piece in batch]
            yield _utf8_bytes(texts), batch, encode_texts(tokenizer, texts, dtype)
        return
    while True:
        group = [batch for _, batch in zip(range(workers * 2), batches)]
        if not group:
            return
        texts = [[piece.text for piece in batch] for batch in group]
        for batch, batch_texts, ids in zip(group, texts, pool.map(_encode_batch, texts)):
            yield _utf8_bytes(batch_texts), batch, ids


def _tokenize(
    source: TextSource, tokenizer: Tokenizer, dtype: np.dtype, staging: Path, progress: bool
) -> tuple[dict[str, ShardWriter], int]:
    """Write every piece's ids into its split's shards in ``staging``; returns the writers and text bytes."""
    cfg: DataConfig = source.cfg
    writers = {split: ShardWriter(staging, split, cfg.shard_tokens) for split in SPLITS}
    assemblers = {split: PieceAssembler(tokenizer, cfg.max_doc_tokens, dtype) for split in SPLITS}
    nbytes, pool = 0, None
    if cfg.workers > 1:
        worker_args = (type(tokenizer).__module__, tokenizer.state(), dtype.name)
        pool = multiprocessing.get_context().Pool(cfg.workers, _init_worker, worker_args)
    try:
        with _progress(progress) as bar:
            task = bar.add_task(f"tokenizing {source.describe()}", total=None)
            for batch_bytes, batch, ids in _encoded(source.pieces(), tokenizer, dtype, pool, cfg.workers):
                for piece, piece_ids in zip(batch, ids):
                    writers[piece.split].add(assemblers[piece.split](piece, piece_ids), piece.starts)
                nbytes += batch_bytes
                bar.update(task, advance=batch_bytes)
    finally:
        if pool is not None:
            pool.terminate()
        for writer in writers.values():
            writer.close()
    return writers, nbytes


def prepare(
    source: TextSource, tokenizer: Tokenizer, tokenizer_cfg: Any, cache_dir: str | Path, progress: bool = True
) -> Path:
    """The cache folder with ``source``'s token shards; builds it (fitting the tokenizer) if missing."""
    data_cfg: DataConfig = source.cfg
    root = Path(cache_dir).expanduser()
    directory = root / "tokens" / cache_key(source, tokenizer_cfg)
    if (directory / "meta.json").exists():
        return directory
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    except OSError as error:
        raise DataError(
            f"Cannot write the token cache under '{directory.parent}' ({error}). Set cache_dir=... to a writable folder."
        ) from None
    try:
        tokenizer = trained_tokenizer(source, tokenizer, tokenizer_cfg, root)
        dtype = token_dtype(tokenizer.vocab_size, data_cfg.token_dtype)
        started = time.perf_counter()
        writers, nbytes = _tokenize(source, tokenizer, dtype, staging, progress)
        for split, writer in writers.items():
            if writer.tokens == 0:
                raise DataError(
                    f"{source.describe()} has no {split} documents"
                    + (f" (data.val_fraction={data_cfg.val_fraction} of too few documents)" if split == "val" else "")
                    + ". Give more text or a larger data.val_fraction."
                )
        seconds = time.perf_counter() - started
        megabytes = sum((staging / f"{n}.bin").stat().st_size for w in writers.values() for n in w.names) / 1e6
        meta = {
            "format": CACHE_FORMAT,
            "dtype": dtype.name,
            "source": source.describe(),
            "shards": {split: w.names for split, w in writers.items()},
            "tokens": {split: w.tokens for split, w in writers.items()},
            "documents": {split: w.documents for split, w in writers.items()},
            "text_bytes": nbytes,
            "seconds": seconds,
            "tokenizer": tokenizer.state(),
        }
        (staging / "meta.json").write_text(json.dumps(meta))
        try:
            os.replace(staging, directory)
        except OSError:  # another process finished the same cache first
            if not (directory / "meta.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    tokens = sum(meta["tokens"].values())
    print(
        f"prepare: {nbytes / 1e6:.1f} MB of text -> {tokens:,} tokens ({megabytes:.1f} MB of {dtype.name}) in "
        f"{seconds:.1f} s: {nbytes / 1e6 / max(seconds, 1e-9):.2f} MB/s with {data_cfg.workers} process"
        f"{'es' * (data_cfg.workers > 1)} | {directory}"
    )
    return directory


def _progress(enabled: bool):
    """A rich progress bar of text bytes tokenized (and MB/s); silent when ``enabled`` is false."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    return Progress(*columns, transient=True, disable=not enabled)


def load_or_build(source: TextSource, tokenizer: Tokenizer, tokenizer_cfg: Any, cache_dir: str | Path) -> TokenSplits:
    """Memmapped train/val token shards for ``source``; tokenizes (and fits the tokenizer) on a miss."""
    return load(prepare(source, tokenizer, tokenizer_cfg, cache_dir))
