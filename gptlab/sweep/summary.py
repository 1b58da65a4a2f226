"""A Hydra callback that prints, at the end of a multirun, every job's status and final metric.

Jobs record their outcome in ``status.json`` (``gptlab/sweep/status.py``), in whichever process
ran them, so the summary works for every launcher. A sweep with a failed job exits 1, after the
whole sweep ran.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from rich.table import Table

from gptlab.console import output_console
from gptlab.sweep.status import STATUS_FILE, read_status

FAILED_EXIT_CODE = 1


def job_dirs(sweep_dir: Path) -> list[Path]:
    dirs = [p.parent for p in sweep_dir.rglob(STATUS_FILE)]
    return sorted(dirs, key=lambda p: [int(s) if s.isdigit() else s for s in p.relative_to(sweep_dir).parts])


def summary_table(sweep_dir: Path) -> tuple[Table, list[str]]:
    table = Table(title=f"sweep {sweep_dir}")
    for column in ("job", "status", "this run", "val bpb", "val loss", "error"):
        table.add_column(column)
    failures = []
    for run_dir in job_dirs(sweep_dir):
        marker = read_status(run_dir)
        metrics = marker.get("metrics") or {}
        status = marker.get("status", "?")
        if status == "failed":
            failures.append(str(run_dir))
        style = {"done": "green", "failed": "red"}.get(status, "yellow")
        table.add_row(
            run_dir.relative_to(sweep_dir).as_posix(),
            f"[{style}]{status}[/]",
            marker.get("action", "?"),
            f"{metrics['val_bpb']:.4f}" if "val_bpb" in metrics else "-",
            f"{metrics['val_loss']:.4f}" if "val_loss" in metrics else "-",
            marker.get("error", ""),
        )
    return table, failures


class SweepSummary(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Print the table; exit non-zero if a job failed (SystemExit passes through Hydra to the shell)."""
        table, failures = summary_table(Path(config.hydra.sweep.dir))
        output_console().print(table)
        if failures:
            print(f"{len(failures)} job(s) failed: {', '.join(failures)}", file=sys.stderr)
            raise SystemExit(FAILED_EXIT_CODE)
