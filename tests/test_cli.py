"""``gptlab-train --help`` answers from the config folder without importing torch or Hydra."""

from __future__ import annotations

import subprocess
import sys

from gptlab.cli import config_groups
from tests.helpers import REPO

CHECK = (
    "import sys; sys.argv = ['gptlab-train', '--help']; from gptlab.cli import train; train(); "
    "heavy = [m for m in ('torch', 'hydra', 'numpy') if m in sys.modules]; assert not heavy, heavy"
)


def test_help_imports_no_torch_and_lists_every_group():
    result = subprocess.run([sys.executable, "-c", CHECK], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage: gptlab-train" in result.stdout and "--cfg job" in result.stdout
    for line in ("model: bigram, gpt*,", "optimizer: adamw, lion, muon*", "+experiment: ablate_heads"):
        assert line in result.stdout


def test_groups_are_read_from_the_config_folder():
    groups = config_groups()
    assert groups["model"][1] == "gpt" and "llama_like" in groups["model"][0]
    assert "lr_grid" in groups["experiment"][0] and "hydra/launcher" in groups
