"""The CUDA fast path through gptlab.train: compiled and eager losses agree, gpt2_small trains in
bf16 and fp8 with falling loss, and two GPUs under torchrun (DDP) match one GPU."""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch

from gptlab.logger.jsonl import read_metrics
from gptlab.train import train
from tests.helpers import compose_config, run_cli

SMALL = [
    "model.n_layer=2",
    "model.n_head=4",
    "model.d_model=128",
    "model.block_size=128",
    "trainer.batch_size=16",
    "trainer.eval_batches=2",
    "trainer.progress=false",
    "trainer.samples=0",
    "trainer.device=cuda",
    "optimizer=adamw",
    "optimizer.lr=3e-3",
]


def data(corpus) -> list[str]:
    return ["data=text", f"data.path={corpus}", "tokenizer=char"]


def losses(run_dir) -> list[float]:
    return [r["train_loss"] for r in read_metrics(run_dir / "metrics.jsonl")]


def test_compiled_and_eager_losses_agree(corpus, tmp_path):
    common = [*SMALL, *data(corpus), "trainer.max_steps=20", "trainer.log_every=5", "trainer.eval_every=20"]
    for mode in ("none", "model", "blocks"):
        train(compose_config([*common, f"trainer.compile={mode}"]), tmp_path / mode)
    eager = losses(tmp_path / "none")
    for mode in ("model", "blocks"):
        for a, b in zip(eager, losses(tmp_path / mode)):
            assert math.isclose(a, b, rel_tol=2e-2), (mode, eager, losses(tmp_path / mode))


def test_speed_metrics_are_logged(corpus, tmp_path):
    train(compose_config([*SMALL, *data(corpus), "trainer.max_steps=10", "trainer.log_every=5"]), tmp_path)
    record = read_metrics(tmp_path / "metrics.jsonl")[-1]
    assert record["tokens_per_s"] > 0 and record["step_ms"] > 0 and record["peak_memory_gib"] > 0
    name = torch.cuda.get_device_name()
    if any(gpu in name for gpu in ("H100", "H200", "A100")):
        assert 0 < record["mfu"] < 1


@pytest.mark.parametrize("fp8", ["false", "true"])
def test_gpt2_small_trains_with_falling_loss(fp8, corpus, tmp_path):
    if fp8 == "true" and (importlib.util.find_spec("torchao") is None or torch.cuda.get_device_capability() < (8, 9)):
        pytest.skip("float8 training needs torchao and compute capability >= 8.9")
    overrides = [
        "model=gpt2_small",
        "model.block_size=256",
        *data(corpus),
        "trainer.device=cuda",
        "trainer.dtype=bfloat16",
        f"trainer.fp8={fp8}",
        "trainer.compile=none",
        "trainer.batch_size=8",
        "trainer.max_steps=30",
        "trainer.log_every=5",
        "trainer.eval_every=30",
        "trainer.eval_batches=2",
        "trainer.progress=false",
        "trainer.samples=0",
        "optimizer=adamw",
        "optimizer.lr=6e-4",
    ]
    train(compose_config(overrides), tmp_path)
    curve = losses(tmp_path)
    assert all(math.isfinite(x) for x in curve)
    assert curve[-1] < 0.7 * curve[0], curve


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs")
@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_gpus_match_one_gpu(strategy, corpus, tmp_path):
    common = [*SMALL, *data(corpus), "trainer.max_steps=10", "trainer.log_every=5", "trainer.eval_every=10"]
    exact = ["trainer.dtype=float32", "trainer.tf32=false", "trainer.compile=none"]
    single = tmp_path / "single"
    train(compose_config([*common, *exact, "trainer.batch_size=16"]), single)
    pair = tmp_path / "pair"
    launcher = ["--standalone", "--nproc_per_node=2", "-m", "gptlab.train"]
    args = [*common, *exact, "trainer.batch_size=8", f"trainer.strategy={strategy}", f"hydra.run.dir={pair}"]
    result = run_cli("torch.distributed.run", [*launcher, *args], cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for a, b in zip(losses(single), losses(pair)):
        assert math.isclose(a, b, rel_tol=1e-3), (losses(single), losses(pair))
