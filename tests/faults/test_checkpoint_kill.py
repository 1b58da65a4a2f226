"""SIGKILL at random points of a checkpoint write: the run resumes from the last complete checkpoint,
loses nothing, and ends with the metrics of a run that was never interrupted."""

from __future__ import annotations

import random
import signal
import subprocess
import sys

import pytest

from gptlab.logger.jsonl import METRICS_FILE, read_metrics
from gptlab.trainer import checkpoint
from tests.helpers import MACBETH, REPO, TINY, train_cli

pytestmark = pytest.mark.slow

RUN = [*TINY, *MACBETH, "trainer.max_steps=20", "trainer.eval_every=5", "trainer.samples=0", "trainer.threads=1"]
SAVES_PER_RUN = 4  # last.pt at steps 5, 10, 15, 20 (best.pt is a link to it while the val loss falls: no write)
TIMING_KEYS = {"tokens_per_s", "train_time_s", "time_s", "step_ms", "mfu", "peak_memory_gib"}  # speed, not training
ONCE_PER_START = ("budget_", "flops_per_token")  # the budget is logged again in a resumed run's first record


def comparable(records: list[dict]) -> list[dict]:
    """The training metrics of each record, without timings and per-start bookkeeping."""
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS and not k.startswith(ONCE_PER_START)} for r in records]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run: its metrics, and the size of its checkpoints."""
    root = tmp_path_factory.mktemp("reference")
    result = train_cli([*RUN, f"hydra.run.dir={root / 'run'}"], root)
    assert result.returncode == 0, result.stderr
    size = checkpoint.checkpoint_path(root / "run").stat().st_size
    return comparable(read_metrics(root / "run" / METRICS_FILE)), size


@pytest.mark.parametrize(
    "seed", [0, pytest.param(1, marks=pytest.mark.extended), pytest.param(2, marks=pytest.mark.extended)]
)
def test_a_kill_mid_write_loses_nothing(tmp_path, reference, seed):
    expected, size = reference
    rng = random.Random(seed)
    kill_save, kill_byte = rng.randrange(2, SAVES_PER_RUN + 1), rng.randrange(1, size)
    run_dir = tmp_path / "run"
    killed = subprocess.run(
        [sys.executable, str(REPO / "tests/faults/kill_during_save.py"), str(kill_save), str(kill_byte), str(run_dir)]
        + ["--", *RUN, f"hydra.run.dir={run_dir}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, f"save {kill_save}, byte {kill_byte}: {killed.stderr[-2000:]}"
    stray = list((run_dir / checkpoint.CHECKPOINT_DIR).glob(checkpoint.TEMP_PATTERN))
    assert len(stray) == 1, "the kill left the half-written temp file"
    last = checkpoint.checkpoint_path(run_dir)
    survivor = checkpoint.load(last)["step"] if last.exists() else 0  # killed during the first last.pt: none yet
    assert survivor in (0, 5, 10, 15)

    resumed = train_cli([*RUN, f"hydra.run.dir={run_dir}", "trainer.resume=true"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    if survivor:
        assert f"resumed from {last} at step {survivor}" in resumed.stdout
    assert not stray[0].exists(), "the next start removed the stray temp file"
    assert comparable(read_metrics(run_dir / METRICS_FILE)) == expected, "same metrics as the uninterrupted run"
