"""Launchers: parallel joblib jobs that log to one wandb group, and the sbatch script for SLURM."""

from __future__ import annotations

import math
import os

import pytest
import submitit
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from omegaconf import OmegaConf

from gptlab.config import CONFIG_DIR, CONFIG_NAME
from gptlab.logger.jsonl import read_metrics
from gptlab.sweep.identity import git_commit
from tests.helpers import MACBETH, TINY, train_cli
from tests.logger.test_wandb import isolated_wandb_env, logged_config, logged_history, read_wandb_records, run_file


@pytest.mark.slow
def test_parallel_jobs_log_to_one_wandb_group(tmp_path, monkeypatch):
    sweep = tmp_path / "multirun" / "ablate_lr"
    env = {**isolated_wandb_env(tmp_path, monkeypatch), "WANDB_MODE": "offline"}
    args = [
        "-m",
        *TINY,
        *MACBETH,
        "trainer.max_steps=10",
        "trainer.eval_every=5",
        "trainer.samples=0",
        "trainer.threads=1",
        "logger=wandb",
        "optimizer.lr=3e-3,1e-2",
        "seed=4",
        "hydra/launcher=gpus",
        "sweep.jobs_per_gpu=2",  # no GPU here: two CPU jobs at once
        f"hydra.sweep.dir={sweep}",
    ]
    result = train_cli(args, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Joblib.Parallel(n_jobs=2" in result.stdout + result.stderr
    for job, lr in (("0", "0.003"), ("1", "0.01")):
        records = read_wandb_records(run_file(sweep / job))
        run = next(r.run for r in records if r.HasField("run"))
        assert run.run_group == "ablate_lr"  # the sweep's name, from hydra.sweep.dir
        assert run.display_name == f"optimizer.lr={lr}"
        assert list(run.tags) == [f"optimizer.lr={lr}"]  # swept knob values; the constant seed is no tag
        config = logged_config(records)
        assert config["optimizer.lr"] == float(lr) and config["seed"] == 4
        assert config["hydra_choices.model"] == "gpt" and config["hydra_choices.hydra/launcher"] == "gpus"
        assert config["git_commit"] == git_commit()
        history = logged_history(records)
        metrics = {r["step"]: r for r in read_metrics(sweep / job / "metrics.jsonl")}
        assert sorted(history) == sorted(metrics) == [5, 10]
        assert history[10]["val_bpb"] == pytest.approx(metrics[10]["val_bpb"]) and math.isfinite(history[10]["val_bpb"])


def test_slurm_settings_reach_the_sbatch_script(tmp_path, monkeypatch):
    # submitit's Slurm executor refuses to start where no `srun` is on PATH; the script text needs none
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "srun").write_text("#!/bin/sh\nexit 0\n")
    (fake_bin / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}:{os.environ['PATH']}")
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(
            config_name=CONFIG_NAME,
            overrides=[
                "hydra/launcher=slurm",
                "hydra.launcher.partition=gpu-a100",
                "hydra.launcher.timeout_min=90",
                f"hydra.sweep.dir={tmp_path}",
            ],
            return_hydra_config=True,
        )
    params = OmegaConf.to_container(cfg.hydra.launcher, resolve=False)
    assert params["_target_"].endswith("SlurmLauncher") and params["gpus_per_node"] == 1
    # as hydra-submitit-launcher builds its executor (SlurmLauncher.launch)
    executor = submitit.AutoExecutor(
        cluster="slurm", folder=tmp_path / ".submitit", slurm_max_num_timeout=params["max_num_timeout"]
    )
    shared = set(OmegaConf.structured(BaseQueueConf).keys())
    skip = {"_target_", "submitit_folder", "max_num_timeout", "name"}
    executor.update_parameters(
        name="gptlab", **{k if k in shared else f"slurm_{k}": v for k, v in params.items() if k not in skip}
    )
    script = executor._executor._make_submission_file_text("python -m gptlab.train", "uid")
    for line in (
        "#SBATCH --partition=gpu-a100",
        "#SBATCH --time=90",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=32GB",
    ):
        assert line in script, script
