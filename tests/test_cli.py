"""The ``gptlab-train`` console entry point (gptlab/cli.py): ``--help`` answers from the config folder without
importing torch or Hydra; ``--cfg job|hydra``, ``--info`` and a bad key compose against the torch-free schemas
without importing torch; a Ctrl-C while modules still import is one line and exit code 130."""

from __future__ import annotations

import subprocess
import sys

import pytest

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


# The console entry point in a fresh interpreter: each command line in turn, then whether torch was imported.
COMMANDS = """
import sys
from hydra.core.global_hydra import GlobalHydra
from gptlab.cli import train
for argv in {argvs!r}:
    sys.argv = ["gptlab-train", *argv]
    try:
        train()
    except SystemExit as stop:
        print(f"exit {{stop.code}}", file=sys.stderr)
    GlobalHydra.instance().clear()
print("torch imported:", "torch" in sys.modules)
"""


def run_entry_point(argvs: list[list[str]], cwd) -> subprocess.CompletedProcess:
    code = COMMANDS.format(argvs=argvs)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_cfg_job_hydra_and_info_compose_against_the_schemas_without_torch(tmp_path):
    result = run_entry_point(
        [
            ["--cfg", "job", "model.n_layer=3", "optimizer=adamw", "finetune.lora.rank=4"],
            ["--cfg", "hydra"],
            ["--info"],
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "n_layer: 3" in result.stdout and "name: adamw" in result.stdout and "rank: 4" in result.stdout
    assert "sweep:" in result.stdout and "Config search path" in result.stdout  # --cfg hydra, --info
    assert "torch imported: False" in result.stdout
    assert not list(tmp_path.iterdir())  # printing a config creates no run dir


def test_bad_key_fails_in_one_paragraph_without_torch(tmp_path):
    result = run_entry_point(
        [["--cfg", "job", "model.n_layr=3"], ["model.n_layer=abc", "trainer.max_steps=1"]], tmp_path
    )
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and "Did you mean model.n_layer" in errors[0] and "model.n_layer" in errors[1]
    assert result.stderr.count("exit 2") == 2 and "Traceback" not in result.stderr
    assert "torch imported: False" in result.stdout


# Only the torch-free schema modules first; then every component. Each built-in group option must have
# had its schema already, or `gptlab-train --cfg job <group>=<option>` could not compose it.
SCHEMAS_COVER_COMPONENTS = """
import sys
import gptlab.schemas
from gptlab import registry
before = {kind: registry.schemas(kind) for kind in registry.GROUP_KINDS}
assert "torch" not in sys.modules, "gptlab/schemas.py imports torch"
registry.load_builtins()
missing = [
    f"{kind}/{name}"
    for kind in registry.GROUP_KINDS
    for name in registry.names(kind)
    if registry.lookup(kind, name).config is not None
    and before[kind].get(name) is not registry.lookup(kind, name).config
]
assert not missing, f"config schemas not registered by gptlab/schemas.py: {missing}"
print(sum(len(s) for s in before.values()), "schemas")
"""


def test_torch_free_schemas_cover_every_built_in_component():
    result = subprocess.run(
        [sys.executable, "-c", SCHEMAS_COVER_COMPONENTS], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[0]) >= 20


# Ctrl-C at a chosen import: the finder raises SIGINT for real (signal.raise_signal) when the module is
# first looked up, so the interrupt lands inside that import, every time, with no timing involved.
CTRL_C_AT_IMPORT = """
import importlib.abc, signal, sys

class CtrlCAt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == {module!r}:
            signal.raise_signal(signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlCAt())
sys.argv = ["gptlab-train", "trainer.max_steps=1", "hydra.run.dir=outputs/run"]
from gptlab.cli import train
train()
"""


@pytest.mark.parametrize(
    "module, message",
    [
        ("hydra", "interrupted during start-up; nothing was trained"),  # still checking the command line
        ("torch", "interrupted: stopped at once"),  # Hydra has made the run dir; the run's modules import
    ],
)
def test_ctrl_c_while_modules_import_is_one_line_and_exit_130(tmp_path, module, message):
    code = CTRL_C_AT_IMPORT.format(module=module)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 130, result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "outputs").exists()  # the empty run dir Hydra made is removed
