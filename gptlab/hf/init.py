"""``trainer.init_from``: start a run from a pretrained model instead of random weights.

    gptlab-train trainer.init_from=hf:/models/tiny-llama data=text data.path=corpus.txt model.block_size=256
    gptlab-train trainer.init_from=outputs/2026-11-30/12-00-00 ...

``hf:PATH`` is a local Hugging Face Llama/Qwen2/Qwen3/GPT-2 folder (:func:`gptlab.hf.from_hf`); any other
value is a gptlab run dir or checkpoint file. The architecture, weights and tokenizer come from there;
of the ``model`` config only ``block_size`` (the context trained on), ``attention`` and ``dropout`` apply to a
Hugging Face start.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gptlab.hf.folder import Pretrained, from_hf
from gptlab.tokenizer import Tokenizer

HF_PREFIX = "hf:"


def init_from(spec: str, **hf_overrides: Any) -> Pretrained:
    """The model, tokenizer and config ``spec`` names: ``hf:PATH``, a folder with a config.json (Hugging Face;
    a gptlab run dir has none), or a gptlab run dir / checkpoint file. Chat and serving can open any of them."""
    if spec.startswith(HF_PREFIX) or is_hf_folder(spec):
        return from_hf(spec.removeprefix(HF_PREFIX), **hf_overrides)
    return load_run(Path(spec))


def is_hf_folder(path: str | Path) -> bool:
    return (Path(path) / "config.json").is_file()


def load_run(path: Path, checkpoint: str = "best") -> Pretrained:
    """The model (on the CPU), tokenizer and config of a gptlab run dir or checkpoint file."""
    from gptlab.api import load

    model, tokenizer, config = load(path, device="cpu", checkpoint=checkpoint)
    return Pretrained(model, tokenizer, config)


class TrainedTokenizer:
    """A trained tokenizer handed to data preparation as is: ``fit`` returns it unchanged, and
    :meth:`cache_config` keys the token cache by its state (not by the run's tokenizer config)."""

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer, self.name = tokenizer, tokenizer.name

    def fit(self, train: Iterable[str] = (), val: Iterable[str] = ()) -> Tokenizer:
        return self.tokenizer

    def cache_config(self) -> dict[str, str]:
        state = json.dumps(self.tokenizer.state(), sort_keys=True)
        return {"name": f"pretrained-{self.name}", "state_sha256": hashlib.sha256(state.encode()).hexdigest()}
