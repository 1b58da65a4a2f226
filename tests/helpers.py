"""Helpers for the tests: Hydra composition and the real CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from gptlab.config import CONFIG_DIR, CONFIG_NAME

REPO = Path(__file__).resolve().parent.parent
# A model small enough that a few dozen steps take seconds on two CPU cores.
TINY = [
    "model.n_layer=1",
    "model.n_head=2",
    "model.d_model=32",
    "model.block_size=32",
    "trainer.batch_size=8",
    "trainer.eval_batches=2",
    "trainer.log_every=5",
    "trainer.progress=false",
]
MACBETH = ["data=shakespeare", "data.plays=[macbeth]"]


def compose_config(overrides: list[str]):
    """The config exactly as ``gptlab-train`` composes it."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name=CONFIG_NAME, overrides=overrides)


def run_cli(module: str, args: list[str], cwd: Path, env: dict | None = None, timeout: int = 300):
    """Run ``python -m <module> <args>`` in a subprocess; returns the CompletedProcess."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def train_cli(args: list[str], cwd: Path, env: dict | None = None, timeout: int = 300):
    return run_cli("gptlab.train", args, cwd, env, timeout)
