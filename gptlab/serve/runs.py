"""The runs page's data: every run dir below ``--runs`` with its status, config choices and metrics.

Read-only: it reads ``.hydra/config.yaml``, ``.hydra/overrides.yaml``, ``status.json`` and tails
``metrics.jsonl`` (through :mod:`gptlab.compare.runs`); it never writes to a run dir.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from gptlab.compare.runs import load_run
from gptlab.errors import DataError
from gptlab.trainer.checkpoint import BEST, LAST, checkpoint_path

RUN_PREFIX = "run:"  # model names of run dirs in /v1/models
CHOICE_GROUPS = ("model", "optimizer", "schedule", "data", "tokenizer")
CURVES = ("train_loss", "val_loss", "val_bpb", "lr", "tokens_per_s")


def run_dirs(root: Path) -> list[Path]:
    """Run dirs at or below ``root``, in name order (sweep jobs numerically)."""
    found = {p.parent.parent for p in root.glob("**/.hydra/config.yaml")}
    return sorted(found, key=lambda p: [int(s) if s.isdigit() else s for s in p.relative_to(root).parts])


def run_id(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix() or "."


def resolve(root: Path, identifier: str) -> Path:
    """The run dir named ``identifier`` below ``root``; never a path outside it."""
    path = (root / identifier).resolve()
    if not path.is_relative_to(root.resolve()) or not (path / ".hydra" / "config.yaml").is_file():
        raise DataError(f"No run '{identifier}' under {root}.")
    return path


def has_checkpoint(path: Path) -> bool:
    return any(checkpoint_path(path, which).is_file() for which in (BEST, LAST))


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def summary(root: Path, path: Path) -> dict[str, Any]:
    """One row of the runs table."""
    try:
        run = load_run(path)
    except DataError as error:
        return {"id": run_id(root, path), "status": "unreadable", "error": str(error)}
    last = run.records[-1] if run.records else {}
    return {
        "id": run_id(root, path),
        "status": run.status if run.records or run.marker else "starting",
        "choices": {g: run.choices[g] for g in CHOICE_GROUPS if g in run.choices},
        "overrides": run.overrides,
        "step": last.get("step", 0),
        "max_steps": run.max_steps,
        "val_bpb": _finite(run.final("val_bpb")),
        "train_loss": _finite(last.get("train_loss")),
        "chat": has_checkpoint(path),
        "model": RUN_PREFIX + run_id(root, path),
    }


def list_runs(root: Path) -> list[dict[str, Any]]:
    return [summary(root, path) for path in run_dirs(root)]


def metrics(root: Path, identifier: str, after: int = -1) -> list[dict[str, Any]]:
    """The logged records of a run past step ``after`` (the curves' new points), curve keys only."""
    path = resolve(root, identifier)
    run = load_run(path)
    return [
        {"step": r["step"], **{k: _finite(r[k]) for k in CURVES if k in r}} for r in run.records if r["step"] > after
    ]
