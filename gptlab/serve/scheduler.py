"""One worker thread per model: requests wait in its queue and run one at a time (a request's ``n``
samples decode together as one batch), so concurrent clients queue instead of crashing the model.

The worker hands events to the request's asyncio queue; a request whose client went away is marked
cancelled, which the engine checks between decoding steps, so its slot frees at once. A full queue
answers 429.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any

from gptlab.serve.openai_api import ApiError

# the events a job sends: ("start", generation), ("deltas", [Delta, ...]), ("done", generation), ("error", exc)
Event = tuple[str, Any]


class Job:
    def __init__(self, start: Callable[[Callable[[], bool]], Any], loop: asyncio.AbstractEventLoop):
        self.start, self.loop = start, loop
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.cancel_event = threading.Event()

    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def cancel(self) -> None:
        self.cancel_event.set()

    def emit(self, kind: str, value: Any = None) -> None:
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, (kind, value))
        except RuntimeError:  # the server's event loop has closed (shutdown)
            self.cancel()

    async def next_event(self) -> Event:
        return await self.events.get()


class Worker:
    """Runs the jobs of one model, first come first served, on its own thread."""

    def __init__(self, name: str, max_queue: int):
        self.name, self.max_queue = name, max_queue
        self.jobs: queue.Queue[Job] = queue.Queue()
        self.busy = False
        self.served = self.cancelled = 0  # jobs run to their end, jobs ended early by their client
        threading.Thread(target=self._run, name=f"gptlab-serve:{name}", daemon=True).start()

    def state(self) -> dict[str, int | bool]:
        return {"busy": self.busy, "waiting": self.jobs.qsize(), "served": self.served, "cancelled": self.cancelled}

    def submit(self, start: Callable[[Callable[[], bool]], Any]) -> Job:
        """Queue ``start(cancelled) -> generation``; 429 when the queue is full."""
        if self.jobs.qsize() >= self.max_queue:
            raise ApiError(429, f"Model '{self.name}' has {self.max_queue} requests waiting; retry later.")
        job = Job(start, asyncio.get_running_loop())
        self.jobs.put(job)
        return job

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            if job.cancelled():
                self.cancelled += 1  # its client left while it waited
                continue
            self.busy = True
            try:
                generation = job.start(job.cancelled)
                job.emit("start", generation)
                for deltas in generation:
                    job.emit("deltas", deltas)
                    if job.cancelled():
                        break
                ended_early = job.cancelled()  # before "done": its consumer cancels once it has read "done"
                job.emit("done", generation)
                self.cancelled += ended_early
                self.served += not ended_early
            except Exception as error:  # noqa: BLE001 - the request gets it as an error answer
                job.emit("error", error)
            finally:
                self.busy = False
