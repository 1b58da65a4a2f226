"""Helpers for the tests: Hydra composition, and the real CLI in a subprocess or in this process."""

from __future__ import annotations

import contextlib
import io
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


def run_in_process(module: str, args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m <module> <args>`` run in this process: the module's ``main()`` with the arguments in
    ``sys.argv`` (for gptlab.train, ``gptlab.cli.train``, as its ``__main__`` block and console script run it),
    from ``cwd`` with ``env`` added to the environment; returns what :func:`run_cli` returns. No interpreter
    start and no imports: seconds less than a subprocess, for tests that check what a command writes or
    says, not how a process starts or dies. Argv, cwd and environment are restored afterwards; an exception
    other than an exit propagates (where a subprocess would print a traceback and exit 1).
    """
    import importlib

    if module == "gptlab.train":
        command = importlib.import_module("gptlab.cli").train
    else:
        command = importlib.import_module(module).main
    out, err = io.StringIO(), io.StringIO()
    saved_argv, saved_cwd = sys.argv, os.getcwd()
    saved_env = {key: os.environ.get(key) for key in env or {}}
    os.environ.update(env or {})
    sys.argv = [module, *args]
    code = 0
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                command()
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        GlobalHydra.instance().clear()
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return subprocess.CompletedProcess([module, *args], code, out.getvalue(), err.getvalue())


def train_in_process(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """``gptlab-train ARGS`` in this process (see :func:`run_in_process`)."""
    return run_in_process("gptlab.train", args, cwd, env)
