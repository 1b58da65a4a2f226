"""torchrun with 2 CPU processes (gloo): DDP matches one process at the same global batch, all ranks
share one run dir, only rank 0 logs, and every rank resumes from rank 0's checkpoint."""

from __future__ import annotations

import math

import pytest

from gptlab.logger.jsonl import read_metrics
from tests.helpers import MACBETH, TINY, run_cli, train_cli, train_in_process

COMMON = [
    *TINY,
    *MACBETH,
    "trainer.device=cpu",
    "trainer.max_steps=8",
    "trainer.log_every=2",
    "trainer.eval_every=4",
    "trainer.samples=0",
    "optimizer=adamw",
]
SINGLE_THREAD = {"OMP_NUM_THREADS": "1"}


def torchrun(args: list[str], cwd, nproc: int = 2):
    launcher = ["--standalone", f"--nproc_per_node={nproc}", "-m", "gptlab.train"]
    return run_cli("torch.distributed.run", [*launcher, *args], cwd, env=SINGLE_THREAD)


def _ok(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_two_process_ddp_matches_one_process_and_resumes_from_rank_zeros_checkpoint(tmp_path):
    """One test, so that the uninterrupted 2-process run (3 interpreters) serves both comparisons."""
    single = tmp_path / "single"
    _ok(train_cli([*COMMON, "trainer.batch_size=8", f"hydra.run.dir={single}"], cwd=tmp_path, env=SINGLE_THREAD))
    (tmp_path / "ddp").mkdir()
    _ok(torchrun([*COMMON, "trainer.batch_size=4"], cwd=tmp_path / "ddp"))  # trainer.strategy=auto: ddp

    run_dirs = [p.parent for p in (tmp_path / "ddp" / "outputs").glob("*/*/.hydra")]
    assert len(run_dirs) == 1, f"the ranks split into {run_dirs}"
    full = run_dirs[0]
    expected, got = read_metrics(single / "metrics.jsonl"), read_metrics(full / "metrics.jsonl")
    assert [r["step"] for r in got] == [r["step"] for r in expected]  # rank 0 alone wrote, once per step
    for a, b in zip(expected, got):
        assert math.isclose(a["train_loss"], b["train_loss"], rel_tol=1e-4), (a, b)
        assert a["tokens"] == b["tokens"]
        if "val_loss" in a:
            assert math.isclose(a["val_loss"], b["val_loss"], rel_tol=1e-4), (a, b)

    # every rank resumes from rank 0's checkpoint: stopped at step 4 and resumed, the run ends as the full one
    split = tmp_path / "split"
    common = [*COMMON, "trainer.batch_size=4", "trainer.strategy=ddp"]
    _ok(torchrun([*common, "trainer.stop_at_step=4", f"hydra.run.dir={split}"], cwd=tmp_path))
    _ok(torchrun([*common, "trainer.resume=true", f"hydra.run.dir={split}"], cwd=tmp_path))
    a, b = read_metrics(full / "metrics.jsonl"), read_metrics(split / "metrics.jsonl")
    assert [r["step"] for r in a] == [r["step"] for r in b]
    assert math.isclose(a[-1]["val_loss"], b[-1]["val_loss"], rel_tol=1e-4)


def test_a_data_parallel_strategy_needs_torchrun(tmp_path):
    result = train_in_process([*COMMON, "trainer.strategy=ddp"], cwd=tmp_path)
    assert result.returncode == 2 and "torchrun --nproc_per_node=2" in result.stderr
