"""The console view of a training: a rich progress bar (step, loss, speed, ETA) and event lines."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class TrainingProgress:
    def __init__(self, total_steps: int, start_step: int, enabled: bool = True):
        self.console = Console(highlight=False)
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

    def set_total(self, total_steps: int) -> None:
        self.bar.update(self.task, total=total_steps)

    def print(self, message: str) -> None:
        self.console.print(message)
