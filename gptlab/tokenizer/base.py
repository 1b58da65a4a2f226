"""What every tokenizer shares: special tokens declared once in the config and honoured everywhere.

``tokenizer.bos``, ``tokenizer.eos``, ``tokenizer.pad`` and ``tokenizer.chat`` (e.g.
``[<|user|>, <|assistant|>]``) name the special tokens; ``tokenizer.chat_template`` names the role
tokens of the one chat template (gptlab/tokenizer/chat.py) that chat, serving and fine-tuning share. Every tokenizer gives each one id (reusing
the id a pretrained vocabulary already has for it, else appending it after the vocabulary),
recognizes them in text on ``encode``, renders them on ``decode``, counts them in ``vocab_size``,
and gives them 0 bytes in ``token_byte_lengths`` (bits per byte counts only the text's bytes).
The data pipeline separates documents with the BOS/EOS ids.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
from omegaconf import MISSING

from gptlab.errors import ConfigError

ROLES = ("bos", "eos", "pad")


@dataclass
class ChatTemplateConfig:
    """The tokens that open each role's message and end every message (gptlab/tokenizer/chat.py).

    They become special tokens of the vocabulary when ``declare`` is true (or when fine-tuning appends
    them); a pretraining run on plain text leaves them out, so its vocabulary is the text's alone."""

    system: str = "<|system|>"
    user: str = "<|user|>"
    assistant: str = "<|assistant|>"
    end: str = "<|end|>"
    declare: bool = False  # reserve ids for these tokens from the start

    def tokens(self) -> list[str]:
        return [self.system, self.user, self.assistant, self.end]


@dataclass
class TokenizerConfig:
    """The keys every tokenizer config has: its name, the special tokens and the chat template."""

    name: str = MISSING
    bos: Optional[str] = None  # prepended to every document
    eos: Optional[str] = "<|endoftext|>"  # appended to every document
    pad: Optional[str] = None
    chat: list[str] = field(default_factory=list)  # more special tokens
    chat_template: ChatTemplateConfig = field(default_factory=ChatTemplateConfig)

    def __post_init__(self) -> None:
        if isinstance(self.chat_template, dict):  # built from a plain dict (a saved config)
            self.chat_template = ChatTemplateConfig(**self.chat_template)
        template = self.chat_template.tokens()
        if any(not t for t in template) or len(set(template)) < len(template):
            raise ConfigError(
                f"tokenizer.chat_template needs four different non-empty tokens (system, user, assistant, end); "
                f"got {template}."
            )
        if any(not t for t in (*self.chat, self.bos, self.eos, self.pad) if t is not None):
            raise ConfigError("tokenizer.bos/eos/pad/chat: a special token cannot be the empty string (use null).")
        duplicates = {t for t in self.chat if t in (self.bos, self.eos, self.pad) or self.chat.count(t) > 1}
        if duplicates:
            raise ConfigError(f"tokenizer.chat repeats special tokens {sorted(duplicates)}; declare each once.")

    def special_tokens(self) -> list[str]:
        """Every declared special token once, in the order bos, eos, pad, chat (then the template's, if declared)."""
        template = self.chat_template.tokens() if self.chat_template.declare else []
        return list(dict.fromkeys(t for t in (self.bos, self.eos, self.pad, *self.chat, *template) if t))


class SpecialTokens:
    """The declared special tokens with their ids, the roles (bos/eos/pad) they play, and the chat
    template's role tokens (which need not be in the vocabulary yet)."""

    def __init__(self, ids: dict[str, int], roles: dict[str, Optional[str]], template: dict[str, str] | None = None):
        self.ids, self.roles = dict(ids), {role: roles.get(role) for role in ROLES}
        self.template = dict(template or _template_tokens(ChatTemplateConfig()))
        self.by_id = {i: token for token, i in self.ids.items()}
        alternatives = "|".join(re.escape(t) for t in sorted(self.ids, key=len, reverse=True))
        self._pattern = re.compile(f"({alternatives})") if self.ids else None

    @classmethod
    def declare(
        cls, cfg: TokenizerConfig, first_free_id: int, existing: Callable[[str], Optional[int]] = lambda token: None
    ) -> SpecialTokens:
        """Ids for ``cfg``'s special tokens: the vocabulary's own id if it has one, else the next free id."""
        ids: dict[str, int] = {}
        for token in cfg.special_tokens():
            known = existing(token)
            ids[token] = known if known is not None else first_free_id
            first_free_id += known is None
        return cls(ids, {role: getattr(cfg, role) for role in ROLES}, _template_tokens(cfg.chat_template))

    def id_of(self, role: str) -> Optional[int]:
        token = self.roles[role]
        return None if token is None else self.ids[token]

    def split(self, text: str) -> list[str]:
        """``text`` cut into alternating ordinary text and special tokens (odd indices are special)."""
        return self._pattern.split(text) if self._pattern else [text]

    def with_tokens(self, tokens: list[str], first_free_id: int) -> SpecialTokens:
        """These special tokens plus ``tokens`` that are new, given ids from ``first_free_id`` on."""
        ids = dict(self.ids)
        for token in tokens:
            if token not in ids:
                ids[token] = first_free_id
                first_free_id += 1
        return SpecialTokens(ids, self.roles, self.template)

    def state(self) -> dict[str, Any]:
        return {"ids": self.ids, "roles": self.roles, "template": self.template}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SpecialTokens:
        return cls(state["ids"], state["roles"], state.get("template"))


