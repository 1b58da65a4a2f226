"""Checkpoints: plain tensors and containers, written atomically, loaded with weights_only=True.

A checkpoint holds the model, optimizer and grad-scaler states, the step and tokens seen, the
loader position, the RNG states, the trained tokenizer, the loggers' resume state and the
resolved config as a plain dict. ``save`` writes a temporary file in the same folder, flushes it
to disk, then renames it over the old one: a crash mid-write leaves the previous file intact, and
the next start removes the crashed writer's temp file (:func:`remove_stale_temp_files`). Free space
is checked before writing, and a full disk is one :class:`gptlab.disk.DiskFullError`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from gptlab import disk
from gptlab.errors import GptlabError

CHECKPOINT_DIR = "checkpoints"
LAST, BEST = "last.pt", "best.pt"
TEMP_PATTERN = ".*.pt-*.tmp"
ARCHIVE_BYTES, RECORD_BYTES = 4096, 512  # a zip archive's fixed part; per tensor: its name, header and alignment
DISK_HINT = (
    "The previous checkpoint is kept as it was. Free space on that disk, or start the run in a folder on "
    "another disk (hydra.run.dir=...) and copy the run dir there to resume it."
)


def checkpoint_path(run_dir: Path, which: str = LAST) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / which


def estimated_size(state: Any) -> int:
    """About the bytes ``torch.save`` writes for ``state``: every tensor's storage once (a storage shared by
    several tensors counted once), an archive record per tensor, and the pickled plain values."""
    seen, total, stack = set(), ARCHIVE_BYTES, [state]
    while stack:
        item = stack.pop()
        if isinstance(item, torch.Tensor):
            storage = item.untyped_storage()
            key = storage.data_ptr() or id(item)
            if key not in seen:
                seen.add(key)
                total += storage.nbytes() + RECORD_BYTES
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        else:
            total += len(item) if isinstance(item, (str, bytes)) else 16
    return total


def save(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path`` atomically (temp file + fsync + rename), after checking the free space."""
    needed = estimated_size(state)
    what = f"a checkpoint ({path.name})"
    with disk.disk_full_as_error(path, needed, what, DISK_HINT):
        path.parent.mkdir(parents=True, exist_ok=True)
    disk.check_free_space(path, needed, what, DISK_HINT)
    with disk.disk_full_as_error(path, needed, what, DISK_HINT):
        fd, tmp = tempfile.mkstemp(prefix=disk.temp_prefix(path.name), suffix=".tmp", dir=path.parent)
    recorder = None
    try:
        with os.fdopen(fd, "wb") as file:
            recorder = disk.RecordingWriter(file)
            torch.save(state, recorder)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if disk.is_disk_full(error) or recorder is not None and disk.is_disk_full(recorder.error):
            raise disk.disk_full_error(path, needed, what, DISK_HINT) from None  # torch hides ENOSPC
        raise


def copy_as(written: Path, path: Path) -> None:
    """Make ``path`` hold the checkpoint just written to ``written`` without writing it again: a hard link
    (a later rewrite of ``written`` replaces that name only, so ``path`` keeps this state), swapped in
    atomically; a real copy, fsynced, where the file system has no hard links."""
    fd, tmp = tempfile.mkstemp(prefix=disk.temp_prefix(path.name), suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        os.unlink(tmp)
        try:
            os.link(written, tmp)
        except OSError:
            shutil.copyfile(written, tmp)
            with open(tmp, "rb+") as file:
                os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temp_files(run_dir: Path) -> list[Path]:
    """Delete the temp files that a killed checkpoint write left in ``run_dir/checkpoints`` (only those
    whose writing process is gone); called once at the start of a run. Returns the removed files."""
    return disk.remove_orphans(Path(run_dir) / CHECKPOINT_DIR, TEMP_PATTERN)


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
