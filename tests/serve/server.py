"""A real gptlab-serve (the CLI's own argument parsing and app) on a free port of 127.0.0.1, in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from gptlab.serve.cli import build, parse_args


@contextmanager
def serving(argv: list[str]) -> Iterator[str]:
    """``gptlab-serve ARGV`` on 127.0.0.1:<free port>; yields the base URL (without /v1)."""
    server = uvicorn.Server(uvicorn.Config(build(parse_args(argv)), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("gptlab-serve did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
