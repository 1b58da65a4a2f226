"""The root config schema, plugin loading, and the checks that run before any data is read.

Hydra composes ``conf/config.yaml`` (the defaults list) onto the typed schemas in its
ConfigStore. This module adds what Hydra does not do: closest-key suggestions for a misspelled
override, and cross-field checks with messages that say what would be valid.
"""

from __future__ import annotations

import difflib
import math
import os
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, is_dataclass
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from gptlab import registry
from gptlab.errors import ConfigError

CONFIG_DIR = (
    Path(__file__).resolve().parent / "conf"
)  # inside the package, so a wheel carries it; conf/ at the top links here
CONFIG_NAME = "config"
PLUGIN_ENV = "GPTLAB_PLUGINS"
PLUGIN_ENTRY_POINT_GROUP = "gptlab.plugins"


@dataclass
class RunConfig:
    """The root of every run: a seed, a cache dir and one node per config group."""

    seed: int = 1337
    cache_dir: str = "~/.cache/gptlab"
    model: Any = MISSING
    optimizer: Any = MISSING
    schedule: Any = MISSING
    data: Any = MISSING
    tokenizer: Any = MISSING
    logger: Any = MISSING
    trainer: Any = MISSING
    sweep: Any = MISSING
    finetune: Any = MISSING
    tags: list[str] = field(default_factory=list)


ConfigStore.instance().store(name="run_schema", node=RunConfig)


def load_plugins() -> list[str]:
    """Import user modules that register components: ``$GPTLAB_PLUGINS`` and entry points.

    The current folder is searched too (after everything else), as ``python -m`` would: a console
    script such as ``gptlab-train`` does not put it on ``sys.path`` itself.
    """
    loaded = []
    modules = [m.strip() for m in os.environ.get(PLUGIN_ENV, "").split(",") if m.strip()]
    plugin_entry_points = list(entry_points(group=PLUGIN_ENTRY_POINT_GROUP))
    if modules or plugin_entry_points:
        registry.load_builtins()  # first, so a plugin reusing a built-in name fails here, naming the plugin
    if modules and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    for module in modules:
        try:
            import_module(module)
        except ImportError as error:
            raise ConfigError(
                f"{PLUGIN_ENV} names module '{module}', which cannot be imported ({error}). "
                f"Run from the folder that holds {module.split('.')[0]}.py (or put that folder on PYTHONPATH), "
                f"or fix the name."
            ) from None
        except Exception as error:
            raise ConfigError(
                f"Plugin module '{module}' ({PLUGIN_ENV}) failed while importing: {_where(error)}"
            ) from None
        loaded.append(module)
    for ep in plugin_entry_points:
        try:
            ep.load()
        except Exception as error:
            raise ConfigError(
                f"Plugin entry point '{ep.name} = {ep.value}' (group {PLUGIN_ENTRY_POINT_GROUP}) failed to load: "
                f"{_where(error)}"
            ) from None
        loaded.append(ep.value)
    return loaded


def _where(error: BaseException) -> str:
    """``Type: message`` and the plugin's own file and line where it was raised."""
    frames = traceback.extract_tb(error.__traceback__)
    package = str(Path(__file__).resolve().parent)
    mine = [f for f in frames if "importlib" not in f.filename and not f.filename.startswith(package)]
    place = f" (at {mine[-1].filename}:{mine[-1].lineno})" if mine else ""
    if isinstance(error, SyntaxError):
        place = f" (at {error.filename}:{error.lineno})"
    return f"{type(error).__name__}: {error}{place}."


def prepare_registry() -> None:
    """Register the built-in config schemas (torch-free: composing a config imports no torch; the
    components themselves load on their first lookup), the plugins, and expose YAML-less ones as options."""
    import gptlab.schemas  # noqa: F401  (registers every built-in config schema)

    load_plugins()
    registry.expose_unconfigured(str(CONFIG_DIR))


# ---------------------------------------------------------------------------- override checks


def _config_groups() -> set[str]:
    groups = set()
    for path in CONFIG_DIR.rglob("*.yaml"):
        if path.parent != CONFIG_DIR:
            groups.add(path.parent.relative_to(CONFIG_DIR).as_posix())
    return groups | set(registry.GROUP_KINDS)


def _key_suggestions(cfg: DictConfig, key: str) -> str:
    """A sentence naming the closest valid keys to the misspelled ``key``."""
    parts = key.split(".")
    node: Any = cfg
    for i, part in enumerate(parts):
        if isinstance(node, DictConfig) and part in node.keys():
            node = node._get_node(part)  # a node, even where the value is still ??? (missing)
            continue
        parent = ".".join(parts[:i])
        valid = list(node.keys()) if isinstance(node, DictConfig) else []
        prefix = f"{parent}." if parent else ""
        close = difflib.get_close_matches(part, valid, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(prefix + c for c in close)}?" if close else ""
        listing = ", ".join(prefix + str(v) for v in valid)
        return (
            f"Unknown config key '{key}'.{hint} Valid keys{' under ' + repr(parent) if parent else ''}: "
            f"{listing}. To add a new key on purpose, write +{key}=..."
        )
    return ""


