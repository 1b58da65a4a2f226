"""The generation engine that sampling, chat and serving share: prefill, decode, sample, stop, stream.

One call decodes ``n`` samples of one prompt as one batch. Each step picks a token per row
(:mod:`gptlab.inference.sampling`), turns it into text without splitting characters and holds back
possible stop strings (:mod:`gptlab.inference.stream`). A sample ends at an end token (EOS or the
chat template's end of turn), at a stop string, or at ``max_tokens``. When the context fills up,
the decoder starts over on the most recent half of the context (a sliding window), so generation
can run past ``block_size``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Optional

import torch

from gptlab.errors import GptlabError
from gptlab.inference.decoder import Decoder
from gptlab.inference.sampling import SamplingParams, next_tokens
from gptlab.inference.stream import StopStrings, TextStream


class PromptTooLong(GptlabError):
    """A prompt with more tokens than the model's context."""


@dataclass
class Delta:
    """New text of sample ``index``; ``finish_reason`` ("stop" or "length") on its last delta."""

    index: int
    text: str
    finish_reason: Optional[str] = None


@dataclass
class Completion:
    texts: list[str]
    finish_reasons: list[str]
    prompt_tokens: int
    completion_tokens: int  # over all samples
    token_ids: list[list[int]] = field(default_factory=list)


class Engine:
    """Generates from one model: ``decoder`` runs it, ``decode`` turns token ids into text,
    ``end_ids`` are the tokens that end a sample (not part of its text)."""

    def __init__(self, decoder: Decoder, decode: Callable[[list[int]], str], end_ids: Iterable[int] = ()):
        self.decoder, self.decode = decoder, decode
        self.end_ids = frozenset(int(i) for i in end_ids if i is not None)

    @property
    def context(self) -> int:
        return self.decoder.context

    def check_prompt(self, prompt_ids: Sequence[int]) -> None:
        if not prompt_ids:
            raise GptlabError("The prompt is empty: give at least one token of text.")
        if len(prompt_ids) > self.context:
            raise PromptTooLong(
                f"The prompt has {len(prompt_ids)} tokens but the model's context holds {self.context}; "
                f"shorten it by at least {len(prompt_ids) - self.context} tokens."
            )

    def tokens(self, prompt_ids: Sequence[int], params: SamplingParams) -> Iterator[torch.Tensor]:
        """The sampled token of each of ``params.n`` rows, step by step (rows,), without stopping at end tokens."""
        self.check_prompt(prompt_ids)
        device = self.decoder.device
        generator = None
        if params.seed is not None:
            generator = torch.Generator(device=device).manual_seed(params.seed)
        prompt = torch.as_tensor(list(prompt_ids), dtype=torch.long, device=device)
        history = torch.empty(params.n, len(prompt) + params.max_tokens, dtype=torch.long, device=device)
        history[:, : len(prompt)] = prompt
        length = len(prompt)
        logits = self.decoder.start(history[:, :length])
        seen = None
        if params.repetition_penalty != 1.0:
            seen = torch.zeros(params.n, logits.size(-1), dtype=torch.bool, device=device)
            seen[:, prompt] = True
        for produced in range(params.max_tokens):
            token = next_tokens(logits, params, seen, generator)
            history[:, length] = token
            length += 1
            if seen is not None:
                seen.scatter_(1, token[:, None], True)
            yield token
            if produced + 1 == params.max_tokens:
                return
            if self.decoder.full:  # slide: start over on the latest half of the context
                logits = self.decoder.start(history[:, max(0, length - self.context // 2) : length])
            else:
                logits = self.decoder.step(token.unsqueeze(1))

    def stream(
        self, prompt_ids: Sequence[int], params: SamplingParams, cancelled: Callable[[], bool] = lambda: False
    ) -> Generation:
        """An iterable of per-step text deltas for ``params.n`` samples of the prompt (see :class:`Generation`)."""
        self.check_prompt(prompt_ids)
        return Generation(self, prompt_ids, params, cancelled)


class Generation:
    """Iterating yields, after every decoding step, the list of deltas with new text or a finish reason.
    ``prompt_tokens``, ``completion_tokens`` and ``finish_reasons`` are current while it runs;
    ``cancelled()`` is checked between steps (a client that went away), and ends every sample."""

    def __init__(self, engine: Engine, prompt_ids: Sequence[int], params: SamplingParams, cancelled):
        self.engine, self.prompt_ids, self.params, self.cancelled = engine, list(prompt_ids), params, cancelled
        self.prompt_tokens = len(self.prompt_ids)
        self.counts = [0] * params.n
        self.token_ids: list[list[int]] = [[] for _ in range(params.n)]
        self.finish_reasons: list[Optional[str]] = [None] * params.n

    @property
    def completion_tokens(self) -> int:
        return sum(self.counts)

    def __iter__(self) -> Iterator[list[Delta]]:
        n, end_ids = self.params.n, self.engine.end_ids
        texts = [TextStream(self.engine.decode) for _ in range(n)]
        stops = [StopStrings(self.params.stop) for _ in range(n)]
        if self.params.max_tokens == 0:
            self.finish_reasons = ["length"] * n
            yield [Delta(i, "", "length") for i in range(n)]
            return
        for step, token in enumerate(self.engine.tokens(self.prompt_ids, self.params)):
            last_step = step + 1 == self.params.max_tokens
            deltas = []
            for i, t in enumerate(token.tolist()):
                if self.finish_reasons[i]:
                    continue
                self.counts[i] += 1
                self.token_ids[i].append(t)
                ended = self.params.stop_at_eos and t in end_ids
                piece = "" if ended else texts[i].push(t) + (texts[i].flush() if last_step else "")
                text, stopped = stops[i].push(piece)
                if stopped:
                    self.finish_reasons[i] = "stop"
                elif ended or last_step:
                    text += stops[i].flush()
                    self.finish_reasons[i] = "stop" if ended else "length"
                if text or self.finish_reasons[i]:
                    deltas.append(Delta(i, text, self.finish_reasons[i]))
            if deltas:
                yield deltas
            if all(self.finish_reasons):
                return
            if self.cancelled():
                self.finish_reasons = [r or "cancelled" for r in self.finish_reasons]
                return


def collect(generation: Iterable[list[Delta]]) -> Completion:
    """Run a generation (local or remote) to its end: the texts of its samples and its counts."""
    texts: dict[int, str] = {}
    for deltas in generation:
        for delta in deltas:
            texts[delta.index] = texts.get(delta.index, "") + delta.text
    reasons = [r or "length" for r in generation.finish_reasons]
    ids = getattr(generation, "token_ids", [])
    return Completion(
        [texts.get(i, "") for i in range(len(reasons))],
        reasons,
        generation.prompt_tokens,
        generation.completion_tokens,
        ids,
    )
