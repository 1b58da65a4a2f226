"""The console view of a training: a rich progress bar (step, loss, tokens/s, ETA) and event lines."""

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
            TextColumn("{task.fields[tokens_per_s]} tok/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not enabled or not self.console.is_terminal,
        )
        self.task = self.bar.add_task("train", total=total_steps, completed=start_step, loss="-", tokens_per_s="-")

    def __enter__(self) -> TrainingProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.stop()

    def update(self, step: int, loss: float | None = None, tokens_per_s: float | None = None) -> None:
        fields = {}
        if loss is not None:
            fields["loss"] = f"{loss:.4f}"
        if tokens_per_s is not None:
            fields["tokens_per_s"] = f"{tokens_per_s:,.0f}"
        self.bar.update(self.task, completed=step, **fields)

    def set_total(self, total_steps: int) -> None:
        self.bar.update(self.task, total=total_steps)

    def print(self, message: str) -> None:
        self.console.print(message)
