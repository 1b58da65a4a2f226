"""One writer per run dir: a live run's lock refuses a second run; a dead run's lock is reclaimed."""

from __future__ import annotations

import signal
import socket

import pytest

from gptlab.logger.jsonl import read_metrics
from gptlab.run.lock import LOCK_FILE
from gptlab.trainer import checkpoint
from tests.faults.live import LiveRun, plugin_env, stall_args
from tests.helpers import MACBETH, TINY, train_cli, train_in_process

SHORT = [*TINY, *MACBETH, "trainer.max_steps=10", "trainer.eval_every=5", "trainer.samples=0"]


@pytest.mark.slow
def test_a_second_run_into_a_live_runs_dir_is_refused(tmp_path):
    env, run = plugin_env(tmp_path), tmp_path / "run"
    live = LiveRun([*SHORT, *stall_args(tmp_path, at_step=5), f"hydra.run.dir={run}"], tmp_path, env)
    live.wait_for_file(tmp_path / "stalled")
    second = train_in_process([*SHORT, "trainer.resume=true", f"hydra.run.dir={run}"], cwd=tmp_path)
    assert second.returncode == 2, second.stdout + second.stderr
    message = " ".join(second.stderr.split())
    assert f"is in use by another run (pid {live.process.pid} on host {socket.gethostname()}" in message
    assert "Traceback" not in second.stderr
    (tmp_path / "release").touch()
    assert live.finish() == 0, live.output()
    assert [r["step"] for r in read_metrics(run / "metrics.jsonl")] == [5, 10]
    assert not (run / LOCK_FILE).exists()


@pytest.mark.slow
def test_the_lock_of_a_killed_run_is_reclaimed(tmp_path):
    env, run = plugin_env(tmp_path), tmp_path / "run"
    live = LiveRun([*SHORT, *stall_args(tmp_path, at_step=5), f"hydra.run.dir={run}"], tmp_path, env)
    live.wait_for_file(tmp_path / "stalled")  # step 5 saved, lock held
    live.process.send_signal(signal.SIGKILL)
    live.finish()
    assert str(live.process.pid) in (run / LOCK_FILE).read_text()
    resumed = train_cli(["--resume", str(run), "logger=jsonl"], cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"reclaimed the lock of pid {live.process.pid}" in resumed.stdout
    assert checkpoint.load(checkpoint.checkpoint_path(run))["step"] == 10
