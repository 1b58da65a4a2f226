"""The models a server answers for: the backends given on the command line, plus (with ``--runs``)
every run dir with a checkpoint, loaded on first use under the name ``run:<path below --runs>``."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Optional

from gptlab.errors import GptlabError
from gptlab.inference.backends import Backend
from gptlab.serve import runs
from gptlab.serve.openai_api import ApiError, Limits
from gptlab.serve.scheduler import Worker


class ModelPool:
    def __init__(self, backends: list[Backend], runs_dir: Optional[Path], device: str, limits: Limits):
        self.backends = {b.name: b for b in backends}
        self.runs_dir, self.device, self.limits = runs_dir, device, limits
        self.workers = {name: Worker(name, limits.max_queue) for name in self.backends}
        self.created = int(time.time())
        self._loading = threading.Lock()

    def listing(self) -> list[dict]:
        """``/v1/models``'s data: loaded models first, then the runs that can be loaded."""
        entries = [self._entry(name, b.kind, b.context) for name, b in list(self.backends.items())]
        if self.runs_dir is not None:
            for path in runs.run_dirs(self.runs_dir):
                name = runs.RUN_PREFIX + runs.run_id(self.runs_dir, path)
                if name not in self.backends and runs.has_checkpoint(path):
                    entries.append(self._entry(name, "gptlab", None))
        return entries

    def _entry(self, name: str, kind: str, context: Optional[int]) -> dict:
        return {"id": name, "object": "model", "created": self.created, "owned_by": kind, "context_length": context}

    def get(self, name: str) -> tuple[Backend, Worker]:
        """The backend called ``name`` and its worker, loading a run on first use (blocking)."""
        if name not in self.backends:
            with self._loading:
                if name not in self.backends:
                    self._load_run(name)
        return self.backends[name], self.workers[name]

    def _load_run(self, name: str) -> None:
        if self.runs_dir is None or not name.startswith(runs.RUN_PREFIX):
            known = ", ".join(self.backends) or "none"
            raise ApiError(
                404, f"The model '{name}' does not exist; this server has: {known}.", "model", "model_not_found"
            )
        from gptlab.inference.backends.local import GptlabBackend

        try:
            path = runs.resolve(self.runs_dir, name.removeprefix(runs.RUN_PREFIX))
            backend = GptlabBackend(path, self.device, name=name)
        except GptlabError as error:
            raise ApiError(404, f"The model '{name}' cannot be loaded: {error}", "model", "model_not_found") from None
        self.workers[name] = Worker(name, self.limits.max_queue)
        self.backends[name] = backend
