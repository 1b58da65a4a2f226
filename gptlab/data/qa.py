"""Question/answer pairs for fine-tuning: a JSON list of ``{"question": ..., "answer": ...}`` objects.

Each pair becomes one document through ``data.template`` (default ``Q: {question}\\nA: {answer}``).
With chat special tokens declared in the tokenizer (``tokenizer.chat=['<|user|>','<|assistant|>']``)
a template such as ``<|user|>{question}<|assistant|>{answer}`` encodes the markers as single tokens.
Fine-tuning (``trainer.init_from``) reads the pairs as conversations instead and renders them with
the tokenizer's chat template, the loss on the answers only (gptlab/finetune/sft.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from omegaconf import MISSING

from gptlab.data.source import DataConfig, interleaved_split
from gptlab.data.text import FileSource, read_utf8
from gptlab.errors import ConfigError, DataError
from gptlab.registry import register


@dataclass
class QAConfig(DataConfig):
    name: str = "qa"
    path: str = MISSING  # a .json file holding a list of {question, answer} objects
    template: str = "Q: {question}\nA: {answer}"

    def __post_init__(self) -> None:
        super().__post_init__()
        if "{question}" not in self.template or "{answer}" not in self.template:
            raise ConfigError(f"data.template='{self.template}' must contain both {{question}} and {{answer}}.")


@register("data", "qa", QAConfig)
class QAPairs(FileSource):
    """Question/answer pairs from a JSON file, one document per pair, formatted by a template."""

    def settings(self) -> str:
        return f"template={self.cfg.template};{super().settings()}"

    def pairs(self) -> Iterator[tuple[str, str]]:
        for path in self.paths:
            try:
                items = json.loads(read_utf8(path))
            except json.JSONDecodeError as error:
                raise DataError(
                    f"{path}:{error.lineno}: not JSON ({error.msg}). Give a JSON list of question/answer objects."
                ) from None
            if not isinstance(items, list):
                raise DataError(f"{path}: holds a {type(items).__name__}, not a JSON list of question/answer objects.")
            for index, item in enumerate(items):
                if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("question", "answer")):
                    raise DataError(
                        f"{path}: item {index} is not an object with string fields 'question' and 'answer': {item!r:.120}"
                    )
                yield item["question"], item["answer"]

    def conversations(self) -> Iterator[tuple[str, list[dict[str, str]]]]:
        """(split, messages) of every pair as a user question and an assistant answer (fine-tuning)."""
        turns = ([{"role": "user", "content": q}, {"role": "assistant", "content": a}] for q, a in self.pairs())
        return interleaved_split(turns, self.cfg.val_fraction)

    def split_documents(self) -> Iterator[tuple[str, str]]:
        formatted = (self.cfg.template.format(question=q, answer=a) for q, a in self.pairs())
        return interleaved_split(formatted, self.cfg.val_fraction)
