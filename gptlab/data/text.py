"""Plain UTF-8 text files: one path or a glob, concatenated in sorted order, split contiguously."""

from __future__ import annotations

import glob
import hashlib
from dataclasses import dataclass
from pathlib import Path

from omegaconf import MISSING

from gptlab.data.source import check_val_fraction, split_contiguous
from gptlab.errors import DataError
from gptlab.registry import register

_GLOB_CHARS = set("*?[")


@dataclass
class TextConfig:
    name: str = "text"
    path: str = MISSING  # a file, or a glob such as 'corpus/**/*.txt'
    val_fraction: float = 0.1

    def __post_init__(self) -> None:
        check_val_fraction(self.val_fraction)


def resolve_paths(pattern: str) -> list[Path]:
    """The files ``data.path`` names; a clear error when it names none or a non-file."""
    expanded = str(Path(pattern).expanduser())
    if _GLOB_CHARS & set(expanded):
        paths = [Path(p) for p in sorted(glob.glob(expanded, recursive=True)) if Path(p).is_file()]
        if not paths:
            raise DataError(
                f"data.path='{pattern}' is a glob that matches no file. Check the pattern from the "
                f"directory you run in ({Path.cwd()}); '**' needs a folder part such as 'corpus/**/*.txt'."
            )
        return paths
    path = Path(expanded)
    if not path.exists():
        raise DataError(
            f"data.path='{pattern}' does not exist. Give a UTF-8 text file or a glob such as 'corpus/*.txt'."
        )
    if path.is_dir():
        raise DataError(f"data.path='{pattern}' is a directory. Give a file, or a glob such as '{pattern}/*.txt'.")
    return [path]


def read_utf8(path: Path) -> str:
    """The file's text; a clear error for an empty or non-UTF-8 file."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(
            f"data.path file '{path}' is not UTF-8 text: byte {error.start} is 0x{data[error.start]:02x} "
            f"({error.reason}). Convert it first, e.g. `iconv -f latin1 -t utf-8 '{path}' > out.txt`."
        ) from None
    if not text.strip():
        raise DataError(f"data.path file '{path}' is empty. Give a file with text to train on.")
    return text


@register("data", "text", TextConfig)
class TextFiles:
    """Any UTF-8 text file(s): first 90% train, last 10% validation by default (nanoGPT's split)."""

    def __init__(self, cfg: TextConfig):
        self.cfg = cfg
        self.paths = resolve_paths(cfg.path)

    def describe(self) -> str:
        return f"text ({len(self.paths)} file{'s' * (len(self.paths) > 1)} from {self.cfg.path})"

    def fingerprint(self) -> str:
        digest = hashlib.sha256(f"val={self.cfg.val_fraction}".encode())
        for path in self.paths:
            digest.update(str(path.resolve()).encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()

    def read_splits(self) -> tuple[str, str]:
        text = "\n".join(read_utf8(path) for path in self.paths)
        return split_contiguous(text, self.cfg.val_fraction)
