"""What may change on resume, and the overrides that ``--resume RUN_DIR`` replays."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gptlab.errors import ConfigError, GptlabError
from gptlab.run.resume import check_resumable, config_differences, resume_overrides, split_resume_flag

SAVED = {
    "seed": 1,
    "model": {"name": "gpt", "d_model": 32},
    "optimizer": {"name": "muon", "lr": 0.02, "momentum": 0.95},
    "trainer": {"max_steps": 10, "eval_every": 5, "samples": 2, "sample_tokens": 300},
    "logger": {"name": "jsonl"},
}


def changed(**groups) -> dict:
    return {key: {**SAVED[key], **groups.get(key, {})} if isinstance(SAVED[key], dict) else SAVED[key] for key in SAVED}


def test_keys_that_may_change_on_resume_are_no_difference():
    new = changed(trainer={"max_steps": 30, "eval_every": 10, "samples": 0, "sample_tokens": 5})
    new["logger"] = {"name": "wandb", "project": "x"}
    assert config_differences(SAVED, new) == []


def test_differences_name_each_key_and_a_swapped_component_once():
    new = changed(model={"d_model": 48})
    new["optimizer"] = {"name": "adamw", "lr": 0.01, "betas": [0.9, 0.99]}
    assert [(k, old, now) for k, old, now in config_differences(SAVED, new)] == [
        ("model.d_model", 32, 48),
        ("optimizer.name", "muon", "adamw"),
    ]
    with pytest.raises(ConfigError, match=r"model.d_model: 32 in the checkpoint, 48 now; optimizer.name: 'muon'"):
        check_resumable({"step": 10, "config": SAVED}, new, "run", "run/checkpoints/last.pt")


def test_a_shorter_run_than_the_step_reached_and_a_foreign_checkpoint_are_refused():
    with pytest.raises(ConfigError, match="trainer.max_steps=5 is below step 10"):
        check_resumable({"step": 10, "config": SAVED}, changed(trainer={"max_steps": 5}), "run", "last.pt")
    with pytest.raises(GptlabError, match="holds no gptlab training state"):
        check_resumable({"model": {}}, SAVED, "run", "last.pt")


def test_resume_replays_the_runs_overrides_under_the_new_ones(tmp_path):
    (tmp_path / ".hydra").mkdir()
    own = ["model.n_layer=1", "trainer.stop_at_step=5", "logger=stall", "logger.at_step=3", "trainer.max_steps=10"]
    (tmp_path / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(own))
    assert resume_overrides(tmp_path, ["trainer.max_steps=20", "logger=jsonl"]) == [
        "model.n_layer=1",
        "trainer.max_steps=20",
        "logger=jsonl",
        f"hydra.run.dir={tmp_path}",
        "trainer.resume=true",
    ]
    with pytest.raises(GptlabError, match="is not the run dir of a gptlab-train run"):
        resume_overrides(tmp_path / "nope", [])


def test_the_resume_flag_takes_its_run_dir():
    assert split_resume_flag(["-m", "--resume", "out/run", "a=1"]) == (
        Path("out/run"),
        ["-m", "a=1"],
    )
    assert split_resume_flag(["--resume=out/run"])[0].name == "run"
    with pytest.raises(GptlabError, match="needs a run dir"):
        split_resume_flag(["--resume"])
