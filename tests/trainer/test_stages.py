import pytest

from gptlab.errors import ConfigError
from gptlab.logger.jsonl import read_metrics
from gptlab.train import train
from gptlab.trainer.stages import StageConfig, check_stages, shape_at, steps_for_tokens, token_segments, tokens_in
from tests.helpers import MACBETH, TINY, compose_config

STAGES = [StageConfig(step=0, block_size=16), StageConfig(step=10, block_size=32, batch_size=6)]


def test_shape_follows_the_stage_of_each_step():
    assert shape_at(0, STAGES, 32, 8) == (16, 8)
    assert shape_at(9, STAGES, 32, 8) == (16, 8)
    assert shape_at(10, STAGES, 32, 8) == (32, 6)
    assert shape_at(5, [StageConfig(step=3, batch_size=2)], 32, 8) == (32, 2)
    assert shape_at(2, [StageConfig(step=3, batch_size=2)], 32, 8) == (32, 8)  # before the first stage


def test_token_budget_counts_each_stage():
    segments = token_segments(STAGES, 32, 8, 1)
    assert segments == [(0, 128), (10, 192)]
    assert steps_for_tokens(3200, segments) == 20  # 10 x 128 + 10 x 192
    assert steps_for_tokens(1000, segments) == 8
    assert steps_for_tokens(3201, segments) == 21
    assert tokens_in(20, segments) == 3200 and tokens_in(8, segments) == 1024


def test_bad_stages_fail_early():
    with pytest.raises(ConfigError, match=r"stages\[1\].block_size=64 must lie in 1..model.block_size=32"):
        check_stages([StageConfig(step=0), StageConfig(step=5, block_size=64)], 32)
    with pytest.raises(ConfigError, match="increasing"):
        check_stages([StageConfig(step=5), StageConfig(step=2)], 32)


def test_staged_run_changes_context_and_batch(tmp_path):
    stages = "[{step: 0, block_size: 16}, {step: 10, block_size: 32, batch_size: 6}]"
    overrides = [*TINY, *MACBETH, f"trainer.stages={stages}", "trainer.budget.tokens=3200", "trainer.log_every=1"]
    train(compose_config([*overrides, "trainer.samples=0"]), tmp_path)
    records = read_metrics(tmp_path / "metrics.jsonl")
    tokens = {r["step"]: r["tokens"] for r in records}
    assert tokens[10] == 10 * 16 * 8 and tokens[11] == tokens[10] + 32 * 6
    assert records[-1]["step"] == 20 and records[-1]["tokens"] == 3200
    assert records[0]["budget_steps"] == 20 and records[0]["budget_tokens"] == 3200
    assert "val_loss" in records[-1]
