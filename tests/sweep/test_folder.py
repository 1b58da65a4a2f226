"""Every multirun gets a sweep dir of its own (gptlab/sweep/folder.py), even two started in the same second."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml
from hydra.core.global_hydra import GlobalHydra

from gptlab.cli import main
from gptlab.config import CONFIG_DIR
from gptlab.sweep.folder import RESOLVER, claim_new_dir, remove_unused


def test_a_taken_name_gets_the_next_free_suffix(tmp_path):
    base = tmp_path / "multirun" / "2026-11-30" / "12-00-00"
    names = [claim_new_dir(str(base)) for _ in range(3)]
    assert names == [str(base), f"{base}-2", f"{base}-3"]
    assert all(tmp_path.joinpath(name).is_dir() for name in names)


def test_the_default_sweep_dir_is_claimed_by_the_resolver():
    raw = yaml.safe_load((CONFIG_DIR / "config.yaml").read_text(encoding="utf-8"))["hydra"]["sweep"]["dir"]
    assert raw.startswith("${" + RESOLVER + ":") and "${now:%H-%M-%S}" in raw


def run_sweep(argv: list[str], monkeypatch) -> int:
    """``gptlab-train -m ARGV`` in this process; its exit code."""
    monkeypatch.setattr(sys, "argv", ["gptlab-train", "-m", *argv])
    try:
        main()
    except SystemExit as stop:
        return stop.code
    finally:
        GlobalHydra.instance().clear()
    return 0


# A job that fails its config check at once (no data, no model) still records its outcome in its job dir.
FAILING_JOB = ["trainer.max_steps=1", "trainer.samples=0"]


def job_error(job_dir) -> str:
    status = json.loads((job_dir / "status.json").read_text())
    assert status["status"] == "failed", status
    return status["error"]


def test_a_sweep_whose_dir_name_is_taken_runs_in_the_next_one(tmp_path, monkeypatch):
    """``sweep`` stands for the dir of another sweep started in the same second (the default name is
    ``${gptlab_new_dir:'outputs/multirun/<date>/<time>'}``): this sweep's job runs in ``sweep-2``."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sweep" / "0").mkdir(parents=True)  # the other sweep's job 0
    sweep_dir = f"hydra.sweep.dir=${{{RESOLVER}:{tmp_path / 'sweep'}}}"
    assert run_sweep([*FAILING_JOB, "schedule.warmup_steps=5", sweep_dir], monkeypatch) == 1
    assert "warmup_steps=5" in job_error(tmp_path / "sweep-2" / "0")
    assert not list((tmp_path / "sweep" / "0").iterdir())  # the other sweep's dir is left alone


def test_a_claimed_folder_left_empty_is_removed_at_exit(tmp_path):
    """An experiment that names its own sweep dir still resolves the default one while its config merges."""
    used, unused = (claim_new_dir(str(tmp_path / "multirun" / day / "12-00-00")) for day in ("used", "unused"))
    (Path(used) / "0").mkdir()
    remove_unused()
    assert Path(used).is_dir() and not (tmp_path / "multirun" / "unused").exists()
