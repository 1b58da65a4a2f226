"""JSON Lines files: one document per line, its text in one field (``data.field``, default ``text``).

Every 1/val_fraction-th document is a validation document. A line that is not JSON, or lacks the
field, stops the run before training with the file and line number.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

from gptlab.data.source import DataConfig, interleaved_split
from gptlab.data.text import FileSource
from gptlab.errors import DataError
from gptlab.registry import register


@dataclass
class JsonlConfig(DataConfig):
    name: str = "jsonl"
    path: str = MISSING  # a .jsonl file or a glob
    field: str = "text"


def json_lines(path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) of each non-blank line of ``path``; a DataError naming file and line otherwise."""
    with open(path, "rb") as file:
        for number, raw in enumerate(file, start=1):
            if not raw.strip():
                continue
            if b"\x00" in raw:
                raise DataError(f"{path}:{number}: a NUL byte; the data.path file looks binary, not JSON Lines.")
            try:
                yield number, json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise DataError(
                    f"{path}:{number}: not a JSON object ({error}). Each line must be one JSON object."
                ) from None


def read_jsonl_field(path, field: str) -> Iterator[str]:
    """The ``field`` of each non-blank line of ``path``; a DataError naming file and line otherwise."""
    for number, record in json_lines(path):
        if not isinstance(record, dict) or field not in record:
            keys = sorted(record) if isinstance(record, dict) else type(record).__name__
            raise DataError(
                f"{path}:{number}: no field '{field}' (the line has {keys}). Set data.field=... to the text field."
            )
        if not isinstance(record[field], str):
            raise DataError(f"{path}:{number}: field '{field}' is {type(record[field]).__name__}, not a string.")
        yield record[field]


@register("data", "jsonl", JsonlConfig)
class JsonlFiles(FileSource):
    """JSON Lines file(s), one document per line (e.g. a web-text dump)."""

    def __init__(self, cfg: JsonlConfig):
        super().__init__(cfg)
        empty = [str(p) for p in self.paths if p.stat().st_size == 0]
        if empty:
            raise DataError(f"data.path file '{empty[0]}' is empty. Give JSON Lines files with one document per line.")

    def describe(self) -> str:
        return f"jsonl ({len(self.paths)} file{'s' * (len(self.paths) > 1)} from {self.cfg.path}, field '{self.cfg.field}')"

    def settings(self) -> str:
        return f"field={self.cfg.field};{super().settings()}"

    def split_documents(self) -> Iterator[tuple[str, str]]:
        every = (doc for path in self.paths for doc in read_jsonl_field(path, self.cfg.field))
        return interleaved_split(every, self.cfg.val_fraction)
