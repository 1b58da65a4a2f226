"""The ``gptlab-train`` console entry point: ``--help`` is answered here without importing torch (or
Hydra), from the config folder alone; every other command line goes to :func:`gptlab.train.main`."""

from __future__ import annotations

import sys
from pathlib import Path

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
    from gptlab.train import main

    main()


if __name__ == "__main__":
    train()
