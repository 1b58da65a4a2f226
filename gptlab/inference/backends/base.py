"""What chat and serving ask of a model, wherever it runs: a name, a context size, and streamed
generations for a text prompt or a list of chat messages.

A generation (:class:`gptlab.inference.engine.Generation` locally, an HTTP stream remotely) is
iterated for lists of :class:`gptlab.inference.engine.Delta` and reports ``prompt_tokens``,
``completion_tokens`` and ``finish_reasons``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Optional, Protocol

from gptlab.inference.engine import Delta, Engine
from gptlab.inference.sampling import SamplingParams

Messages = list[dict[str, str]]
NEVER: Callable[[], bool] = lambda: False  # noqa: E731


class Generation(Protocol):
    prompt_tokens: int
    completion_tokens: int
    finish_reasons: list[Optional[str]]

    def __iter__(self) -> Iterator[list[Delta]]: ...


class Backend(Protocol):
    name: str
    kind: str  # gptlab, hf or remote
    context: Optional[int]  # tokens of context, None where unknown (remote)

    def complete(self, prompt: str, params: SamplingParams, cancelled: Callable[[], bool] = NEVER) -> Generation: ...
    def chat(self, messages: Messages, params: SamplingParams, cancelled: Callable[[], bool] = NEVER) -> Generation: ...
    def fit(self, messages: Messages, max_tokens: int) -> tuple[Messages, int]:
        """``messages`` without the oldest turns that do not fit the context next to ``max_tokens`` new
        tokens (at most half the context is kept free for them; system messages and the last message
        stay), and how many were dropped."""


class LocalBackend:
    """A model on this machine driven by the engine; subclasses say how to render chat messages."""

    kind = "local"

    def __init__(self, name: str, engine: Engine, encode: Callable[[str], Iterable[int]], stop: list[str]):
        self.name, self.engine, self.encode, self.chat_stop = name, engine, encode, stop

    @property
    def context(self) -> int:
        return self.engine.context

    def render(self, messages: Messages) -> str:
        raise NotImplementedError

    def complete(self, prompt: str, params: SamplingParams, cancelled: Callable[[], bool] = NEVER):
        return self.engine.stream(list(self.encode(prompt)), params, cancelled)

    def chat(self, messages: Messages, params: SamplingParams, cancelled: Callable[[], bool] = NEVER):
        params = SamplingParams(**{**params.__dict__, "stop": [*params.stop, *self.chat_stop]})
        return self.engine.stream(list(self.encode(self.render(messages))), params, cancelled)

    def count(self, messages: Messages) -> int:
        return len(list(self.encode(self.render(messages))))

    def fit(self, messages: Messages, max_tokens: int) -> tuple[Messages, int]:
        budget = self.context - min(max_tokens, self.context // 2)
        kept = list(messages)
        dropped = 0
        while self.count(kept) > budget:
            oldest = next((i for i, m in enumerate(kept[:-1]) if m["role"] != "system"), None)
            if oldest is None:
                break
            del kept[oldest]
            dropped += 1
        return kept, dropped
