"""Checkpoints: plain tensors and containers, written atomically, loaded with weights_only=True.

A checkpoint holds the model, optimizer and grad-scaler states, the step and tokens seen, the
loader position, the RNG states, the trained tokenizer, the loggers' resume state and the
resolved config as a plain dict. ``save`` writes a temporary file in the same folder, flushes it
to disk, then renames it over the old one: a crash mid-write leaves the previous file intact.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from gptlab.errors import GptlabError

CHECKPOINT_DIR = "checkpoints"
LAST, BEST = "last.pt", "best.pt"


def checkpoint_path(run_dir: Path, which: str = LAST) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / which


def save(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path`` atomically (temp file + fsync + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; a clear error for a missing or broken file."""
    if not path.is_file():
        raise GptlabError(f"No checkpoint at '{path}'.")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise GptlabError(
            f"Checkpoint '{path}' cannot be read ({error}). Use the other checkpoint of the run, or retrain."
        ) from None


def find(run_dir: Path, prefer: str = BEST) -> Path:
    """The preferred checkpoint of a run dir, else the other one; an error naming the fix if none."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GptlabError(
            f"Run dir '{run_dir}' does not exist. Pass the folder of a training run, e.g. outputs/2026-11-23/12-00-00."
        )
    order = [prefer] + [c for c in (BEST, LAST) if c != prefer]
    for name in order:
        if checkpoint_path(run_dir, name).is_file():
            return checkpoint_path(run_dir, name)
    raise GptlabError(
        f"Run dir '{run_dir}' has no checkpoint (looked for {CHECKPOINT_DIR}/{BEST} and {CHECKPOINT_DIR}/{LAST}). "
        f"Pass the folder of a run that trained at least to its first evaluation, or train one with "
        f"`gptlab-train hydra.run.dir={run_dir}`."
    )


def rng_states() -> dict[str, Any]:
    states: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
