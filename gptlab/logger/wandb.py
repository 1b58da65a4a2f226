"""Weights & Biases logging (https://wandb.ai), online or offline, never fatal.

The mode comes from ``logger.mode`` if set, else ``$WANDB_MODE``, else ``online`` when wandb
credentials exist (``$WANDB_API_KEY`` or a netrc entry) and ``offline`` when none do. Offline
runs are written under ``<run dir>/wandb/`` and can be uploaded later with ``wandb sync``.
"""

from __future__ import annotations

import netrc
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlparse

from gptlab.errors import ConfigError
from gptlab.logger import RunContext
from gptlab.logger.jsonl import JsonlSink
from gptlab.registry import register

MODES = ("online", "offline", "disabled")


@dataclass
class WandbConfig:
    name: str = "wandb"
    project: str = "gptlab"
    entity: Optional[str] = None
    group: Optional[str] = None
    run_name: Optional[str] = None
    tags: list[str] = field(default_factory=list)
    mode: Optional[str] = None  # online | offline | disabled; None: $WANDB_MODE, else by credentials
    init_timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in MODES:
            raise ConfigError(f"logger.mode='{self.mode}' is not one of {', '.join(MODES)} (or null for automatic).")


def has_credentials() -> bool:
    """An API key in the environment, or a netrc login for the wandb host (``wandb login`` writes one)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        return netrc.netrc().authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def resolve_mode(configured: Optional[str]) -> str:
    return configured or os.environ.get("WANDB_MODE") or ("online" if has_credentials() else "offline")


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{'model': {'n_layer': 4}}`` -> ``{'model.n_layer': 4}``."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


class WandbSink:
    """One wandb run per training run; a resumed training continues the same wandb run."""

    def __init__(self, cfg: WandbConfig, run: RunContext):
        import wandb

        self.wandb = wandb
        resume_id = run.state.get("wandb_run_id")
        mode = resolve_mode(cfg.mode)
        self.run = wandb.init(
            project=cfg.project,
            entity=cfg.entity,
            group=cfg.group or run.group,
            name=cfg.run_name or run.name,
            tags=list(dict.fromkeys([*cfg.tags, *(run.config.get("tags") or []), *run.tags])),
            config={**flatten(run.config), **flatten(run.meta)},
            dir=str(run.run_dir),
            mode=mode,
            id=resume_id,
            resume="allow" if resume_id else None,
            reinit="finish_previous",
            settings=wandb.Settings(console="off", init_timeout=cfg.init_timeout, silent=True),
        )

        if mode == "offline":
            self.say_offline(automatic=not (cfg.mode or os.environ.get("WANDB_MODE")))

    def say_offline(self, automatic: bool) -> None:
        """Once per run: where the offline run lies and the command that uploads it."""
        folder = Path(self.run.dir).parent  # <run dir>/wandb/offline-run-<time>-<id>
        why = "no wandb credentials (WANDB_API_KEY or `wandb login`)" if automatic else "offline mode"
        print(f"wandb: {why}: logging offline to {folder}; upload it later with: wandb sync {folder}")

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        self.run.log(metrics, step=step)

    def finish(self, exit_code: int = 0) -> None:
        self.run.finish(exit_code=exit_code)

    def state(self) -> dict[str, Any]:
        return {"wandb_run_id": self.run.id}


@register("logger", "wandb", WandbConfig)
def wandb_logger(cfg: WandbConfig, run: RunContext) -> list:
    """The metrics file plus a wandb run; if wandb cannot start, training goes on without it."""
    sinks: list = [JsonlSink(run.run_dir, run.resume_step)]
    try:
        sinks.append(WandbSink(cfg, run))
    except Exception as error:  # no network, bad credentials, ...: never stop the training
        warnings.warn(f"wandb could not start ({error!r}); training continues with metrics.jsonl only.", stacklevel=2)
    return sinks
