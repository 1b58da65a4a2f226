"""A Hugging Face ``datasets`` data set: ``datasets.load_dataset(path, name, split=...)``, one text field.

``data=hf data.path=roneneldan/TinyStories`` loads from the Hub (cached under ``$HF_HOME``);
``data.path=json data.data_files=[corpus/*.jsonl]`` or ``data.path=text ...`` reads local files
through the builders of ``datasets``. Validation is ``data.val_split`` when given, else every
1/val_fraction-th row of ``data.split``. ``data.streaming=true`` iterates without a local copy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Optional

from omegaconf import MISSING

from gptlab.data.source import DataConfig, DocumentSource, interleaved_split
from gptlab.data.text import files_fingerprint, resolve_paths
from gptlab.errors import DataError
from gptlab.registry import register


@dataclass
class HFDataConfig(DataConfig):
    name: str = "hf"
    path: str = MISSING  # a Hub data set name, or a builder: text, json, csv, parquet
    subset: Optional[str] = None  # the data set's config name (load_dataset's `name`)
    data_files: Optional[list[str]] = None  # local files or globs for a builder
    split: str = "train"
    val_split: Optional[str] = None  # e.g. validation; null: carve val_fraction out of `split`
    field: str = "text"
    revision: Optional[str] = None
    streaming: bool = False


@register("data", "hf", HFDataConfig)
class HFDataset(DocumentSource):
    """Rows of a Hugging Face data set (Hub name or local files), one document per row."""

    def __init__(self, cfg: HFDataConfig):
        self.cfg = cfg
        self.files = [p for pattern in cfg.data_files or [] for p in resolve_paths(pattern, "data.data_files")]

    def describe(self) -> str:
        return f"hf ({self.cfg.path}{'/' + self.cfg.subset if self.cfg.subset else ''}, split {self.cfg.split})"

    def fingerprint(self) -> str:
        cfg = self.cfg
        settings = json.dumps(
            [cfg.path, cfg.subset, cfg.split, cfg.val_split, cfg.field, cfg.revision, cfg.val_fraction]
        )
        return files_fingerprint(self.files, settings)

    def _rows(self, split: str) -> Iterator[str]:
        import datasets

        cfg = self.cfg
        try:
            data = datasets.load_dataset(
                cfg.path,
                cfg.subset,
                data_files=[str(p) for p in self.files] or None,
                split=split,
                revision=cfg.revision,
                streaming=cfg.streaming,
            )
        except Exception as error:
            raise DataError(
                f"datasets.load_dataset('{cfg.path}', {cfg.subset!r}, split='{split}') failed: {type(error).__name__}: "
                f"{error}. Check data.path/data.subset/data.split; offline, use a cached copy (HF_DATASETS_OFFLINE=1) "
                f"or local files: data.path=json data.data_files=[...]."
            ) from None
        columns = data.column_names or []
        if columns and cfg.field not in columns:
            raise DataError(
                f"data.field='{cfg.field}' is not a column of {self.describe()}. Columns: {', '.join(columns)}."
            )
        for index, row in enumerate(data):
            text = row[cfg.field]
            if not isinstance(text, str):
                raise DataError(
                    f"{self.describe()} row {index}: field '{cfg.field}' is {type(text).__name__}, not a string."
                )
            yield text

    def split_documents(self) -> Iterator[tuple[str, str]]:
        if not self.cfg.val_split:
            yield from interleaved_split(self._rows(self.cfg.split), self.cfg.val_fraction)
            return
        for split, name in (("train", self.cfg.split), ("val", self.cfg.val_split)):
            yield from ((split, text) for text in self._rows(name))

    def documents(self, split: str) -> Iterator[str]:
        """A named validation split is loaded on its own (training the tokenizer reads no validation rows)."""
        if self.cfg.val_split:
            return self._rows(self.cfg.split if split == "train" else self.cfg.val_split)
        return super().documents(split)
