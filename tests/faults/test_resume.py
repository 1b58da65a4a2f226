"""Resume is safe: a different config is refused in one paragraph and rewrites nothing; a longer
trainer.max_steps trains the extra steps on a schedule spanning the new length."""

from __future__ import annotations

import pytest

from gptlab.config import resolve
from gptlab.logger.jsonl import read_metrics
from gptlab.schedule import linear
from tests.helpers import MACBETH, TINY, compose_config, train_in_process

BASE = [*TINY, *MACBETH, "trainer.max_steps=10", "trainer.eval_every=5", "trainer.samples=0"]


def snapshot(run_dir) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


def test_resume_with_another_config_is_refused_and_rewrites_nothing(tmp_path):
    run = tmp_path / "run"
    first = train_in_process([*BASE, f"hydra.run.dir={run}"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = snapshot(run)
    assert {".hydra/config.yaml", ".hydra/overrides.yaml", "checkpoints/last.pt"} <= before.keys()
    refused = train_in_process(
        ["--resume", str(run), "model.d_model=48", "optimizer=adamw", "trainer.max_steps=20"], tmp_path
    )
    assert refused.returncode == 2, refused.stdout + refused.stderr
    message = " ".join(refused.stderr.split())
    assert "Traceback" not in refused.stderr and "\n\n" not in refused.stderr.strip(), "one paragraph"
    assert "model.d_model: 32 in the checkpoint, 48 now" in message
    assert "optimizer.name: 'muon' in the checkpoint, 'adamw' now" in message
    assert "optimizer.lr" not in message, "a swapped component is one difference"
    assert "max_steps" not in message.split("Resume with")[0], "trainer.max_steps may change"
    # the old way, without the run's own overrides, is refused too and points to --resume
    bare = train_in_process(["trainer.resume=true", f"hydra.run.dir={run}"], tmp_path)
    assert bare.returncode == 2 and "model.n_layer: 1 in the checkpoint, 2 now" in " ".join(bare.stderr.split())
    assert f"--resume {run}" in " ".join(bare.stderr.split())
    assert snapshot(run) == before, "a refused start rewrites nothing in the run dir"


def test_extending_max_steps_on_resume_trains_the_extra_steps(tmp_path):
    run = tmp_path / "run"
    common = [*BASE, "trainer.max_steps=20", "trainer.log_every=1", f"hydra.run.dir={run}"]
    assert train_in_process(common, cwd=tmp_path).returncode == 0
    extended = train_in_process(["--resume", str(run), "trainer.max_steps=30"], cwd=tmp_path)
    assert extended.returncode == 0, extended.stdout + extended.stderr
    assert "at step 20; trains to step 30" in extended.stdout
    records = read_metrics(run / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(1, 31)) and "val_loss" in records[-1]
    # the schedule is rebuilt for 30 steps: from step 21 the lr follows linear decay over 30 steps
    run_cfg = resolve(compose_config([*BASE, "trainer.max_steps=20"]))
    short, long = linear(run_cfg["schedule"], 20), linear(run_cfg["schedule"], 30)
    peak = records[0]["lr"] / short(0)
    for record in records:
        schedule = short if record["step"] <= 20 else long
        assert record["lr"] == pytest.approx(peak * schedule(record["step"] - 1)), record["step"]
