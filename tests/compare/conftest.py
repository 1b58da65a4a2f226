"""A tiny real sweep, made once per session with the real ``gptlab-train -m`` command line (run in this process)."""

from __future__ import annotations

import pytest

from tests.helpers import MACBETH, TINY, train_in_process

LRS = ("3e-3", "1e-2")
SEEDS = (0, 1)
SWEEP = [
    *TINY,
    *MACBETH,
    "trainer.max_steps=20",
    "trainer.eval_every=10",
    "trainer.samples=0",
    f"optimizer.lr={','.join(LRS)}",
    f"seed={','.join(map(str, SEEDS))}",
]


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory):
    """The sweep dir of 2 learning rates x 2 seeds (jobs 0..3), 20 steps each."""
    root = tmp_path_factory.mktemp("sweep")
    env = {"GPTLAB_CACHE_DIR": str(tmp_path_factory.getbasetemp() / "cache"), "WANDB_MODE": "disabled"}
    result = train_in_process(["-m", *SWEEP, f"hydra.sweep.dir={root / 'sweep'}"], cwd=root, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "sweep"
