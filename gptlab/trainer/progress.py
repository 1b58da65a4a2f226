"""The console view of a training: a rich progress bar (step, loss, speed, ETA) and event lines.

On a terminal the bar redraws in place. Written to a file or a pipe (a log, CI, ``| tee``) there is
no bar: each log step is one plain line (step, loss, speed, elapsed, ETA), and no line is ever
wrapped, so a number is never cut in two.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def clock(seconds: float) -> str:
    """``H:MM:SS`` as rich's columns show it."""
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class TrainingProgress:
    def __init__(self, total_steps: int, start_step: int, enabled: bool = True):
        self.console = Console(highlight=False, soft_wrap=True)
        self.lines = enabled and not self.console.is_terminal  # one plain line per log step, no bar
        self.total, self.start_step = total_steps, start_step
        self.started = time.perf_counter()
        self.bar = Progress(
            TextColumn("step"),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[speed]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not enabled or not self.console.is_terminal,
        )
        self.task = self.bar.add_task("train", total=total_steps, completed=start_step, loss="-", speed="-")

    def __enter__(self) -> TrainingProgress:
        self.started = time.perf_counter()
        self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.stop()

    def update(self, step: int, loss: float | None = None, speed: str | None = None) -> None:
        """``speed``: tokens/s, step time, MFU and memory as gptlab.trainer.speed.describe writes them."""
        fields = {}
        if loss is not None:
            fields["loss"] = f"{loss:.4f}"
        if speed is not None:
            fields["speed"] = speed
        self.bar.update(self.task, completed=step, **fields)
        if self.lines:
            elapsed = time.perf_counter() - self.started
            done = step - self.start_step
            eta = clock(elapsed / done * (self.total - step)) if done > 0 else "-"
            self.print(
                f"step {step:>6}/{self.total} | loss {fields.get('loss', '-')} | {fields.get('speed', '-')} | "
                f"{clock(elapsed)} elapsed | ETA {eta}"
            )

    def set_total(self, total_steps: int) -> None:
        self.total = total_steps
        self.bar.update(self.task, total=total_steps)

    def print(self, message: str) -> None:
        self.console.print(message)
