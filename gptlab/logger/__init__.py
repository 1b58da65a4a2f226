"""Metric loggers (``conf/logger/``). A logger option builds a list of sinks; none may stop training."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass
class RunContext:
    """What a logger needs to know about the run it logs."""

    run_dir: Path
    config: dict[str, Any]  # the resolved config as plain containers
    resume_step: int = 0  # 0 for a fresh run
    state: dict[str, Any] = field(default_factory=dict)  # what the loggers saved in the checkpoint
    group: str | None = None  # the sweep this run belongs to (gptlab/sweep/identity.py)
    name: str | None = None  # the run's name, e.g. its swept knob values
    tags: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # extra run config (Hydra choices, git commit)


class Sink(Protocol):
    def log(self, step: int, metrics: dict[str, Any]) -> None: ...
    def finish(self, exit_code: int = 0) -> None: ...


class SafeLoggers:
    """Fans metrics out to sinks; a sink that raises is reported once and then switched off."""

    def __init__(self, sinks: list[Sink]):
        self.sinks = list(sinks)

    def _call(self, method: str, *args: Any) -> None:
        for sink in list(self.sinks):
            try:
                getattr(sink, method)(*args)
            except Exception as error:  # a logging failure never stops training
                warnings.warn(
                    f"logger {type(sink).__name__} failed in {method} ({error!r}); it is switched off for this run.",
                    stacklevel=2,
                )
                self.sinks.remove(sink)

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        self._call("log", step, metrics)

    def finish(self, exit_code: int = 0) -> None:
        """Close every sink; a non-zero ``exit_code`` marks the run as failed where the sink can."""
        self._call("finish", exit_code)

    def state(self) -> dict[str, Any]:
        """What the sinks need to continue after a resume (e.g. the wandb run id)."""
        state: dict[str, Any] = {}
        for sink in self.sinks:
            state.update(getattr(sink, "state", dict)())
        return state
