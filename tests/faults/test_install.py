"""A non-editable install runs from any folder: the wheel carries the configs (gptlab/conf, with the
experiments copied in through the conf/experiment link) and the bundled text.

The wheel is built from a copy of the source tree, installed with ``pip install --no-deps --target``
(its dependencies come from the running interpreter's environment) and its console scripts run
from an empty temp folder with only the installed copy on PYTHONPATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import REPO

TINY_RUN = [
    "model.n_layer=1",
    "model.n_head=2",
    "model.d_model=32",
    "model.block_size=32",
    "trainer.batch_size=4",
    "trainer.max_steps=3",
    "trainer.eval_every=3",
    "trainer.eval_batches=1",
    "trainer.samples=0",
    "trainer.progress=false",
    "data=shakespeare",
    "data.plays=[macbeth]",
]
NOT_SOURCE = (".git", ".venv", "outputs", "multirun", "__pycache__", "build", "*.egg-info", ".*_cache", "wandb")


def _run(command: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.mark.slow
def test_the_wheel_installs_and_its_commands_run_from_any_folder(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), "."]
    _run(build, source, os.environ.copy())
    (wheel,) = wheels.glob("gptlab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for packaged in ("gptlab/conf/config.yaml", "gptlab/conf/model/gpt.yaml", "gptlab/data/files/tinyshakespeare.txt"):
        assert packaged in names
    assert "gptlab/conf/experiment/lr_grid.yaml" in names, "experiments ship through the conf/experiment link"

    target = tmp_path / "installed"
    _run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        tmp_path,
        os.environ.copy(),
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(target)}
    where = _run([sys.executable, "-c", "import gptlab; print(gptlab.__file__)"], elsewhere, env).stdout
    assert where.strip().startswith(str(target)), f"the installed copy is imported, not the source tree: {where}"

    bin_dir = target / "bin"
    train = _run([str(bin_dir / "gptlab-train"), *TINY_RUN, "hydra.run.dir=run"], elsewhere, env)
    assert "step      3/3" in train.stdout and (elsewhere / "run" / "checkpoints" / "best.pt").exists()
    sample = _run(
        [str(bin_dir / "gptlab-sample"), "run", "--max-new-tokens", "20", "--prompt", "MACBETH:"], elsewhere, env
    )
    assert sample.stdout.strip()
    compare = _run([str(bin_dir / "gptlab-compare"), "run", "--out", "report"], elsewhere, env)
    assert "val bpb" in compare.stdout and (elsewhere / "report" / "report.html").exists()
