"""The ``gptlab-train`` command line: ``--help`` from the config folder alone; the flags and overrides
checked; then Hydra composes the config and calls :func:`hydra_main`, which runs :func:`gptlab.train.train`.

Nothing here imports torch at module level, and Hydra only once the command line asks for it: ``--help``
answers without either, ``--cfg job|hydra|all`` and ``--info`` compose the config against the torch-free
schemas (``gptlab/schemas.py``) and print it; torch is imported when a run starts.
Exit codes: 0 done, 1 a sweep job failed, 2 a user error, 128 + N stopped by signal N (130: Ctrl-C).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

# The resolvers the Hydra config names (gptlab_new_dir, gptlab_parallel_slots), registered on import: a launcher's
# worker process imports this module to unpickle hydra_main, then resolves its job's config.
import gptlab.sweep.folder  # noqa: F401
import gptlab.sweep.gpus  # noqa: F401
from gptlab.errors import GptlabError, report
from gptlab.trainer.stop import Stopped

if TYPE_CHECKING:
    from omegaconf import DictConfig

INTERRUPTED = 130  # 128 + SIGINT: the shell's code for Ctrl-C
PRINT_ONLY_FLAGS = ("--cfg", "-c", "--info")  # Hydra composes the config and prints; nothing runs
HYDRA_FULL_ERROR = "HYDRA_FULL_ERROR"  # set: Hydra raises an error instead of printing it and exiting 1
CONF = Path(__file__).resolve().parent / "conf"
HELP_FLAGS = ("-h", "--help")
USAGE = """gptlab-train: compose the config, validate it, build the registered components, train.

usage: gptlab-train [group=option ...] [key=value ...]          one run (outputs/<date>/<time>/)
       gptlab-train -m key=a,b [key=value ...]                   a sweep: one run per combination
       gptlab-train --cfg job [overrides ...]                    print the composed config (every key)
       gptlab-train trainer.dry_run=true [overrides ...]         model size, FLOPs and memory; no data read

examples:
  gptlab-train model.n_layer=2 optimizer.lr=3e-3 trainer.max_steps=300
  gptlab-train data=text data.path=corpus.txt tokenizer=bpe tokenizer.vocab_size=4096
  gptlab-train -m model.n_layer=1,2,4 seed=0,1
