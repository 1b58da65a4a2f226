"""Text out of a token stream: incremental detokenization and stop strings.

A token can end in the middle of a UTF-8 character (byte-level BPE) and some tokenizers render a
piece differently at the start of a text (SentencePiece's leading space). :class:`TextStream`
therefore decodes a short window of recent tokens twice, with and without the newest one, and
emits only the difference once it no longer ends in U+FFFD (the scheme of Hugging Face's
``TextStreamer`` and vLLM's detokenizer). :class:`StopStrings` holds back text that could still
become a stop string, so a stop string never leaks to the client in pieces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

REPLACEMENT = "\ufffd"


class TextStream:
    """Feed token ids one at a time; get back the text they complete, never half a character."""

    def __init__(self, decode: Callable[[list[int]], str]):
        self.decode = decode
        self.ids: list[int] = []
        self.prefix = 0  # window start: tokens before it are settled
        self.read = 0  # tokens before it have been emitted

    def push(self, token: int) -> str:
        self.ids.append(token)
        emitted = self.decode(self.ids[self.prefix : self.read])
        text = self.decode(self.ids[self.prefix :])
        if len(text) <= len(emitted) or text.endswith(REPLACEMENT):
            return ""  # an incomplete character or piece: wait for the next token
        self.prefix, self.read = self.read, len(self.ids)
        return text[len(emitted) :]

    def flush(self) -> str:
        """Whatever is still held back (at the end of a sample), even an incomplete character."""
        emitted = self.decode(self.ids[self.prefix : self.read])
        text = self.decode(self.ids[self.prefix :])
        self.prefix = self.read = len(self.ids)
        return text[len(emitted) :] if text.startswith(emitted) else ""


class StopStrings:
    """Passes text through until one of ``stops`` appears; the text up to it is the last that gets out."""

    def __init__(self, stops: Sequence[str]):
        self.stops = [s for s in stops if s]
        self.pending = ""

    def push(self, text: str) -> tuple[str, bool]:
        """The text that is safe to emit now, and whether a stop string was reached."""
        self.pending += text
        hits = [i for i in (self.pending.find(s) for s in self.stops) if i >= 0]
        if hits:
            out, self.pending = self.pending[: min(hits)], ""
            return out, True
        keep = max((self._partial(s) for s in self.stops), default=0)
        cut = len(self.pending) - keep
        out, self.pending = self.pending[:cut], self.pending[cut:]
        return out, False

    def _partial(self, stop: str) -> int:
        """The length of the longest end of the pending text that begins ``stop``."""
        for k in range(min(len(stop) - 1, len(self.pending)), 0, -1):
            if self.pending.endswith(stop[:k]):
                return k
        return 0

    def flush(self) -> str:
        out, self.pending = self.pending, ""
        return out
