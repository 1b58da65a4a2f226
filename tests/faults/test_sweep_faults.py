"""A 6-job sweep with two bad configs and one killed job: the good jobs finish, the bad ones are
recorded as failed, and running the same command again completes only the killed job.

The sweep runs on Hydra's basic launcher (jobs one after another in one process), so the kill
(a real SIGKILL in the middle of job 5's checkpoint write, see kill_during_save.py) lands on the
last job; every job before it has finished or failed by then.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from gptlab.logger.jsonl import METRICS_FILE
from gptlab.sweep.status import STATUS_FILE
from tests.helpers import MACBETH, REPO, TINY, train_in_process

pytestmark = pytest.mark.slow

SWEEP = [
    *(o for o in TINY if not o.startswith("model.n_head")),
    *MACBETH,
    "trainer.max_steps=10",
    "trainer.eval_every=5",
    "trainer.samples=0",
    "model.n_head=3,2,1",  # 3 heads do not divide model.d_model=32: jobs 0 and 1 are bad configs
    "seed=0,1",
]
BAD, GOOD, KILLED = (0, 1), (2, 3, 4), 5


def status(job_dir) -> dict:
    return json.loads((job_dir / STATUS_FILE).read_text())


def test_bad_configs_fail_alone_and_a_rerun_completes_only_the_killed_job(tmp_path):
    sweep = tmp_path / "sweep"
    command = ["-m", *SWEEP, f"hydra.sweep.dir={sweep}"]
    killed_checkpoints = str(sweep / str(KILLED) / "checkpoints")
    killed = subprocess.run(
        [
            sys.executable,
            str(REPO / "tests/faults/kill_during_save.py"),
            "2",  # the second write: last.pt at step 10 (best.pt is a link to the last.pt of its evaluation)
            "100",
            killed_checkpoints,
            "--",
            *command,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    for job in BAD:
        assert status(sweep / str(job))["status"] == "failed"
        assert "n_head" in status(sweep / str(job))["error"]
    for job in GOOD:
        assert status(sweep / str(job))["status"] == "done"
    assert status(sweep / str(KILLED))["status"] == "running", "killed mid-run: never marked finished"
    finished = {job: (sweep / str(job) / METRICS_FILE).read_bytes() for job in GOOD}

    again = train_in_process(command, tmp_path)  # in this process: the rerun is not what is killed
    assert again.returncode == 1, "the bad configs fail again, so the sweep exits non-zero"
    assert "Traceback" not in again.stderr
    for job in GOOD:
        assert status(sweep / str(job))["action"] == "skipped"
        assert (sweep / str(job) / METRICS_FILE).read_bytes() == finished[job], "a finished job is not rerun"
    killed_status = status(sweep / str(KILLED))
    assert killed_status["action"] == "resumed" and killed_status["status"] == "done"
    records = [json.loads(line) for line in (sweep / str(KILLED) / METRICS_FILE).read_text().splitlines()]
    assert [r["step"] for r in records if "val_loss" in r] == [5, 10]
    for job in BAD:
        assert status(sweep / str(job))["status"] == "failed"