"""
FLAGS = """Hydra's flags: -m/--multirun, --cfg job|hydra|all (with --resolve), --info, --hydra-help,
-c/--config-name, -cp/--config-path, -cd/--config-dir; hydra.run.dir=... and hydra.sweep.dir=... set
the output folders. `gptlab-list` shows every registered component (plugins included)."""


def config_groups() -> dict[str, tuple[list[str], str | None]]:
    """``group -> (options, default)`` read from the YAML files of ``gptlab/conf``."""
    import yaml

    defaults: dict[str, str] = {}
    for entry in yaml.safe_load((CONF / "config.yaml").read_text(encoding="utf-8")).get("defaults", []):
        if isinstance(entry, dict):
            defaults.update({str(k): str(v) for k, v in entry.items() if not str(k).startswith("override")})
    groups: dict[str, tuple[list[str], str | None]] = {}
    for path in sorted(CONF.rglob("*.yaml")):
        group = path.parent.relative_to(CONF).as_posix()
        if path.parent == CONF or group.startswith("experiment/"):
            continue
        groups.setdefault(group, ([], defaults.get(group)))[0].append(path.stem)
    experiments = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))  # a link: rglob does not enter it
    if experiments:
        groups["experiment"] = (experiments, None)
    return groups


def help_text() -> str:
    lines = [USAGE, "config groups (group=option; * the default):"]
    for group, (options, default) in config_groups().items():
        name = "+experiment" if group == "experiment" else group
        listed = ", ".join(f"{o}*" if o == default else o for o in options)
        lines.append(f"  {name}: {listed}")
    lines += ["", FLAGS]
    return "\n".join(lines)


def train() -> None:
    """``gptlab-train``: help from here; anything else to the training command."""
    if any(arg in HELP_FLAGS for arg in sys.argv[1:]):
        print(help_text())
        return
    main()


def main() -> None:
    """Checks the command line, then hands over to Hydra.

    ``--resume RUN_DIR [overrides]`` continues a run with its own overrides (see gptlab/run/resume.py).
    A Ctrl-C at any point (while modules still import, too) is one line and exit code 130.
    """
    try:
        from gptlab.config import CONFIG_DIR, CONFIG_NAME, check_overrides, prepare_registry
        from gptlab.run.resume import resume_overrides, split_resume_flag

        resume_dir, argv = split_resume_flag(sys.argv[1:])
        flags, overrides = split_command_line(argv)
        if resume_dir is not None:
            overrides = resume_overrides(resume_dir, overrides)
        sys.argv[1:] = [*flags, *overrides]
        prepare_registry()
        print_only = any(flag in PRINT_ONLY_FLAGS for flag in flags)
        if not print_only:  # a command that only prints composes once; a failure is explained afterwards
            check_overrides(overrides)
        _check_output_dir(overrides)
    except GptlabError as error:
        report(error)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("interrupted during start-up; nothing was trained", file=sys.stderr)
        raise SystemExit(INTERRUPTED) from None
    try:
        import hydra

        from gptlab.distributed.launch import share_start_time

        share_start_time()  # torchrun: every rank reads rank 0's clock, so all share one run dir
        app = hydra.main(config_path=str(CONFIG_DIR), config_name=CONFIG_NAME, version_base="1.3")(hydra_main)
        if print_only:
            print_composed(app, overrides)
        else:
            app()
    except Stopped as stopped:
        print(f"{stopped}; exit code {stopped.exit_code}", file=sys.stderr)
        raise SystemExit(stopped.exit_code) from None
    except KeyboardInterrupt:
        print("interrupted: stopped at once; the last complete checkpoint (if any) is kept", file=sys.stderr)
        raise SystemExit(INTERRUPTED) from None
    finally:
        _leave_process_group()


def print_composed(app: Callable[[], None], overrides: list[str]) -> None:
    """``--cfg job|hydra|all`` and ``--info``: Hydra composes the config once and prints it. When composing
    fails, the mistake is told as a run tells it: an unknown key or a wrong type in one paragraph naming
    the closest valid keys (exit 2); anything else (a group option that does not exist) in Hydra's words (exit 1)."""
    from gptlab.config import check_overrides

    previous = os.environ.get(HYDRA_FULL_ERROR)
    os.environ[HYDRA_FULL_ERROR] = "1"  # Hydra then raises its composition error here instead of printing it
    try:
        app()
    except Exception as error:
        try:
            check_overrides(overrides)
        except GptlabError as mistake:
            report(mistake)
            raise SystemExit(2) from None
        cause = f"\n{error.__cause__}" if error.__cause__ is not None else ""
        print(f"{error}{cause}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        if previous is None:
            os.environ.pop(HYDRA_FULL_ERROR, None)
        else:
            os.environ[HYDRA_FULL_ERROR] = previous


def hydra_main(cfg: DictConfig) -> float | None:
    """Hydra's task function, one run; in a multirun a failing job is recorded in its status.json and the
    others go on. A module-level function (not decorated): parallel launchers pickle it by reference."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from gptlab.config import prepare_registry
    from gptlab.run.lock import RunDirLocked
    from gptlab.sweep.identity import job_identity
    from gptlab.sweep.status import write_status

    prepare_registry()  # again: a launcher's worker process (joblib, SLURM) starts without it
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    job = job_identity(
        Path(hydra_cfg.sweep.dir) if multirun else None,
        list(hydra_cfg.overrides.task),
        dict(hydra_cfg.runtime.choices),
        cfg.sweep.name,
    )
    job.num = hydra_cfg.job.num if multirun else None
    # what Hydra would write into .hydra/ at start (conf/config.yaml turns that off): written once accepted
    run_files = {
        "config.yaml": cfg,
        "hydra.yaml": HydraConfig.instance().cfg,
        "overrides.yaml": hydra_cfg.overrides.task,
    }
    try:
        from gptlab.train import train  # torch and the components: imported once a run starts

        final = train(cfg, run_dir, job, run_files=run_files)
    except Stopped as stopped:
        if stopped.then is not None:  # e.g. submitit's handler of its pre-emption signal: requeue, exit
            stopped.then()
        raise
    except KeyboardInterrupt:
        if not multirun:
            remove_if_empty_run(run_dir)
        raise
    except Exception as error:
        if not multirun and not isinstance(error, GptlabError):
            raise
        if isinstance(error, GptlabError):
            report(error)
        else:
            traceback.print_exc()
        if not multirun:
            remove_if_empty_run(run_dir)
            raise SystemExit(2) from None
        if not isinstance(error, RunDirLocked):  # the live run's status.json is not this job's to write
            write_status(run_dir, status="failed", error=f"{type(error).__name__}: {error}"[:300])
        return None
    return final.get("val_bpb")


def _leave_process_group() -> None:
    """Under torchrun, leave the process group a run joined (torch is loaded only if a run started)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def remove_if_empty_run(run_dir: Path) -> None:
    """After an early failure, delete the run dir if it holds only what Hydra wrote at start."""
    import shutil

    if not run_dir.exists():
        return
    leftovers = [p for p in run_dir.iterdir() if p.name != ".hydra" and not p.name.endswith(".log")]
    if leftovers:
        return
    shutil.rmtree(run_dir, ignore_errors=True)
    cwd = Path.cwd().resolve()
    for parent in run_dir.resolve().parents:  # the empty date folders Hydra made above it
        if parent == cwd or cwd not in parent.parents or any(parent.iterdir()):
            break
        parent.rmdir()


def _check_output_dir(overrides: list[str]) -> None:
    """An output dir that cannot be created fails here, before Hydra tries to create it."""
    for override in overrides:
        key, _, value = override.partition("=")
        if key.lstrip("+") in ("hydra.run.dir", "hydra.sweep.dir") and value:
            path = Path(value).expanduser().absolute()
            parent = path
            while not parent.exists():
                parent = parent.parent
            if not parent.is_dir() or not os.access(parent, os.W_OK):
                raise GptlabError(
                    f"{key}='{value}' cannot be created: '{parent}' is {'not a folder' if not parent.is_dir() else 'not writable'}. "
                    f"Choose an output dir in a writable folder (the default is outputs/ in the current directory)."
                )


_FLAGS_WITH_VALUE = {
    "--cfg",
    "-c",
    "--package",
    "-p",
    "--config-path",
    "-cp",
    "--config-name",
    "-cn",
    "--config-dir",
    "-cd",
    "--experimental-rerun",
}


_INFO_TOPICS = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}


def split_command_line(argv: list[str]) -> tuple[list[str], list[str]]:
    """(flags with their values, ``key=value`` overrides) of a Hydra command line."""
    flags, overrides, i = [], [], 0
    while i < len(argv):
        takes_value = i + 1 < len(argv) and (
            argv[i] in _FLAGS_WITH_VALUE or argv[i] == "--info" and argv[i + 1] in _INFO_TOPICS
        )
        if argv[i].startswith("-"):
            flags += argv[i : i + 1 + takes_value]
            i += 1 + takes_value
        else:
            overrides.append(argv[i])
            i += 1
    return flags, overrides


def flags_first(argv: list[str]) -> list[str]:
    """Hydra's argument parser takes no override after a flag (``a=1 -m b=2`` fails): move the
    flags, each with its value, in front of the overrides so any order works."""
    flags, overrides = split_command_line(argv)
    return flags + overrides


if __name__ == "__main__":
    # through the module, not __main__: parallel launchers pickle hydra_main by reference
    from gptlab.cli import train as package_train

    package_train()
