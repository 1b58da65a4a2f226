"""Resuming a run: what may change on resume, the check against the checkpoint's config, the command.

A resume continues the run its checkpoint holds, so the resolved config must equal the
checkpoint's except for keys that change how long, where or how loudly the run goes on
(``MAY_CHANGE``). ``gptlab-train --resume RUN_DIR [overrides]`` replays the run's own overrides
(``RUN_DIR/.hydra/overrides.yaml``) with the new ones on top, so it needs only the run dir.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from gptlab.errors import ConfigError, GptlabError
from gptlab.logger.wandb import flatten

# Keys (or key prefixes, ending in ".") that may differ between a checkpoint and its resume.
MAY_CHANGE = (
    "trainer.max_steps",  # extend (or shorten, not below the step reached) the run
    "trainer.budget.",  # a token/FLOPs budget likewise; a time budget keeps the steps it measured
    "trainer.stop_at_step",
    "trainer.resume",
    "trainer.eval_every",
    "trainer.log_every",
    "trainer.progress",
    "trainer.threads",
    "trainer.device",
    "trainer.compile",
    "trainer.dry_run",
    "trainer.stop_signals",
    "trainer.samples",
    "trainer.sample_",
    "logger.",
    "sweep.",
    "data.workers",
    "cache_dir",
    "tags",
)
# Overrides of one start only: `--resume` does not replay them.
NOT_REPLAYED = ("trainer.stop_at_step", "trainer.resume", "trainer.dry_run", "hydra.")
RESUME_FLAG = "--resume"


def may_change(key: str) -> bool:
    return any(key == p or p.endswith((".", "_")) and key.startswith(p) for p in MAY_CHANGE)


class _Absent:
    def __repr__(self) -> str:
        return "absent"


ABSENT = _Absent()


def config_differences(saved: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(key, checkpoint's value, new value) of every key that differs and may not change on resume;
    a group whose component changed (``optimizer.name``) is one difference, not one per key."""
    old, now = flatten(saved), flatten(new)
    differing = [
        key
        for key in sorted(old.keys() | now.keys())
        if not may_change(key) and old.get(key, ABSENT) != now.get(key, ABSENT)
    ]
    swapped = {key.removesuffix(".name") for key in differing if key.endswith(".name")}
    return [
        (key, old.get(key, ABSENT), now.get(key, ABSENT))
        for key in differing
        if key.endswith(".name") or not any(key.startswith(f"{group}.") for group in swapped)
    ]


def check_resumable(checkpoint: dict[str, Any], new_config: dict[str, Any], run_dir: Path, path: Path) -> None:
    """Refuse, in one paragraph naming each differing key, a resume whose config is not the checkpoint's."""
    saved = checkpoint.get("config")
    if not isinstance(saved, dict) or "step" not in checkpoint:
        raise GptlabError(
            f"Checkpoint '{path}' holds no gptlab training state (no config or step); it cannot be resumed."
        )
    differences = config_differences(saved, new_config)
    if differences:
        listed = "; ".join(f"{key}: {old!r} in the checkpoint, {new!r} now" for key, old, new in differences)
        raise ConfigError(
            f"Cannot resume '{run_dir}': its checkpoint (step {checkpoint['step']}) was trained with a different "
            f"config ({listed}). Resume with the run's own config, `{resume_command(run_dir)}`, where only "
            f"trainer.max_steps, the budget, logging, evaluation cadence and the other keys of gptlab/run/resume.py "
            f"MAY_CHANGE may differ, or start a new run in another hydra.run.dir."
        )
    max_steps = new_config.get("trainer", {}).get("max_steps")
    if isinstance(max_steps, int) and max_steps < checkpoint["step"]:
        raise ConfigError(
            f"trainer.max_steps={max_steps} is below step {checkpoint['step']}, which the run in '{run_dir}' "
            f"reached already. Resume with trainer.max_steps >= {checkpoint['step']}."
        )


def resume_command(run_dir: Path) -> str:
    """The command that continues the run in ``run_dir``, as this process was started."""
    program = (
        "gptlab-train" if Path(sys.argv[0]).name == "gptlab-train" else f"{shlex.quote(sys.executable)} -m gptlab.train"
    )
    return f"{program} {RESUME_FLAG} {shlex.quote(str(run_dir))}"


def resume_overrides(run_dir: Path, overrides: list[str]) -> list[str]:
    """The overrides that resume ``run_dir``: its own (from ``.hydra/overrides.yaml``) with ``overrides``
    replacing those of the same key (or group), then ``hydra.run.dir`` and ``trainer.resume=true``."""
    import yaml

    saved = Path(run_dir) / ".hydra" / "overrides.yaml"
    if not saved.is_file():
        raise GptlabError(
            f"{RESUME_FLAG} {run_dir}: '{saved}' does not exist, so '{run_dir}' is not the run dir of a "
            f"gptlab-train run. Pass the folder of a run (it holds .hydra/ and checkpoints/)."
        )
    own = [o for o in yaml.safe_load(saved.read_text(encoding="utf-8")) or [] if not _key(o).startswith(NOT_REPLAYED)]
    new_keys = {_key(o) for o in overrides}  # a new group choice (logger=jsonl) also drops the old one's keys
    kept = [o for o in own if _key(o) not in new_keys and not any(_key(o).startswith(f"{k}.") for k in new_keys)]
    return [*kept, *overrides, f"hydra.run.dir={_quoted(str(run_dir))}", "trainer.resume=true"]


def split_resume_flag(argv: list[str]) -> tuple[Path | None, list[str]]:
    """(the run dir of ``--resume RUN_DIR`` or ``--resume=RUN_DIR``, the other arguments)."""
    rest, run_dir = [], None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == RESUME_FLAG or arg.startswith(RESUME_FLAG + "="):
            value = arg.partition("=")[2] if "=" in arg else (argv[i + 1] if i + 1 < len(argv) else "")
            if not value or value.startswith("-"):
                raise GptlabError(f"{RESUME_FLAG} needs a run dir: {RESUME_FLAG} outputs/2026-11-30/12-00-00")
            run_dir = Path(value)
            i += 1 if "=" in arg else 2
            continue
        rest.append(arg)
        i += 1
    return run_dir, rest


def _key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def _quoted(value: str) -> str:
    """A value Hydra's override grammar reads back verbatim (quoted when it holds special characters)."""
    plain = all(c.isalnum() or c in "/._-:~" for c in value)
    return value if plain else "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
