"""``gptlab-prepare``: tokenize a run's data into the token cache before training.

    gptlab-prepare data=text 'data.path=corpus/*.txt' tokenizer=bpe tokenizer.vocab_size=8192 data.workers=8

takes the same overrides as ``gptlab-train`` (train prepares the data itself when the cache misses);
the work is ``gptlab.data.prepare``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gptlab.errors import reported


def prepare_from_overrides(overrides: list[str]) -> Path:
    """Compose the config as gptlab-train does, then prepare its data; returns the cache folder."""
    from gptlab import registry
    from gptlab.config import compose_config, typed_component
    from gptlab.data.prepare import prepare

    cfg = compose_config(overrides)
    data_cfg, tokenizer_cfg = typed_component("data", cfg.data), typed_component("tokenizer", cfg.tokenizer)
    source = registry.build("data", data_cfg)
    return prepare(source, registry.build("tokenizer", tokenizer_cfg), tokenizer_cfg, cfg.cache_dir)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: ``gptlab-prepare [overrides...]``."""
    args = sys.argv[1:] if argv is None else argv
    if any(arg in ("-h", "--help") for arg in args):
        print(__doc__)
        return
    with reported():
        prepare_from_overrides(args)


if __name__ == "__main__":
    main()
