"""Stopping a run cleanly: Ctrl-C and the signals schedulers send save a checkpoint, then end the run.

Ctrl-C (SIGINT) and each signal of ``trainer.stop_signals`` (default SIGTERM, SIGUSR1, SIGUSR2)
ask the loop to stop at the next step boundary; it saves ``checkpoints/last.pt`` and the process
exits with 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM, 138 for SIGUSR1, 140 for
SIGUSR2): the shell's code for "ended by this signal", which SLURM, Kubernetes and job scripts read
as pre-empted, not failed. A second Ctrl-C stops at once; the last complete checkpoint stays (a
checkpoint is written to a temporary file and renamed). When the signal had a Python handler
before the run (submitit's, which requeues the job on SIGUSR2), that handler runs after the save.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Sequence
from typing import Any

NEVER_HANDLED = ("SIGKILL", "SIGSTOP", "SIGINT")  # cannot be caught, or always handled (Ctrl-C)


def signal_number(name: str) -> signal.Signals:
    """``SIGTERM`` or ``TERM`` as a signal; ValueError naming the valid ones otherwise."""
    key = name.upper() if name.upper().startswith("SIG") else f"SIG{name.upper()}"
    valid = sorted(s.name for s in signal.Signals if s.name not in NEVER_HANDLED and not s.name.startswith("SIG_"))
    if key in NEVER_HANDLED or key not in signal.Signals.__members__:
        raise ValueError(f"'{name}' is not a signal a run can stop on here; valid: {', '.join(valid)}")
    return signal.Signals[key]


class Stopped(BaseException):
    """The run stopped on a signal after saving its checkpoint. Not an ``Exception``: it passes
    through Hydra's job runner, so it ends a whole multirun, and the process exits with ``exit_code``."""

    def __init__(self, signum: int, message: str, then: Callable[[], None] | None = None):
        super().__init__(signum, message)
        self.signum, self.message = signum, message
        self.then = then  # what runs once the run has wound up (a scheduler's own handler); not pickled

    def __reduce__(self):
        return type(self), (self.signum, self.message)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        return self.message


class StopRequest:
    """While active, turns Ctrl-C and ``signals`` into a request to stop at the next step boundary."""

    def __init__(self, signals: Sequence[str] = ()):
        self.signals = [signal.SIGINT, *(signal_number(name) for name in signals)]
        self.signum: int | None = None  # the first signal received
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def reason(self) -> str:
        return "Ctrl-C" if self.signum == signal.SIGINT else signal.Signals(self.signum).name

    def __enter__(self) -> StopRequest:
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            if signum == signal.SIGINT and self.signum == signal.SIGINT:
                raise KeyboardInterrupt  # the second Ctrl-C: stop now
            return  # already stopping
        self.signum = signum
        again = " (Ctrl-C again to quit at once)" if signum == signal.SIGINT else ""
        # os.write: a print here could re-enter a print the signal interrupted
        os.write(2, f"\n{self.reason}: stopping after this step, saving a checkpoint{again}\n".encode())

    def __exit__(self, *exc: Any) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)

    def chained_handler(self) -> Callable[[], None] | None:
        """The Python handler the received signal had before the run (e.g. submitit's requeue), to call once saved."""
        previous = self._previous.get(self.signum)
        if self.signum == signal.SIGINT or not callable(previous):
            return None
        return lambda: previous(self.signum, None)
