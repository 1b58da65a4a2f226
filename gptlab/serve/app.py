"""The ``gptlab-serve`` ASGI app (FastAPI on uvicorn): the OpenAI-compatible API, the runs API and the web app.

Routes: ``/health`` (never behind the key), ``/v1/models``, ``/v1/completions``,
``/v1/chat/completions`` (JSON, or server-sent events with ``stream: true``), ``/api/runs`` and
``/api/runs/metrics`` (the runs page's data, read-only) and ``/`` (the web app). With an API key
every route but ``/health`` wants ``Authorization: Bearer KEY`` (the page: ``/?key=KEY``), compared in
constant time.
"""

from __future__ import annotations

import asyncio
import hmac
from importlib import resources
from typing import Optional
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from gptlab.errors import DataError, GptlabError
from gptlab.inference.engine import Completion, Delta, PromptTooLong
from gptlab.serve import runs
from gptlab.serve.models import ModelPool
from gptlab.serve.openai_api import ApiError, ChatRequest, CompletionRequest, Limits, Shaper, parse, sse
from gptlab.serve.scheduler import Job

DISCONNECT_POLL_S = 0.5


class ApiKeyGuard:
    """ASGI middleware: 401 in OpenAI's shape unless the request carries the key (``/health`` is open)."""

    def __init__(self, app, key: Optional[str]):
        self.app, self.key = app, key.encode() if key else None

    async def __call__(self, scope, receive, send):
        if self.key is None or scope["type"] != "http" or scope["path"] == "/health" or self._allowed(scope):
            return await self.app(scope, receive, send)
        error = ApiError(
            401, "Missing or wrong API key: send the header 'Authorization: Bearer KEY'.", code="invalid_api_key"
        )
        await JSONResponse(error.body(), status_code=401)(scope, receive, send)

    def _allowed(self, scope) -> bool:
        headers = dict(scope["headers"])
        auth = headers.get(b"authorization", b"")
        given = auth[7:].strip() if auth[:7].lower() == b"bearer " else b""
        if not given:  # the web page is opened as /?key=KEY
            given = (parse_qs(scope.get("query_string", b"").decode()).get("key") or [""])[0].encode()
        return hmac.compare_digest(given, self.key)


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)


def as_api_error(error: BaseException) -> ApiError:
    if isinstance(error, ApiError):
        return error
    if isinstance(error, PromptTooLong):
        return ApiError(400, str(error), "messages", "context_length_exceeded")
    if isinstance(error, GptlabError):
        return ApiError(400, str(error))
    return ApiError(500, f"The model failed: {type(error).__name__}: {error}")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"The request body has {declared} bytes, over the cap of {limit}.")
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise ApiError(413, f"The request body is over the cap of {limit} bytes.")
    return bytes(body)


def create_app(pool: ModelPool, api_key: Optional[str] = None) -> FastAPI:
    app = FastAPI(title="gptlab-serve", docs_url=None, redoc_url=None, openapi_url=None)
    limits: Limits = pool.limits
    app.add_middleware(ApiKeyGuard, key=api_key)
    page = resources.files("gptlab.serve").joinpath("static/index.html").read_text(encoding="utf-8")

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError):
        return error_response(error)

    @app.get("/health")
    async def health():
        return {"status": "ok", "models": {name: worker.state() for name, worker in list(pool.workers.items())}}

    @app.get("/", response_class=HTMLResponse)
    async def index():
        return HTMLResponse(page)

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": await asyncio.to_thread(pool.listing)}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        req = parse(ChatRequest, await read_body(request, limits.max_body_bytes), limits)
        messages = req.chat_messages(limits)
        backend, worker = await asyncio.to_thread(pool.get, req.model)
        wanted = req.max_completion_tokens if req.max_completion_tokens is not None else req.max_tokens
        params = req.model_copy(update={"max_tokens": wanted}).params(limits, limits.max_tokens)
        job = worker.submit(lambda cancelled: backend.chat(messages, params, cancelled))
        return await answer(request, job, Shaper(req.model, chat=True), req.stream, req.include_usage, params.n)

    @app.post("/v1/completions")
    async def completions(request: Request):
        req = parse(CompletionRequest, await read_body(request, limits.max_body_bytes), limits)
        prompt = req.prompt_text(limits)
        backend, worker = await asyncio.to_thread(pool.get, req.model)
        params = req.params(limits, 16)
        job = worker.submit(lambda cancelled: backend.complete(prompt, params, cancelled))
        return await answer(request, job, Shaper(req.model, chat=False), req.stream, req.include_usage, params.n)

    @app.get("/api/runs")
    async def list_runs():
        if pool.runs_dir is None:
            return {"root": None, "runs": []}
        return {"root": str(pool.runs_dir), "runs": await asyncio.to_thread(runs.list_runs, pool.runs_dir)}

    @app.get("/api/runs/metrics")
    async def run_metrics(id: str, after: int = -1):
        if pool.runs_dir is None:
            raise ApiError(404, "This server has no --runs folder.")
        try:
            records = await asyncio.to_thread(runs.metrics, pool.runs_dir, id, after)
        except DataError as error:
            raise ApiError(404, str(error), "id") from None
        return {"id": id, "records": records}

    return app


async def answer(request: Request, job: Job, shaper: Shaper, stream: bool, include_usage: bool, n: int):
    """Wait for the job to start (an early error becomes a JSON error), then stream it or collect it."""
    kind, value = await next_event(request, job)
    if kind == "error":
        return error_response(as_api_error(value))
    if stream:
        return StreamingResponse(
            stream_events(job, shaper, include_usage, n),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    texts = [""] * n
    while True:
        kind, value = await next_event(request, job)
        if kind == "deltas":
            for delta in value:
                texts[delta.index] += delta.text
        elif kind == "error":
            return error_response(as_api_error(value))
        elif kind == "done":
            reasons = [r or "length" for r in value.finish_reasons]
            result = Completion(texts, reasons, value.prompt_tokens, value.completion_tokens)
            return JSONResponse(shaper.full(result))


async def next_event(request: Request, job: Job):
    """The job's next event; a client that disconnected while it waits cancels the job."""
    while True:
        try:
            return await asyncio.wait_for(job.next_event(), DISCONNECT_POLL_S)
        except TimeoutError:
            if await request.is_disconnected():
                job.cancel()
                raise ApiError(499, "The client closed the request.") from None


async def stream_events(job: Job, shaper: Shaper, include_usage: bool, n: int):
    """Server-sent events in OpenAI's chunk shapes; ``[DONE]`` last. Leaving early (disconnect) cancels."""
    try:
        if shaper.chat:
            yield sse(shaper.role_chunk(n))
        while True:
            kind, value = await job.next_event()
            if kind == "deltas":
                text_part = [d for d in value if d.text]
                ended = [d for d in value if d.finish_reason]
                if text_part:
                    yield sse(shaper.chunk([Delta(d.index, d.text) for d in text_part]))
                if ended:
                    yield sse(shaper.chunk([Delta(d.index, "", d.finish_reason) for d in ended]))
            elif kind == "error":
                yield sse(as_api_error(value).body())
                break
            elif kind == "done":
                if include_usage:
                    yield sse(shaper.usage_chunk(value.prompt_tokens, value.completion_tokens))
                break
        yield sse("[DONE]")
    finally:
        job.cancel()
