import pytest

from gptlab.config import resolve
from gptlab.errors import ConfigError
from gptlab.logger.jsonl import read_metrics
from gptlab.schedule import ScheduleConfig, linear
from gptlab.train import train
from gptlab.trainer import loop
from gptlab.trainer.budget import BudgetConfig, resolve_budget
from tests.helpers import MACBETH, TINY, compose_config


def test_budgets_resolve_to_steps():
    def steps(**budget):
        return resolve_budget(BudgetConfig(**budget), 100, [(0, 512)], 10_000, 80_000.0).steps

    assert steps() == 100  # no budget: trainer.max_steps
    assert steps(steps=7) == 7
    assert steps(tokens=5120) == 10 and steps(tokens=5121) == 11  # rounded up
    assert steps(flops=80_000.0 * 512 * 4) == 4
    assert steps(tokens_per_param=20) == 391  # 20 * 10,000 / 512
    time_budget = resolve_budget(BudgetConfig(minutes=2), 100, [(0, 512)], 10_000, 80_000.0)
    assert time_budget.steps is None and time_budget.seconds == 120


def test_two_budgets_or_a_negative_one_fail_early():
    with pytest.raises(ConfigError, match="set exactly one"):
        BudgetConfig(tokens=1e6, minutes=1)
    with pytest.raises(ConfigError, match="budget.flops=-1"):
        BudgetConfig(flops=-1)


def test_token_budget_sets_the_run_length_and_the_decay_ends_there(tmp_path):
    # 32 tokens x 8 sequences = 256 tokens a step: 6,000 tokens -> 24 steps
    overrides = [*TINY, *MACBETH, "trainer.budget.tokens=6000", "trainer.log_every=1", "trainer.samples=0"]
    train(compose_config(overrides), tmp_path)
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert records[-1]["step"] == 24 and records[-1]["tokens"] == 24 * 256
    assert records[0]["budget_steps"] == 24 and records[0]["budget_tokens"] == 24 * 256
    assert records[-1]["lr"] < 0.05 * max(r["lr"] for r in records)  # linear decay reached its end
    assert "val_loss" in records[-1]


class SteadyClock:
    """``time.perf_counter`` of a machine on which every reading is 10 ms after the previous one, so
    each training step measures 10 ms whatever the real speed (the test never depends on it)."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 0.01
        return self.now


def test_time_budget_measures_the_speed_then_ends_on_time(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(loop, "time", SteadyClock())
    overrides = [*TINY, *MACBETH, "trainer.budget.minutes=0.005", "trainer.eval_every=100000", "trainer.samples=0"]
    train(compose_config(overrides), tmp_path)
    records = read_metrics(tmp_path / "metrics.jsonl")
    budget_steps = next(r["budget_steps"] for r in records if "budget_steps" in r)
    # 10 steps measured, then 0.2 s left at 10 ms a step: 20 more (19 when the float sum rounds down)
    assert budget_steps in (29, 30) and f"time budget: 10.0 ms/step -> {budget_steps} steps" in capsys.readouterr().out
    assert records[-1]["step"] == budget_steps and "val_loss" in records[-1]  # final evaluation
    # after the first 10 steps the schedule spans the measured number of steps (linear decay, 5% warmup)
    schedule = linear(ScheduleConfig(warmup_fraction=0.05), budget_steps)
    peak = resolve(compose_config(overrides))["optimizer"].lr
    for record in (r for r in records if r["step"] > 10):
        assert record["lr"] == pytest.approx(peak * schedule(record["step"] - 1))
