"""``status.json`` in a job's run dir: what makes a re-run of the same sweep command resumable.

The marker holds the job's status (running, stopped, done, failed), what the last invocation did
(fresh, resumed, skipped), a hash of the resolved config and, when done, the final metrics. A
re-run skips a job that is done with the same hash and resumes one that left a checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from gptlab.logger.wandb import flatten

STATUS_FILE = "status.json"
# Keys that change how a job runs or reports, not what it computes.
NOT_HASHED = ("sweep.", "logger.", "trainer.resume", "trainer.progress", "trainer.threads", "trainer.stop_at_step")


def config_hash(config: dict[str, Any]) -> str:
    """A short hash of the resolved config, leaving out keys that do not change the result."""
    kept = {k: v for k, v in flatten(config).items() if not k.startswith(NOT_HASHED)}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


def read_status(run_dir: Path) -> dict[str, Any]:
    path = run_dir / STATUS_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def write_status(run_dir: Path, **fields: Any) -> None:
    """Update the marker atomically (temp file + rename), keeping fields not given."""
    marker = {**read_status(run_dir), **fields, "updated": time.strftime("%Y-%m-%d %H:%M:%S")}
    tmp = run_dir / f".{STATUS_FILE}.tmp"
    tmp.write_text(json.dumps(marker, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, run_dir / STATUS_FILE)


def finished_metrics(run_dir: Path, digest: str) -> dict[str, float] | None:
    """The final metrics if this run dir holds a finished job of the same config, else None."""
    marker = read_status(run_dir)
    if marker.get("status") == "done" and marker.get("config_hash") == digest:
        return marker.get("metrics", {})
    return None
