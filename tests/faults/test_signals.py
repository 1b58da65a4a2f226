"""Signals: SIGTERM/SIGUSR1 and Ctrl-C save a checkpoint and exit 128 + the signal; a second Ctrl-C
exits at once; Ctrl-C during start-up or in a sweep ends everything without a traceback."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess

import pytest
import torch

from gptlab.logger.jsonl import read_metrics
from gptlab.registry import register
from gptlab.trainer import checkpoint
from gptlab.trainer.stop import Stopped
from tests.faults.live import TIMEOUT, LiveRun, plugin_env, stall_args
from tests.helpers import MACBETH, TINY, compose_config

LONG = [*TINY, *MACBETH, "trainer.max_steps=1000", "trainer.eval_every=1000", "trainer.samples=0"]


def last_step(run_dir) -> int:
    return checkpoint.load(checkpoint.checkpoint_path(run_dir))["step"]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR1])
def test_a_stop_signal_saves_a_checkpoint_and_exits_with_its_code(tmp_path, signum):
    env, run = plugin_env(tmp_path), tmp_path / "run"
    live = LiveRun([*LONG, *stall_args(tmp_path, at_step=10), f"hydra.run.dir={run}"], tmp_path, env)
    live.wait_for_file(tmp_path / "stalled")  # inside step 10's logging
    live.process.send_signal(signum)
    live.wait_for_output(f"{signum.name}: stopping after this step")
    (tmp_path / "release").touch()
    assert live.finish() == 128 + signum, live.output()
    assert "Traceback" not in live.stderr
    assert f"stopped at step 10 ({signum.name}); checkpoint saved" in live.stdout
    assert f"stopped by {signum.name}; exit code {128 + signum}" in live.stderr
    assert last_step(run) == 10 and not (run / "run.lock").exists()
    # the printed command continues the run as printed (here with a shorter budget)
    command = next(line for line in live.stdout.splitlines() if line.startswith("continue with: "))
    argv = shlex.split(command.removeprefix("continue with: "))
    resumed = subprocess.run(
        [*argv, "trainer.max_steps=15"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resumed from" in resumed.stdout and last_step(run) == 15
    assert [r["step"] for r in read_metrics(run / "metrics.jsonl")] == [5, 10, 15]


@pytest.mark.slow
def test_a_second_ctrl_c_exits_at_once_keeping_the_last_checkpoint(tmp_path):
    run = tmp_path / "run"
    args = [*LONG, "trainer.eval_every=5", *stall_args(tmp_path, at_step=10), f"hydra.run.dir={run}"]
    live = LiveRun(args, tmp_path, plugin_env(tmp_path))
    live.wait_for_file(tmp_path / "stalled")  # step 10 evaluated and saved, now stalled
    live.process.send_signal(signal.SIGINT)
    live.wait_for_output("Ctrl-C again to quit at once")
    live.process.send_signal(signal.SIGINT)  # the step never ends: only a stop at once ends the run
    assert live.finish() == 130, live.output()
    assert "Traceback" not in live.stderr and "interrupted: stopped at once" in live.stderr
    assert last_step(run) == 10
    assert not list((run / "checkpoints").glob("*.tmp")) and not (run / "run.lock").exists()


@pytest.mark.slow
def test_ctrl_c_during_start_up_exits_without_a_traceback(tmp_path):
    run = tmp_path / "run"
    live = LiveRun([*LONG, *stall_args(tmp_path, at_step=0), f"hydra.run.dir={run}"], tmp_path, plugin_env(tmp_path))
    live.wait_for_file(tmp_path / "stalled")  # building the loggers, before the first step
    live.process.send_signal(signal.SIGINT)
    assert live.finish() == 130, live.output()
    assert "Traceback" not in live.stderr and "interrupted" in live.stderr
    assert not (run / "checkpoints").exists() and not (run / "run.lock").exists()


@pytest.mark.slow
def test_ctrl_c_stops_the_whole_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", *LONG, "seed=1,2", *stall_args(tmp_path, at_step=5), f"hydra.sweep.dir={sweep}"]
    live = LiveRun(args, tmp_path, plugin_env(tmp_path))
    live.wait_for_file(tmp_path / "stalled")  # job 0 at step 5
    live.process.send_signal(signal.SIGINT)
    live.wait_for_output("Ctrl-C: stopping after this step")
    (tmp_path / "release").touch()
    assert live.finish() == 130, live.output()
    assert "Traceback" not in live.stderr
    assert last_step(sweep / "0") == 5
    assert '"status": "stopped"' in (sweep / "0" / "status.json").read_text()
    assert not (sweep / "1" / "checkpoints").exists(), "the next job never started"


@register("logger", "self_signal")
def self_signal_logger(cfg, run):
    """Sends this process SIGUSR2 at step 5, as a scheduler would (test only)."""

    class Sink:
        def log(self, step, metrics):
            if step == 5:
                os.kill(os.getpid(), signal.SIGUSR2)

        def finish(self, exit_code=0):
            pass

    return [Sink()]


def test_a_schedulers_own_handler_runs_after_the_checkpoint(tmp_path):
    """submitit handles its pre-emption signal (SIGUSR2) by requeueing the job: the run saves first,
    then hands the signal to that handler."""
    from omegaconf import OmegaConf

    from gptlab.train import train

    received = []
    previous = signal.signal(signal.SIGUSR2, lambda signum, frame: received.append(last_step(tmp_path)))
    try:
        cfg = compose_config([*LONG, "logger=none"])
        cfg.logger = OmegaConf.create({"name": "self_signal"})
        with pytest.raises(Stopped) as stopped:
            train(cfg, tmp_path)
        assert stopped.value.exit_code == 128 + signal.SIGUSR2 and received == []
        stopped.value.then()
        assert received == [5], "the scheduler's handler ran once, after the checkpoint of step 5"
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert torch.load(checkpoint.checkpoint_path(tmp_path), weights_only=True)["step"] == 5
