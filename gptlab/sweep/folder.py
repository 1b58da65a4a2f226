"""A multirun's sweep dir is its own: the default one, named by the start time, gets a suffix when another
sweep started in the same second already holds that name.

``conf/config.yaml`` names the default ``${gptlab_new_dir:'outputs/multirun/<date>/<time>'}``. The resolver
creates the folder (``mkdir`` either makes it or fails, so two sweeps never both get one name) and Hydra
caches the value for the sweep, its jobs and their worker processes, like ``${now:...}`` (so
``--cfg hydra --resolve``, which resolves it, creates that folder too). OmegaConf also resolves the
default when a config file replaces it (an experiment's own ``hydra.sweep.dir``): a claimed folder
that is still empty when the process ends is removed, so no stray empty folder stays behind. A sweep
dir given on purpose (``hydra.sweep.dir=...``) is used as given: running the same command again
there completes the unfinished jobs (gptlab/sweep/status.py).
"""

from __future__ import annotations

import atexit
import itertools
from pathlib import Path

from omegaconf import OmegaConf

RESOLVER = "gptlab_new_dir"


def claim_new_dir(path: str) -> str:
    """``path`` if no folder has that name yet, else the first free ``path-2``, ``path-3``, ...; created here."""
    base = Path(path)
    made = [folder for folder in reversed(base.parents) if not folder.exists()]
    base.parent.mkdir(parents=True, exist_ok=True)
    for number in itertools.count(1):
        candidate = base if number == 1 else base.with_name(f"{base.name}-{number}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        _claimed.extend([*made, candidate])
        return str(candidate)
    raise AssertionError("unreachable")


_claimed: list[Path] = []  # the folders claim_new_dir made, parents first


@atexit.register
def remove_unused() -> None:
    """Remove the claimed folders (and the parents made for them) that nothing was written into."""
    for folder in reversed(_claimed):
        try:
            folder.rmdir()  # only an empty folder
        except OSError:
            pass
    _claimed.clear()


OmegaConf.register_new_resolver(RESOLVER, claim_new_dir, use_cache=True, replace=True)
