"""The README works as written: every command of its ``bash`` blocks is either run here (with small
step counts) or listed below with the reason it cannot run in a test; a new command must be added to
one of the two. The plugin examples run as console scripts do (the current folder is not on
``sys.path`` by itself), from a folder holding the module written from the README's code block."""

from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import sys
import tomllib

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.slow

README = REPO / "README.md"
NOT_RUN = {  # command start -> why a test does not run it
    "make ": "sets up a venv (pip installs); CI runs `make test` itself",
    "gptlab-train -m model.n_layer=1,2 seed=0,1,2,3 hydra/launcher=gpus": "needs CUDA GPUs",
    "gptlab-train -m seed=0,1,2 hydra/launcher=slurm": "needs a SLURM cluster",
    "gptlab-train data=jsonl 'data.path=corpus/": "the user's own corpus files",
    "gptlab-train data=hf data.path=json 'data.data_files=[corpus/": "the user's own corpus files",
    "gptlab-train data=hf data.path=roneneldan/TinyStories": "downloads a dataset",
    "gptlab-train data=qa data.path=qa.json": "the user's own file",
    "gptlab-train tokenizer=tiktoken tokenizer.encoding=cl100k_base": "downloads the encoding",
    "gptlab-train tokenizer=hf tokenizer.path=models/x": "the user's own tokenizer file",
    "gptlab-prepare data=jsonl 'data.path=corpus/": "the user's own corpus files",
    "gptlab-train trainer.init_from=hf:/models/tiny-llama": "the user's own Hugging Face model folder",
    "gptlab-chat --model outputs/my-run": "an interactive session on the terminal",
    "gptlab-chat --model ~/models/": "the user's own model folder, interactive",
    "gptlab-chat --model https://api.openai.com": "needs an OpenAI API key and the network",
    "gptlab-serve ": "a server that runs until stopped, with the user's own model folder",
    "gptlab-train +experiment=sft trainer.init_from=outputs/base": "the user's own base run and QA/chat files",
    "python -m gptlab.finetune.grpo +experiment=grpo trainer.init_from=outputs/sft": "the user's own SFT run",
    "python -m gptlab.finetune.arithmetic_demo": "a demo that trains three stages for minutes",
}
SMALL = {  # replaces the key's value in a command, or is appended
    "trainer.max_steps": "4",
    "trainer.eval_every": "2",
    "trainer.eval_batches": "1",
    "trainer.batch_size": "4",
    "trainer.samples": "0",
    "trainer.progress": "false",
    "trainer.budget.tokens": "300",
    "trainer.budget.flops": "3e8",
    "trainer.budget.tokens_per_param": "0.001",
    "trainer.budget.minutes": "0.005",
}
# stand-ins where the README shows what a user would do by hand
BY_HAND = {
    "gptlab-train hydra.run.dir=outputs/my-run trainer.max_steps=4000": "trainer.stop_at_step=2",  # Ctrl-C once
    "gptlab-compare outputs/run-a outputs/run-b": "outputs/run-a outputs/run-b -> outputs/multirun/lr_grid/0 outputs/multirun/lr_grid/1",
    "gptlab-train trainer.init_from=outputs/my-run ...": " ... -> ",  # the user's further overrides
}


def readme_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            command = line.split("  #")[0].strip()
            if command and not command.startswith("#"):
                lines.append(command)
    return lines


def small(command: str) -> list[str]:
    words = shlex.split(command)
    keys = {w.split("=", 1)[0] for w in words if "=" in w}
    has_budget = any(k.startswith("trainer.budget.") for k in keys)
    out = [f"{w.split('=', 1)[0]}={SMALL[w.split('=', 1)[0]]}" if w.split("=", 1)[0] in SMALL else w for w in words]
    for key, value in SMALL.items():
        if (
            key not in keys
            and not key.startswith("trainer.budget.")
            and not (has_budget and key == "trainer.max_steps")
        ):
            out.append(f"{key}={value}")
    if "trainer.stages" in keys:  # the stage at step 500 lies past a 4-step run: keep only the first
        out = [w if not w.startswith("trainer.stages=") else "trainer.stages=[{step: 0, block_size: 64}]" for w in out]
    return out