def _template_tokens(cfg: ChatTemplateConfig) -> dict[str, str]:
    return {"system": cfg.system, "user": cfg.user, "assistant": cfg.assistant, "end": cfg.end}


def split_special(texts: Iterable[str], cfg: TokenizerConfig) -> Iterable[str]:
    """The ordinary text of ``texts`` with the declared special tokens cut out (for fitting a vocabulary)."""
    splitter = SpecialTokens({t: i for i, t in enumerate(cfg.special_tokens())}, {})
    for text in texts:
        yield from splitter.split(text)[::2]


class BaseTokenizer:
    """Encode/decode/byte lengths with special tokens, on top of a subclass's ordinary vocabulary.

    A subclass provides ``ordinary_size``, ``_encode_ordinary``, ``_decode_ordinary``,
    ``_ordinary_byte_lengths`` and ``_ordinary_state`` (plus ``fit`` and ``from_state``).
    """

    name: str
    special: SpecialTokens
    ordinary_size: int

    @property
    def vocab_size(self) -> int:
        return max(self.ordinary_size, max(self.special.by_id, default=-1) + 1)

    @property
    def bos_id(self) -> Optional[int]:
        return self.special.id_of("bos")

    @property
    def eos_id(self) -> Optional[int]:
        return self.special.id_of("eos")

    @property
    def pad_id(self) -> Optional[int]:
        return self.special.id_of("pad")

    def encode(self, text: str) -> np.ndarray:
        """Token ids (int64); declared special tokens in ``text`` become their ids."""
        parts = self.special.split(text)
        pieces = []
        for i, part in enumerate(parts):
            if i % 2:
                pieces.append(np.array([self.special.ids[part]], dtype=np.int64))
            elif part:
                pieces.append(np.asarray(self._encode_ordinary(part), dtype=np.int64))
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> str:
        out, run = [], []
        for i in ids:
            token = self.special.by_id.get(int(i))
            if token is None:
                run.append(int(i))
                continue
            if run:
                out.append(self._decode_ordinary(run))
                run = []
            out.append(token)
        if run:
            out.append(self._decode_ordinary(run))
        return "".join(out)

    def token_byte_lengths(self) -> np.ndarray:
        """UTF-8 bytes of each token id's text; special tokens (and unused ids) count 0."""
        lengths = np.zeros(self.vocab_size, dtype=np.int64)
        ordinary = self._ordinary_byte_lengths()
        lengths[: len(ordinary)] = ordinary
        lengths[list(self.special.by_id)] = 0
        return lengths

    def state(self) -> dict[str, Any]:
        return {"name": self.name, "special": self.special.state(), **self._ordinary_state()}

    def with_special_tokens(self, tokens: list[str]):
        """A copy of this tokenizer that also has ``tokens`` as special tokens; the new ones get ids after
        the vocabulary (a model then needs as many fresh embedding rows: see gptlab/finetune)."""
        state = self.state()
        state["special"] = self.special.with_tokens(tokens, self.vocab_size).state()
        return type(self).from_state(state)

    # -- what a subclass provides
    def _encode_ordinary(self, text: str) -> Any:
        raise NotImplementedError

    def _decode_ordinary(self, ids: list[int]) -> str:
        raise NotImplementedError

    def _ordinary_byte_lengths(self) -> np.ndarray:
        raise NotImplementedError

    def _ordinary_state(self) -> dict[str, Any]:
        raise NotImplementedError
