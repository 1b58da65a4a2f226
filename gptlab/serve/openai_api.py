"""The OpenAI HTTP API's shapes: requests checked against the server's caps, responses, stream chunks, errors.

Follows the OpenAI API reference for ``/v1/completions`` and ``/v1/chat/completions``
(``chat.completion``, ``chat.completion.chunk`` with ``choices[].delta``, ``text_completion``,
``usage``, and ``{"error": {"message", "type", "param", "code"}}``). Fields OpenAI has and the
engine does not use (logprobs, presence penalties, tools) are accepted and ignored; ``top_k``,
``min_p``, ``repetition_penalty`` and ``ignore_eos`` (decode on past the end token, to exactly
``max_tokens``) are the extra sampling fields vLLM also takes; the ``openai`` client sends them
through ``extra_body``.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gptlab.inference.engine import Completion, Delta
from gptlab.inference.sampling import SamplingParams


@dataclass
class Limits:
    """The caps of one server; a request over a cap gets a 4xx error naming it."""

    max_n: int = 8
    max_tokens: int = 1024
    max_messages: int = 64
    max_message_chars: int = 32_000
    max_body_bytes: int = 1_000_000
    max_queue: int = 256  # requests waiting per model


class ApiError(Exception):
    """An error answered in OpenAI's shape."""

    def __init__(self, status: int, message: str, param: Optional[str] = None, code: Optional[str] = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.type = {401: "authentication_error", 404: "invalid_request_error", 429: "rate_limit_error"}.get(
            status, "invalid_request_error" if status < 500 else "server_error"
        )

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class Sampling(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    max_tokens: Optional[int] = Field(default=None, ge=0)
    temperature: float = Field(default=1.0, ge=0, le=2)
    top_p: float = Field(default=1.0, gt=0, le=1)
    top_k: int = Field(default=0, ge=0)
    min_p: float = Field(default=0.0, ge=0, lt=1)
    repetition_penalty: float = Field(default=1.0, gt=0)
    n: int = Field(default=1, ge=1)
    seed: Optional[int] = None
    stop: Union[str, list[str], None] = None
    ignore_eos: bool = False
    stream: bool = False
    stream_options: Optional[dict[str, Any]] = None

    def params(self, limits: Limits, default_max_tokens: int) -> SamplingParams:
        if self.n > limits.max_n:
            raise ApiError(400, f"n={self.n} is over this server's cap of {limits.max_n}.", "n", "n_too_large")
        max_tokens = default_max_tokens if self.max_tokens is None else self.max_tokens
        if max_tokens > limits.max_tokens:
            raise ApiError(
                400, f"max_tokens={max_tokens} is over this server's cap of {limits.max_tokens}.", "max_tokens"
            )
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        if len(stop) > 4:
            raise ApiError(400, "stop takes at most 4 strings.", "stop")
        return SamplingParams(
            max_tokens=max_tokens,
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            min_p=self.min_p,
            repetition_penalty=self.repetition_penalty,
            n=self.n,
            seed=self.seed,
            stop=stop,
            stop_at_eos=not self.ignore_eos,
        )

    @property
    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: Union[str, list[dict[str, Any]], None] = ""

    def text(self) -> str:
        """The message's text; content parts other than text are refused."""
        if isinstance(self.content, list):
            if any(part.get("type") != "text" for part in self.content):
                raise ApiError(400, "Only text content parts are supported.", "messages")
            return "".join(str(part.get("text", "")) for part in self.content)
        return self.content or ""


class ChatRequest(Sampling):
    messages: list[Message]
    max_completion_tokens: Optional[int] = Field(default=None, ge=0)

    def chat_messages(self, limits: Limits) -> list[dict[str, str]]:
        if not self.messages:
            raise ApiError(400, "messages is empty; send at least one message.", "messages")
        if len(self.messages) > limits.max_messages:
            raise ApiError(
                400, f"{len(self.messages)} messages is over this server's cap of {limits.max_messages}.", "messages"
            )
        out = []
        for i, message in enumerate(self.messages):
            text = message.text()
            if len(text) > limits.max_message_chars:
                raise ApiError(
                    400,
                    f"messages[{i}] has {len(text)} characters, over this server's cap of {limits.max_message_chars}.",
                    f"messages[{i}].content",
                )
            out.append({"role": "system" if message.role == "developer" else message.role, "content": text})
        return out


class CompletionRequest(Sampling):
    prompt: Union[str, list[str]]
    max_tokens: Optional[int] = Field(default=16, ge=0)  # OpenAI's default for completions

    def prompt_text(self, limits: Limits) -> str:
        prompts = [self.prompt] if isinstance(self.prompt, str) else self.prompt
        if len(prompts) != 1:
            raise ApiError(400, "prompt must be one string (batches of prompts are not supported).", "prompt")
        if len(prompts[0]) > limits.max_message_chars:
            raise ApiError(
                400, f"prompt has {len(prompts[0])} characters, over the cap of {limits.max_message_chars}.", "prompt"
            )
        return prompts[0]


def parse(model: type[Sampling], body: bytes, limits: Limits) -> Sampling:
    """A request body as ``model``; 413 over the size cap, 400 for bad JSON or a bad field."""
    if len(body) > limits.max_body_bytes:
        raise ApiError(413, f"The request body has {len(body)} bytes, over the cap of {limits.max_body_bytes}.")
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ApiError(400, f"The request body is not JSON ({error}).") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        param = ".".join(str(p) for p in first["loc"])
        raise ApiError(400, f"{param}: {first['msg']}", param) from None


# ------------------------------------------------------------------------------------------ responses


class Shaper:
    """Builds the response objects of one request (one id and creation time for all its chunks)."""

    def __init__(self, model: str, chat: bool):
        self.model, self.chat = model, chat
        self.id = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())

    def _envelope(self, obj: str, choices: list, usage: Optional[dict] = None) -> dict[str, Any]:
        out = {"id": self.id, "object": obj, "created": self.created, "model": self.model, "choices": choices}
        if usage is not None or not obj.endswith("chunk"):
            out["usage"] = usage
        return out

    def full(self, result: Completion) -> dict[str, Any]:
        if self.chat:
            choices = [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": reason,
                    "logprobs": None,
                }
                for i, (text, reason) in enumerate(zip(result.texts, result.finish_reasons))
            ]
        else:
            choices = [
                {"index": i, "text": text, "finish_reason": reason, "logprobs": None}
                for i, (text, reason) in enumerate(zip(result.texts, result.finish_reasons))
            ]
        return self._envelope("chat.completion" if self.chat else "text_completion", choices, usage(result))

    def role_chunk(self, n: int) -> dict[str, Any]:
        """The first chat chunk: the assistant role for every choice."""
        choices = [{"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None} for i in range(n)]
        return self._envelope("chat.completion.chunk", choices)

    def chunk(self, deltas: list[Delta]) -> dict[str, Any]:
        if self.chat:
            choices = [
                {"index": d.index, "delta": {"content": d.text} if d.text else {}, "finish_reason": d.finish_reason}
                for d in deltas
            ]
            return self._envelope("chat.completion.chunk", choices)
        choices = [
            {"index": d.index, "text": d.text, "finish_reason": d.finish_reason, "logprobs": None} for d in deltas
        ]
        return self._envelope("text_completion", choices)

    def usage_chunk(self, prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
        """The last chunk when ``stream_options.include_usage``: no choices, the counts."""
        counts = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        return self._envelope("chat.completion.chunk" if self.chat else "text_completion", [], counts)


def usage(result: Completion) -> dict[str, int]:
    return {
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "total_tokens": result.prompt_tokens + result.completion_tokens,
    }


def sse(payload: dict[str, Any] | str) -> str:
    """One server-sent event."""
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n"
