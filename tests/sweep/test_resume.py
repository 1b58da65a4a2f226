"""Re-running a sweep command: finished jobs are skipped, interrupted ones resume, a failing job stops no other."""

from __future__ import annotations

import json

import pytest

from gptlab.logger.jsonl import read_metrics
from gptlab.sweep.status import STATUS_FILE
from tests.helpers import MACBETH, TINY, train_cli

pytestmark = pytest.mark.slow


def statuses(sweep) -> dict[str, dict]:
    return {job: json.loads((sweep / job / STATUS_FILE).read_text()) for job in ("0", "1", "2")}


@pytest.mark.extended  # make test: tests/faults/test_sweep_faults.py (bad configs fail alone, a re-run completes)
def test_rerun_skips_finished_resumes_interrupted_and_isolates_failures(tmp_path):
    sweep = tmp_path / "sweep"
    # lr=-1 fails its config check; the fixed hydra.sweep.dir makes the command re-runnable
    command = [
        "-m",
        *TINY,
        *MACBETH,
        "trainer.max_steps=10",
        "trainer.eval_every=5",
        "trainer.samples=0",
        "optimizer.lr=3e-3,-1,1e-2",
        f"hydra.sweep.dir={sweep}",
    ]
    first = train_cli([*command, "trainer.stop_at_step=5"], cwd=tmp_path)  # "interrupted" at step 5
    assert first.returncode == 1, first.stdout + first.stderr  # non-zero only after every job ran
    state = statuses(sweep)
    assert [state[j]["status"] for j in "012"] == ["stopped", "failed", "stopped"]
    assert "optimizer.lr" in state["1"]["error"]
    assert "1 job(s) failed" in first.stderr

    second = train_cli(command, cwd=tmp_path)
    assert second.returncode == 1
    state = statuses(sweep)
    assert [(state[j]["status"], state[j].get("action")) for j in "02"] == [("done", "resumed")] * 2
    assert second.stdout.count("resumed from") == 2
    for job in "02":
        records = read_metrics(sweep / job / "metrics.jsonl")
        assert [r["step"] for r in records] == [5, 10]
        assert state[job]["metrics"]["val_bpb"] == pytest.approx(records[-1]["val_bpb"])
    before = {job: (sweep / job / "metrics.jsonl").read_bytes() for job in "02"}

    third = train_cli(command, cwd=tmp_path)
    assert third.returncode == 1
    state = statuses(sweep)
    assert [state[j].get("action") for j in "02"] == ["skipped"] * 2
    assert third.stdout.count("skipped:") == 2 and "resumed from" not in third.stdout
    assert {job: (sweep / job / "metrics.jsonl").read_bytes() for job in "02"} == before
    # the summary lists every job with its status and final metric
    for job in "02":
        assert f"{state[job]['metrics']['val_bpb']:.4f}" in third.stdout
    assert "failed" in third.stdout and "skipped" in third.stdout
