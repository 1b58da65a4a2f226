"""Who a job is: its sweep (the wandb group), its swept knob values (run name and tags), the Hydra
choices and the git commit it ran from (extra run config for wandb)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

SEED_KEY = "seed"
MAX_TAG = 64  # wandb's limit on a tag's length
PACKAGE_DIR = Path(__file__).resolve().parent.parent


def git_commit(where: Path = PACKAGE_DIR) -> str | None:
    """The commit of the git checkout holding gptlab (None outside a checkout or without git)."""
    try:
        result = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def sweep_name(sweep_dir: Path) -> str:
    """``outputs/multirun/2026-01-01/12-00-00`` -> ``2026-01-01_12-00-00``; otherwise the dir's name."""
    parts = sweep_dir.parts
    if "multirun" in parts and parts[-1] != "multirun":
        return "_".join(parts[len(parts) - parts[::-1].index("multirun") :])
    return sweep_dir.name


def swept_keys(sweep_dir: Path) -> list[str]:
    """The keys the sweep varies: sweep overrides of the command line plus ``hydra.sweeper.params``.

    Read from ``multirun.yaml``, which Hydra's sweeper writes into the sweep dir before any job.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    path = sweep_dir / "multirun.yaml"
    if not path.exists():
        return []
    multirun = OmegaConf.load(path)
    keys = []
    parsed = OverridesParser.create().parse_overrides(list(multirun.hydra.overrides.task))
    keys += [o.key_or_group for o in parsed if o.is_sweep_override()]
    keys += [k for k in (OmegaConf.select(multirun, "hydra.sweeper.params") or {}) if k not in keys]
    return [k for k in keys if not k.startswith("hydra")]


@dataclass
class JobIdentity:
    group: str | None = None  # the sweep's name; None outside a multirun
    name: str | None = None  # e.g. "model.n_layer=2 seed=1"
    tags: list[str] = field(default_factory=list)  # e.g. ["model.n_layer=2"]
    meta: dict[str, Any] = field(default_factory=dict)  # extra run config: Hydra choices, git commit
    num: int | None = None  # Hydra's job number in a multirun; None for a single run


def job_identity(
    sweep_dir: Path | None, overrides: list[str], choices: dict[str, Any], name: str | None
) -> JobIdentity:
    """The identity of a job with these ``overrides`` (Hydra's ``hydra.overrides.task``)."""
    meta = {"hydra_choices": {k: str(v) for k, v in choices.items()}, "git_commit": git_commit()}
    if sweep_dir is None:
        return JobIdentity(meta=meta)
    swept = swept_keys(sweep_dir)
    values = dict(o.lstrip("+~").split("=", 1) for o in overrides if "=" in o)
    knobs = [f"{k}={values[k]}" for k in swept if k in values]
    tags = [knob[:MAX_TAG] for knob in knobs if not knob.startswith(f"{SEED_KEY}=")]
    return JobIdentity(name or sweep_name(sweep_dir), " ".join(knobs) or None, tags, meta)