def run(command: str, number: int) -> int:
    """Run one README command in this process; returns its exit code."""
    if " -m " in f" {command} " and "hydra.sweep.dir" not in command:
        # the default sweep dir is named after the second it starts in: commands run here start within one
        command = f"{command} hydra.sweep.dir=outputs/multirun/readme-{number}"
    for start, extra in BY_HAND.items():
        if command.startswith(start) and "->" not in extra:
            command = f"{command} {extra}"
        elif command.startswith(start):
            old, new = extra.split(" -> ")
            command = command.replace(old, new)
    program, *args = shlex.split(command)
    if program == "gptlab-train" and "--cfg" not in args:
        args = small(command)[1:]
    argv = sys.argv
    sys.argv = [program, *args]
    try:
        console_scripts()[program]()  # as the console script calls it: arguments in sys.argv
        return 0
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = argv


def console_scripts() -> dict:
    """The functions behind pyproject.toml's console scripts."""
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    out = {}
    for name, target in scripts.items():
        module, _, function = target.partition(":")
        out[name] = getattr(importlib.import_module(module), function)
    return out


def test_every_readme_command_is_run_or_has_a_reason():
    commands = readme_commands()
    assert len(commands) > 25
    runnable = [c for c in commands if not any(c.startswith(start) for start in NOT_RUN)]
    unknown = [c for c in runnable if c.split()[0] not in console_scripts()]
    assert not unknown, f"README commands this test does not know how to run: {unknown}"
    stale = [start for start in NOT_RUN if not any(c.startswith(start) for c in commands)]
    assert not stale, f"reasons for commands the README no longer has: {stale}"


@pytest.mark.extended  # each command is a process of its own: about 100 s; make test-faults runs it
def test_the_readme_commands_run(tmp_path, monkeypatch):
    """In README order, in a folder laid out like a fresh clone (the paths the README uses resolve)."""
    for name in ("gptlab", "conf", "experiments"):
        (tmp_path / name).symlink_to(REPO / name)
    monkeypatch.chdir(tmp_path)
    failed = []
    for number, command in enumerate(readme_commands()):
        if any(command.startswith(start) for start in NOT_RUN):
            continue
        code = run(command, number)
        if code != 0:
            failed.append(f"{command} -> exit {code}")
    assert not failed, "\n".join(failed)
    assert (tmp_path / "outputs" / "multirun" / "lr_grid" / "compare" / "report.html").exists()
    assert (tmp_path / "outputs" / "my-run" / "checkpoints" / "last.pt").exists()


def python_block(marker: str) -> str:
    """The README's python block that starts with ``# <marker>``."""
    text = README.read_text(encoding="utf-8")
    return next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if b.startswith(f"# {marker}"))


@pytest.mark.parametrize(
    "module,command",
    [
        ("my_knobs", "GPTLAB_PLUGINS=my_knobs gptlab-train model.mlp=tanh"),
        ("my_schedules", "GPTLAB_PLUGINS=my_schedules gptlab-train schedule=halving schedule.every=200"),
    ],
)
def test_plugins_load_from_the_current_folder_as_a_console_script(tmp_path, module, command):
    assert f"`{command}`" in README.read_text(encoding="utf-8")
    (tmp_path / f"{module}.py").write_text(python_block(f"{module}.py"), encoding="utf-8")
    scripts = tmp_path / "bin"  # a console script: sys.path[0] is its own folder, not the current one
    scripts.mkdir()
    (scripts / "gptlab-train").write_text("import sys\nfrom gptlab.train import main\nsys.exit(main())\n")
    env_part, _, rest = command.partition(" gptlab-train ")
    env = {**os.environ, "PYTHONPATH": str(REPO), env_part.split("=")[0]: env_part.split("=")[1]}
    args = [*shlex.split(rest), "trainer.max_steps=2", "trainer.eval_every=2", "trainer.eval_batches=1"]
    args += ["trainer.samples=0", "data.plays=[macbeth]", "model.block_size=32", "hydra.run.dir=run"]
    result = subprocess.run(
        [sys.executable, str(scripts / "gptlab-train"), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "step      2/2" in result.stdout
    listed = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.pop(0); from gptlab.listing import main; main()"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr[-2000:]