def check_overrides(overrides: list[str]) -> None:
    """Fail early, with the closest valid keys, on an override that names no existing key."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides=overrides)
    except Exception:
        return  # Hydra itself reports syntax errors
    groups = _config_groups()
    choices, keys, first_job = [], [], []  # first_job: a sweep's overrides with each first value
    for override in parsed:
        name = override.key_or_group
        sweep = override.is_sweep_override()
        first = next(iter(override.sweep_string_iterator()), None) if sweep else override.get_value_element_as_str()
        if not name.startswith("hydra"):
            line = override.input_line
            first_job.append(line.split("=", 1)[0] + f"={first}" if sweep and first is not None else line)
        if name.startswith("hydra") or override.package or name in groups:
            if name in groups and not override.is_delete() and first is not None:
                choices.append(f"{name}={first}")
            continue
        if override.is_add() or override.is_force_add() or override.is_delete():
            continue
        keys.append(name)
    if not keys:
        return
    try:
        _compose(first_job)
        return
    except Exception as error:
        failure = error
    try:
        cfg = _compose(choices)
    except Exception:
        return  # a bad group choice: Hydra reports it with the valid options
    for key in keys:
        message = _key_suggestions(cfg, key)
        if message:
            raise ConfigError(message)
    raise ConfigError(_composition_message(failure))  # a value of the wrong type (n_layer=abc), as one paragraph


def _compose(overrides: list[str]) -> DictConfig:
    """The root config with ``overrides``, composed outside a Hydra app."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            return compose(config_name=CONFIG_NAME, overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


def _composition_message(error: BaseException) -> str:
    """Hydra's composition error (and its cause) as one paragraph naming the key and the expected type."""
    lines = []
    while error is not None and len(lines) < 6:
        lines += [line.strip() for line in str(error).splitlines() if line.strip()]
        error = error.__cause__
    kept = [line for line in dict.fromkeys(lines) if not line.startswith(("object_type", "reference_type"))]
    text = "; ".join(line.rstrip(".") for line in kept)
    return f"{text}. Give the key a value of its type (see `gptlab-train --cfg job` for every key and its default)."


def compose_config(overrides: list[str]) -> DictConfig:
    """The run config composed from ``overrides`` as ``gptlab-train`` composes it, outside a Hydra
    app (gptlab-prepare, the benchmarks); an unknown key fails first, with the closest valid keys."""
    prepare_registry()
    check_overrides(overrides)
    return _compose(overrides)


# ------------------------------------------------------------------------- cross-field checks


def typed_node(group: str, schema: type, node: DictConfig) -> Any:
    """The group node as an instance of ``schema``; dataclass checks run in __post_init__."""
    missing = sorted(OmegaConf.missing_keys(node))
    if missing:
        raise ConfigError(
            f"{group}.{missing[0]} has no value and must be set, e.g. on the command line: {group}.{missing[0]}=... "
            f"(missing: {', '.join(f'{group}.{key}' for key in missing)})."
        )
    try:
        return registry.as_dataclass(schema, node)
    except ConfigError:
        raise
    except Exception as error:  # OmegaConf type errors name the key already
        raise ConfigError(f"Invalid {group} config: {error}") from None


def typed_component(kind: str, node: DictConfig) -> Any:
    """The group node as the config dataclass of the component that ``<kind>.name`` names."""
    entry = registry.lookup(kind, node.name, key=f"{kind}.name")
    return typed_node(kind, entry.config, node) if entry.config is not None else node


NON_FINITE_ALLOWED: set[str] = set()  # float keys where inf or nan has a meaning (none so far)


def non_finite_values(node: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    """(key, value) for every NaN or infinite float in a config tree (dicts, lists, dataclasses)."""
    if is_dataclass(node) and not isinstance(node, type):
        node = {f.name: getattr(node, f.name) for f in fields(node)}
    if isinstance(node, DictConfig):
        node = OmegaConf.to_container(node, resolve=True)
    if isinstance(node, dict):
        for key, value in node.items():
            yield from non_finite_values(value, f"{prefix}{key}.")
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from non_finite_values(value, f"{prefix[:-1]}[{i}].")
    elif isinstance(node, float) and not math.isfinite(node):
        yield prefix[:-1], node


def check_finite(cfg: Any) -> None:
    """Refuse NaN and infinity in every float key (but those in ``NON_FINITE_ALLOWED``), before any
    dataclass check sees them: comparisons with NaN are all false, so ``lr <= 0`` would let it pass."""
    bad = [(key, value) for key, value in non_finite_values(cfg) if key not in NON_FINITE_ALLOWED]
    if bad:
        listing = ", ".join(f"{key}={value}" for key, value in bad)
        raise ConfigError(
            f"{listing}: {'these keys take' if len(bad) > 1 else 'this key takes'} a finite number, not NaN or "
            f"infinity. Give a finite value (or leave the key out for its default)."
        )


def resolve(cfg: DictConfig) -> dict[str, Any]:
    """Every group node as its typed config, after all single-group and cross-group checks."""
    from gptlab.sweep.config import SweepConfig
    from gptlab.trainer.config import TrainerConfig
    from gptlab.trainer.stages import check_stages

    check_finite(cfg)
    typed = {kind: typed_component(kind, cfg[kind]) for kind in registry.GROUP_KINDS}
    trainer = typed_node("trainer", TrainerConfig, cfg.trainer)
    schedule = typed["schedule"]
    if getattr(schedule, "warmup_steps", 0) >= trainer.max_steps:
        raise ConfigError(
            f"schedule.warmup_steps={schedule.warmup_steps} is not shorter than "
            f"trainer.max_steps={trainer.max_steps}; use warmup_steps < max_steps."
        )
    check_stages(trainer.stages, typed["model"].block_size)
    check_runs_here = getattr(typed["model"], "check_runs_here", None)
    if check_runs_here is not None:  # training uses the kernel it names; only loading a saved model falls back
        check_runs_here()
    typed["trainer"] = trainer
    typed["sweep"] = typed_node("sweep", SweepConfig, cfg.sweep)
    return typed
