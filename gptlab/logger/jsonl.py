"""``metrics.jsonl`` in the run dir: one JSON object per logged step."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gptlab.logger import RunContext
from gptlab.registry import register

METRICS_FILE = "metrics.jsonl"


@dataclass
class JsonlConfig:
    name: str = "jsonl"


class JsonlSink:
    """Appends a line per step and flushes it, so a crash loses at most the line being written."""

    def __init__(self, run_dir: Path, resume_step: int = 0):
        self.path = run_dir / METRICS_FILE
        if resume_step and self.path.exists():
            truncate_after(self.path, resume_step)
        elif not resume_step:
            self.path.unlink(missing_ok=True)
        self.file = open(self.path, "a", encoding="utf-8")

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        self.file.write(json.dumps({"step": step, **metrics}) + "\n")
        self.file.flush()

    def finish(self, exit_code: int = 0) -> None:
        self.file.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics file; a torn last line (from a crash) is skipped."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def truncate_after(path: Path, step: int) -> None:
    """Drop records past ``step``: a resumed run logs those steps again from its checkpoint."""
    kept = [r for r in read_metrics(path) if r.get("step", 0) <= step]
    path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")


@register("logger", "jsonl", JsonlConfig)
def jsonl_logger(cfg: JsonlConfig, run: RunContext) -> list:
    """Metrics file only."""
    return [JsonlSink(run.run_dir, run.resume_step)]
