"""Chat conversations for fine-tuning: JSON Lines of ``{"messages": [{"role": ..., "content": ...}, ...]}``.

Every 1/val_fraction-th conversation is a validation conversation. The tokenizer's chat template
(gptlab/tokenizer/chat.py) renders them during fine-tuning (``trainer.init_from``), with the loss
on the assistant turns only. A line that is not such an object, or names an unknown role, stops
the run before training with the file, the line and the valid roles.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from omegaconf import MISSING

from gptlab.data.jsonl import json_lines
from gptlab.data.source import DataConfig, interleaved_split
from gptlab.data.text import FileSource
from gptlab.errors import ConfigError, DataError
from gptlab.registry import register
from gptlab.tokenizer.chat import check_messages

Conversation = list[dict[str, str]]


@dataclass
class ChatConfig(DataConfig):
    name: str = "chat"
    path: str = MISSING  # a .jsonl file (or a glob), one {"messages": [...]} object per line


def read_conversations(path) -> Iterator[Conversation]:
    """The ``messages`` of each non-blank line of ``path``, checked; a DataError naming file and line otherwise."""
    for number, record in json_lines(path):
        messages = record.get("messages") if isinstance(record, dict) else None
        if not isinstance(messages, list) or not messages:
            raise DataError(
                f'{path}:{number}: no non-empty list "messages". Each line must be '
                f'{{"messages": [{{"role": "user", "content": ...}}, {{"role": "assistant", "content": ...}}]}}.'
            )
        check_messages(messages, where=f"{path}:{number}: messages")
        if not any(message["role"] == "assistant" for message in messages):
            raise DataError(f"{path}:{number}: no assistant message, so nothing to learn from this conversation.")
        yield [{"role": m["role"], "content": m["content"]} for m in messages]


@register("data", "chat", ChatConfig)
class ChatConversations(FileSource):
    """Chat conversations from JSON Lines file(s), one conversation per line, for fine-tuning."""

    def conversations(self) -> Iterator[tuple[str, Conversation]]:
        """(split, messages) of every conversation."""
        every = (conversation for path in self.paths for conversation in read_conversations(path))
        return interleaved_split(every, self.cfg.val_fraction)

    def split_documents(self) -> Iterator[tuple[str, str]]:
        raise ConfigError(
            "data=chat holds conversations for fine-tuning, rendered by the tokenizer's chat template: set "
            "trainer.init_from=RUN_DIR (a pretrained run), or use data=jsonl for plain text."
        )
