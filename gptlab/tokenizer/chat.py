"""The one chat template: how a conversation becomes text and token ids, for chat, serving and fine-tuning.

Each message is its role's token, the content, then the end token; a prompt for the model's reply
ends with the assistant token (as ChatML and Llama 3 frame their turns, with tokens of their own):

    <|system|>You are terse.<|end|><|user|>Hi!<|end|><|assistant|>Hello.<|end|>

The role tokens are declared once, in the tokenizer config (``tokenizer.chat_template``), and travel
in the tokenizer's state, so a loaded run renders the template it was fine-tuned with. Where they are
special tokens of the vocabulary (``chat_template.declare=true``, or appended by supervised
fine-tuning) each is one id; fine-tuning trains on the assistant's content and end token only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gptlab.errors import DataError
from gptlab.tokenizer.base import ChatTemplateConfig

ROLES = ("system", "user", "assistant")
Message = dict[str, str]  # {"role": "user", "content": "..."}


@dataclass(frozen=True)
class ChatTemplate:
    system: str
    user: str
    assistant: str
    end: str

    @classmethod
    def from_config(cls, cfg: ChatTemplateConfig | None = None) -> ChatTemplate:
        cfg = cfg or ChatTemplateConfig()
        return cls(cfg.system, cfg.user, cfg.assistant, cfg.end)

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> ChatTemplate:
        """The template a tokenizer carries (its config's ``chat_template``); the default one otherwise."""
        tokens = getattr(getattr(tokenizer, "special", None), "template", None)
        return cls(**tokens) if tokens else cls.from_config()

    @classmethod
    def for_chat(cls, tokenizer: Any) -> ChatTemplate:
        """The template to chat with a model: the tokenizer's own when its tokens are special tokens (a
        fine-tuned run), else :data:`TRANSCRIPT`, plain text a base model has seen (SPEAKER: lines, as in
        a play), so a model that never saw the role tokens can still be talked to."""
        template = cls.from_tokenizer(tokenizer)
        return TRANSCRIPT if template.missing_tokens(tokenizer) else template

    @property
    def tokens(self) -> list[str]:
        """The four template tokens: what fine-tuning adds to a vocabulary that lacks them."""
        return [self.system, self.user, self.assistant, self.end]

    def stop_tokens(self, tokenizer: Any = None) -> list[str]:
        """The strings that end an assistant's turn: the end token, and the tokenizer's EOS if it has one."""
        eos = getattr(tokenizer, "special", None) and tokenizer.special.roles.get("eos")
        return [self.end] + ([eos] if eos and eos != self.end else [])

    def missing_tokens(self, tokenizer: Any) -> list[str]:
        """Template tokens that are not yet special tokens of ``tokenizer`` (so would be split into pieces)."""
        return [token for token in self.tokens if token not in tokenizer.special.ids]

    def message(self, role: str, content: str) -> str:
        return f"{self.opener(role)}{content}{self.end}"

    def opener(self, role: str) -> str:
        if role not in ROLES:
            raise DataError(f"Unknown chat role '{role}'; valid roles: {', '.join(ROLES)}.")
        return getattr(self, role)

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        """The conversation as text; with ``add_generation_prompt`` it ends with the assistant's opener."""
        text = "".join(self.message(m["role"], m["content"]) for m in check_messages(messages))
        return text + (self.assistant if add_generation_prompt else "")

    def encode_for_training(self, tokenizer: Any, messages: Sequence[Message]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, train_mask): the whole conversation's ids (after the tokenizer's BOS, if it has one), and
        True where the loss applies: each assistant message's content and end token."""
        pieces, masks = [], []
        if tokenizer.bos_id is not None:
            pieces.append(np.array([tokenizer.bos_id], dtype=np.int64))
            masks.append(np.zeros(1, dtype=bool))
        for m in check_messages(messages):
            opener = tokenizer.encode(self.opener(m["role"]))
            reply = tokenizer.encode(m["content"] + self.end)
            pieces += [opener, reply]
            masks += [np.zeros(len(opener), dtype=bool), np.full(len(reply), m["role"] == "assistant")]
        return np.concatenate(pieces), np.concatenate(masks)


# A conversation as a play script: what a base model trained on plain text can continue.
TRANSCRIPT = ChatTemplate(system="SYSTEM:\n", user="USER:\n", assistant="ASSISTANT:\n", end="\n\n")


def check_messages(messages: Sequence[Message], where: str = "messages") -> Sequence[Message]:
    """``messages`` if each is a {role, content} dict with a known role and string content; else a DataError naming it."""
    if not isinstance(messages, (list, tuple)) or not messages:
        raise DataError(f"{where} must be a non-empty list of {{role, content}} objects.")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("content"), str) or m.get("role") not in ROLES:
            raise DataError(
                f"{where}[{i}] must be {{'role': one of {', '.join(ROLES)}, 'content': a string}}; got {m!r:.120}."
            )
    return messages
