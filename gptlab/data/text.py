"""Plain UTF-8 text files: one path or a glob, one document per file (sorted), each split contiguously."""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from omegaconf import MISSING

from gptlab.data.source import DataConfig, DocumentSource, split_contiguous
from gptlab.errors import DataError
from gptlab.registry import register

_GLOB_CHARS = set("*?[")


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
    """The file's text; a clear error for an empty, binary or non-UTF-8 file."""
    data = path.read_bytes()
    nul = data.find(b"\x00", 0, 1 << 20)
    if nul >= 0:
        raise DataError(f"{key} file '{path}' looks binary (a NUL byte at byte {nul}). Give UTF-8 text files.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(
            f"{key} file '{path}' is not UTF-8 text: byte {error.start} is 0x{data[error.start]:02x} "
            f"({error.reason}). Convert it first, e.g. `iconv -f latin1 -t utf-8 '{path}' > out.txt`."
        ) from None
    if not text.strip():
        raise DataError(f"{key} file '{path}' is empty. Give a file with text to train on.")
    return text


@register("data", "text", TextConfig)
class TextFiles(DocumentSource):
    """Any UTF-8 text file(s): of each, first 90% train, last 10% validation by default (nanoGPT's split)."""

    def __init__(self, cfg: TextConfig):
        self.cfg = cfg
        self.paths = resolve_paths(cfg.path)

    def describe(self) -> str:
        return f"text ({len(self.paths)} file{'s' * (len(self.paths) > 1)} from {self.cfg.path})"

    def fingerprint(self) -> str:
        return files_fingerprint(self.paths, f"val={self.cfg.val_fraction}")

    def split_documents(self) -> Iterator[tuple[str, str]]:
        """Two documents per file: its first 90% (train) and its last 10% (val)."""
        for path in self.paths:
            yield from zip(("train", "val"), split_contiguous(read_utf8(path), self.cfg.val_fraction))
