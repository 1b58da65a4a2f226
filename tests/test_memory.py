"""The estimated training memory against the device's free memory, before the model is built."""

from __future__ import annotations

import pytest
import torch

from gptlab import memory
from gptlab.config import resolve
from gptlab.errors import ConfigError
from gptlab.model import counting
from gptlab.train import train
from tests.helpers import MACBETH, TINY, compose_config


def test_the_estimate_is_the_dry_runs():
    typed = resolve(compose_config(TINY))
    with torch.device("meta"):
        from gptlab import registry

        model = registry.build("model", typed["model"], vocab_size=65)
    assert memory.estimated_bytes(
        typed["model"], typed["trainer"], 65, torch.device("cpu")
    ) == counting.training_memory_bytes(model, 8, 4)


def test_a_run_far_larger_than_the_free_memory_is_refused_before_building(tmp_path):
    cfg = compose_config([*TINY, *MACBETH, "model.mlp_ratio=1e8", "trainer.max_steps=1"])  # ~100 TB of MLP weights
    with pytest.raises(ConfigError) as caught:
        train(cfg, tmp_path / "run")
    message = str(caught.value)
    assert "estimated training memory" in message and "free on cpu" in message and "TiB" in message
    assert "trainer.batch_size" in message and "trainer.memory_check=false" in message


def test_near_the_free_memory_warns_and_trains(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(memory, "WARN_FRACTION", 0.0)  # every run is "near" now
    (tmp_path / "run").mkdir()
    train(compose_config([*TINY, *MACBETH, "trainer.max_steps=1", "trainer.samples=0"]), tmp_path / "run")
    assert "warning: The estimated training memory" in capsys.readouterr().out
    assert (tmp_path / "run" / "checkpoints" / "last.pt").exists()


def test_the_dry_run_compares_with_the_device_memory(tmp_path, capsys):
    train(compose_config(["model=gpt2_small", "trainer.dry_run=true"]), tmp_path / "run")
    out = capsys.readouterr().out
    assert "memory: ~" in out and "free on cpu" in out
