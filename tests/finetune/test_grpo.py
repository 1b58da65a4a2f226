"""A very short GRPO stage (gptlab/finetune/grpo.py) from a briefly pretrained arithmetic model."""

from __future__ import annotations

import json
import math

import pytest
import torch

from gptlab.config import compose_config
from gptlab.errors import ConfigError
from gptlab.finetune import grpo
from gptlab.finetune.init_from import BaseRun
from gptlab.train import train
from tests.finetune.helpers import QUICK, one_thread
from tests.helpers import REPO, run_in_process

ARITHMETIC = ["data=arithmetic", "data.problems=2000", "tokenizer=char"]
TINY = ["model.n_layer=1", "model.n_head=2", "model.d_model=32", "model.block_size=16"]


@pytest.fixture(scope="module")
def arithmetic_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("arithmetic")
    steps = ["trainer.max_steps=30", "trainer.eval_every=30", "trainer.batch_size=16", "trainer.eval_batches=1"]
    cache = f"cache_dir={tmp_path_factory.getbasetemp() / 'cache'}"
    one_thread(train, compose_config([*ARITHMETIC, *TINY, *QUICK, *steps, "optimizer=adamw", cache]), run_dir)
    return run_dir


def test_a_short_grpo_run_logs_rewards_and_moves_the_policy(arithmetic_run, tmp_path):
    knobs = [
        "trainer.max_steps=4",
        "trainer.log_every=1",
        "finetune.grpo.group_size=4",
        "finetune.grpo.prompts_per_step=3",
        "finetune.grpo.reward=partial",  # partial credit: an untrained group still differs in reward
        "finetune.grpo.kl_coef=0.1",
        "finetune.grpo.eval_problems=8",
        "finetune.grpo.eval_every=2",
        "optimizer.lr=1e-2",
    ]
    cfg = compose_config(["+experiment=grpo", f"trainer.init_from={arithmetic_run}", *QUICK, *knobs])
    final = one_thread(grpo.run, cfg, tmp_path)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "reward_mean" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    for key in ("reward_mean", "reward_std", "accuracy", "loss"):
        assert all(math.isfinite(r[key]) for r in steps), key
    updated = [r for r in steps if r["updated"]]  # a step whose groups all tie in reward changes nothing
    assert updated and all(math.isfinite(r["kl"]) and 0 <= r["clip_fraction"] <= 1 for r in updated)
    assert all(r["reward_std"] > 0 for r in updated), "an update needs a group that told its completions apart"
    assert [r["step"] for r in records if "pass_at_1" in r] == [0, 2, 4] and 0 <= final["pass_at_1"] <= 1
    before, after = BaseRun.open(str(arithmetic_run)).weights, BaseRun.open(str(tmp_path)).weights
    changed = [
        k for k in before if k in after and after[k].shape == before[k].shape and not torch.equal(after[k], before[k])
    ]
    assert changed, "the policy's weights moved"


def test_grpo_needs_a_base_run_and_checkable_problems(arithmetic_run, qa_path, tmp_path):
    with pytest.raises(ConfigError, match="GRPO starts from a fine-tuned run: set trainer.init_from"):
        grpo.run(compose_config(["+experiment=grpo", *QUICK]), tmp_path)
    cfg = ["+experiment=grpo", f"trainer.init_from={arithmetic_run}", "data=qa", f"data.path={qa_path}", *QUICK]
    with pytest.raises(ConfigError, match="GRPO needs problems with checkable answers; data=qa"):
        grpo.run(compose_config(cfg), tmp_path)
    with pytest.raises(ConfigError, match="Unknown reward 'exactly' at finetune.grpo.reward"):
        grpo.run(compose_config([*cfg[:2], "finetune.grpo.reward=exactly", *QUICK]), tmp_path)


def test_the_grpo_command_reports_bad_input_and_exits_2(tmp_path):
    result = run_in_process("gptlab.finetune.grpo", ["+experiment=grpo", f"hydra.run.dir={tmp_path / 'run'}"], REPO)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "GRPO starts from a fine-tuned run: set trainer.init_from" in result.stderr
