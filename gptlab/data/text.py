"""Plain UTF-8 text files: one path or a glob, one document per file (sorted), each split contiguously.

Files are streamed, never read whole: a first pass counts the characters (to place the split),
a second decodes blocks of ``BLOCK_BYTES`` and hands them on as pieces of about ``PIECE_CHARS``
characters, cut where a new line of text begins, so that a regex pre-tokenizer (BPE, tiktoken)
sees the same words as in the whole text. A file larger than memory therefore tokenizes fine.
"""

from __future__ import annotations

import codecs
import glob
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from omegaconf import MISSING

from gptlab.data.source import DataConfig, DocumentSource, Piece
from gptlab.errors import DataError
from gptlab.registry import register

_GLOB_CHARS = set("*?[")
BLOCK_BYTES = 1 << 20  # bytes read at a time
PIECE_CHARS = 1 << 20  # characters per piece handed to the tokenizer (pieces end at a line start)
MAX_PIECE_CHARS = 16 * PIECE_CHARS  # a piece with no line start in it is cut here anyway


@dataclass
class TextConfig(DataConfig):
    name: str = "text"
    path: str = MISSING  # a file, or a glob such as 'corpus/**/*.txt'


def resolve_paths(pattern: str, key: str = "data.path") -> list[Path]:
    """The files ``pattern`` (the value of config key ``key``) names; a clear error when it names none or a non-file."""
    expanded = str(Path(pattern).expanduser())
    if _GLOB_CHARS & set(expanded):
        paths = [Path(p) for p in sorted(glob.glob(expanded, recursive=True)) if Path(p).is_file()]
        if not paths:
            raise DataError(
                f"{key}='{pattern}' is a glob that matches no file. Check the pattern from the "
                f"directory you run in ({Path.cwd()}); '**' needs a folder part such as 'corpus/**/*.txt'."
            )
        return paths
    path = Path(expanded)
    if not path.exists():
        raise DataError(f"{key}='{pattern}' does not exist. Give a UTF-8 text file or a glob such as 'corpus/*.txt'.")
    if path.is_dir():
        raise DataError(f"{key}='{pattern}' is a directory. Give a file, or a glob such as '{pattern}/*.txt'.")
    return [path]


def files_fingerprint(paths: list[Path], settings: str) -> str:
    """A hash of ``settings`` and of each file's path and contents (read in 1 MiB blocks)."""
    digest = hashlib.sha256(settings.encode())
    for path in paths:
        digest.update(str(path.resolve()).encode())
        with path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def read_utf8(path: Path, key: str = "data.path") -> str:
    """The whole file's text (for small files such as a JSON list); errors as for :func:`utf8_blocks`."""
    return "".join(utf8_blocks(path, key))


def utf8_blocks(path: Path, key: str = "data.path") -> Iterator[str]:
    """The file's text in blocks of about BLOCK_BYTES; a clear error for an empty, binary or non-UTF-8 file."""
    if path.stat().st_size == 0:
        raise DataError(f"{key} file '{path}' is empty. Give a file with text to train on.")
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, has_text = 0, False
    with path.open("rb") as file:
        while True:
            block = file.read(BLOCK_BYTES)
            nul = block.find(b"\x00")
            if nul >= 0:
                raise DataError(
                    f"{key} file '{path}' looks binary (a NUL byte at byte {offset + nul}). Give UTF-8 text files."
                )
            pending = decoder.getstate()[0]
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as error:
                data = pending + block
                raise DataError(
                    f"{key} file '{path}' is not UTF-8 text: byte {offset - len(pending) + error.start} is "
                    f"0x{data[error.start]:02x} ({error.reason}). Convert it first, e.g. "
                    f"`iconv -f latin1 -t utf-8 '{path}' > out.txt`."
                ) from None
            if text:
                has_text = has_text or not text.isspace()
                yield text
            if not block:
                break
            offset += len(block)
    if not has_text:
        raise DataError(f"{key} file '{path}' is empty (only white space). Give a file with text to train on.")


def count_chars(path: Path) -> int:
    """Characters in a UTF-8 file: its bytes less the continuation bytes (10xxxxxx), counted in blocks."""
    import numpy as np  # here: composing a config (``--cfg job``) imports this module, and needs no numpy

    count = 0
    with path.open("rb") as file:
        while block := file.read(BLOCK_BYTES):
            data = np.frombuffer(block, dtype=np.uint8)
            count += len(data) - int(np.count_nonzero((data & 0xC0) == 0x80))
    return count


def split_blocks(blocks: Iterable[str], cut: int) -> Iterator[tuple[str, str]]:
    """``(split, text)``: the first ``cut`` characters of the blocks train, the rest val."""
    position = 0
    for block in blocks:
        if position >= cut:
            yield "val", block
        elif position + len(block) <= cut:
            yield "train", block
        else:
            yield "train", block[: cut - position]
            yield "val", block[cut - position :]
        position += len(block)


def line_start(text: str) -> int:
    """The last index > 0 where a line of text begins (after a newline, at a non-space), or 0."""
    newline = text.rfind("\n")
    while newline >= 0:
        if newline + 1 < len(text) and not text[newline + 1].isspace():
            return newline + 1
        newline = text.rfind("\n", 0, newline)
    return 0


def document_pieces(blocks: Iterable[tuple[str, str]]) -> Iterator[Piece]:
    """One document per split from ``(split, text)`` blocks, as pieces of about PIECE_CHARS characters."""
    split, buffer, starts = None, "", True
    for tag, text in blocks:
        if tag != split:
            if split is not None:
                yield Piece(split, buffer, starts, True)
            split, buffer, starts = tag, "", True
        buffer += text
        if len(buffer) >= PIECE_CHARS:
            cut = line_start(buffer) or (len(buffer) if len(buffer) >= MAX_PIECE_CHARS else 0)
            if cut:
                yield Piece(split, buffer[:cut], starts, False)
                buffer, starts = buffer[cut:], False
    if split is not None:
        yield Piece(split, buffer, starts, True)


class FileSource(DocumentSource):
    """Base of the sources read from the files ``data.path`` names (a file or a glob): the files, a name
    for messages, and a fingerprint of their contents and of the settings that shape the documents."""

    def __init__(self, cfg: DataConfig):
        self.cfg = cfg
        self.paths = resolve_paths(cfg.path)

    def settings(self) -> str:
        """The config values besides the files that change the documents (part of the fingerprint)."""
        return f"val={self.cfg.val_fraction}"

    def describe(self) -> str:
        return f"{self.cfg.name} ({self.cfg.path})"

    def fingerprint(self) -> str:
        return files_fingerprint(self.paths, self.settings())


@register("data", "text", TextConfig)
class TextFiles(FileSource):
    """Any UTF-8 text file(s): of each, first 90% train, last 10% validation by default (nanoGPT's split)."""

    def describe(self) -> str:
        return f"text ({len(self.paths)} file{'s' * (len(self.paths) > 1)} from {self.cfg.path})"

    def pieces(self) -> Iterator[Piece]:
        """Two documents per file, each in pieces: its first 90% of characters (train) and the rest (val)."""
        for path in self.paths:
            cut = int(count_chars(path) * (1.0 - self.cfg.val_fraction))
            yield from document_pieces(split_blocks(utf8_blocks(path), cut))
