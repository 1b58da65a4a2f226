"""A remote OpenAI-compatible endpoint as a backend (OpenAI, vLLM, TGI, llama.cpp, Hugging Face
Inference Providers, or ``gptlab-serve``), spoken to with ``httpx``: every request has a timeout,
and an endpoint that cannot be reached or answers an error becomes a :class:`GptlabError` naming it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any, Optional

import httpx

from gptlab.errors import GptlabError
from gptlab.inference.backends.base import NEVER, Messages
from gptlab.inference.engine import Delta, PromptTooLong
from gptlab.inference.sampling import SamplingParams

CONTEXT_KEYS = ("context_length", "max_model_len", "context_window")  # gptlab-serve, vLLM, others


class RemoteBackend:
    kind = "remote"

    def __init__(
        self,
        base_url: str,
        model: Optional[str] = None,
        api_key_env: Optional[str] = None,
        timeout: float = 60.0,
        name: Optional[str] = None,
    ):
        self.base_url = base_url.rstrip("/")
        api_key = os.environ.get(api_key_env) if api_key_env else None
        if api_key_env and not api_key:
            raise GptlabError(f"The environment variable {api_key_env} (--api-key-env) is not set or empty.")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0))
        )
        listed = self._models()
        if model is None:
            if not listed:
                raise GptlabError(f"{self.base_url} lists no models; name one with --remote-model.")
            model = listed[0]["id"]
        self.model = model
        self.name = name or model
        info = next((m for m in listed if m.get("id") == model), {})
        self.context: Optional[int] = next((info[k] for k in CONTEXT_KEYS if isinstance(info.get(k), int)), None)

    def _models(self) -> list[dict[str, Any]]:
        response = self._send("GET", "/models")
        try:
            return list(response.json().get("data", []))
        except (ValueError, AttributeError):
            raise GptlabError(
                f"{self.base_url}/models did not answer JSON; is it an OpenAI-compatible /v1 URL?"
            ) from None

    def _send(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            raise GptlabError(f"{self.base_url}{path} did not answer in time ({type(error).__name__}).") from None
        except httpx.HTTPError as error:
            raise GptlabError(f"Cannot reach {self.base_url}{path}: {error}. Is the server running?") from None
        if response.status_code >= 400:
            raise_for_error(response, f"{self.base_url}{path}")
        return response

    def complete(self, prompt: str, params: SamplingParams, cancelled: Callable[[], bool] = NEVER):
        return RemoteGeneration(self, "/completions", {"prompt": prompt}, params, cancelled)

    def chat(self, messages: Messages, params: SamplingParams, cancelled: Callable[[], bool] = NEVER):
        return RemoteGeneration(self, "/chat/completions", {"messages": messages}, params, cancelled)

    def fit(self, messages: Messages, max_tokens: int) -> tuple[Messages, int]:
        return messages, 0  # no tokenizer here: the server says when a prompt is too long (PromptTooLong)


def raise_for_error(response: httpx.Response, where: str) -> None:
    """An OpenAI-shaped error answer as a GptlabError (PromptTooLong for an over-long prompt)."""
    try:
        response.read()
        error = response.json().get("error", {})
        message, code = error.get("message", response.text), error.get("code")
    except (ValueError, AttributeError):
        message, code = response.text[:300], None
    kind = PromptTooLong if code == "context_length_exceeded" else GptlabError
    raise kind(f"{where} answered {response.status_code}: {message}")


class RemoteGeneration:
    """One streamed request; iterating yields deltas as the server sends them."""

    def __init__(self, backend: RemoteBackend, path: str, body: dict, params: SamplingParams, cancelled):
        self.backend, self.path, self.cancelled = backend, path, cancelled
        self.body = {
            **body,
            "model": backend.model,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "n": params.n,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if params.seed is not None:
            self.body["seed"] = params.seed
        if params.stop:
            self.body["stop"] = params.stop
        if not params.stop_at_eos:
            self.body["ignore_eos"] = True  # vLLM's field (and gptlab-serve's); sent only when asked for
        self.prompt_tokens = self.completion_tokens = 0
        self.finish_reasons: list[Optional[str]] = [None] * params.n

    def __iter__(self) -> Iterator[list[Delta]]:
        where = f"{self.backend.base_url}{self.path}"
        try:
            with self.backend.client.stream("POST", self.path, json=self.body) as response:
                if response.status_code >= 400:
                    raise_for_error(response, where)
                for line in response.iter_lines():
                    if self.cancelled():
                        return
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    deltas = self._read(json.loads(data))
                    if deltas:
                        yield deltas
        except httpx.TimeoutException as error:
            raise GptlabError(f"{where} stopped answering ({type(error).__name__}).") from None
        except httpx.HTTPError as error:
            raise GptlabError(f"Cannot reach {where}: {error}. Is the server running?") from None

    def _read(self, chunk: dict) -> list[Delta]:
        if chunk.get("error"):
            raise GptlabError(f"{self.backend.base_url}{self.path}: {chunk['error'].get('message', chunk['error'])}")
        if chunk.get("usage"):
            self.prompt_tokens = chunk["usage"].get("prompt_tokens", 0)
            self.completion_tokens = chunk["usage"].get("completion_tokens", 0)
        deltas = []
        for choice in chunk.get("choices") or []:
            index = choice.get("index", 0)
            text = (choice.get("delta") or {}).get("content") or choice.get("text") or ""
            reason = choice.get("finish_reason")
            if index < len(self.finish_reasons) and reason:
                self.finish_reasons[index] = reason
            if text or reason:
                deltas.append(Delta(index, text, reason))
        return deltas
