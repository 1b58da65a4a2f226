"""The one switch of gptlab: a config name maps to a registered component.

A component is a class (or factory function) plus an optional config dataclass. Registering it
with a config stores the dataclass in Hydra's ConfigStore as the typed schema
``schema/<kind>/<name>``; a YAML option in ``conf/<kind>/`` extends that schema, so Hydra checks
keys and types while it composes. Code never compares a config string: it asks the registry.

Register your own component in your own module and select it by name::

    from dataclasses import dataclass
    from gptlab.registry import register

    @dataclass
    class StepDecayConfig:
        name: str = "step_decay"
        warmup_steps: int = 0
        every: int = 100
        gamma: float = 0.5

    @register("schedule", "step_decay", StepDecayConfig)
    def step_decay(cfg, max_steps):
        return lambda step: cfg.gamma ** (step // cfg.every)

then ``GPTLAB_PLUGINS=my_module gptlab-train schedule=step_decay schedule.gamma=0.3``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, is_dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from gptlab.errors import ConfigError

# Kinds whose config is a whole Hydra config group (conf/<kind>/); the others are building
# blocks selected by a string field inside a group (e.g. model.norm).
GROUP_KINDS = ("model", "optimizer", "schedule", "data", "tokenizer", "logger")


@dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    target: Callable[..., Any]
    config: type | None

    @property
    def summary(self) -> str:
        doc = (self.target.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


_ENTRIES: dict[str, dict[str, Entry]] = {}
_SCHEMAS: dict[str, dict[str, type]] = {}  # kind -> name -> config dataclass in Hydra's ConfigStore


def register(kind: str, name: str, config: type | None = None) -> Callable:
    """Decorator: register ``target`` as component ``name`` of ``kind``, with its config schema."""
    if config is not None and not is_dataclass(config):
        raise TypeError(f"config for {kind}/{name} must be a dataclass, got {config!r}")

    def decorator(target: Callable) -> Callable:
        existing = _ENTRIES.setdefault(kind, {}).get(name)
        if existing is not None and existing.target is not target:
            raise ValueError(f"{kind} '{name}' is already registered by {existing.target!r}")
        if config is not None:
            register_schema(kind, name)(config)
        _ENTRIES[kind][name] = Entry(kind, name, target, config)
        return target

    return decorator


def register_schema(kind: str, name: str) -> Callable[[type], type]:
    """Decorator on a config dataclass: store it as the typed schema ``schema/<kind>/<name>``.

    ``register`` does this for every component it registers; a built-in whose module imports torch
    (the model, the optimizers) has its config in a torch-free module that registers the schema itself,
    so Hydra composes and checks a config without importing torch (``gptlab-train --cfg job``).
    """

    def decorator(config: type) -> type:
        existing = _SCHEMAS.setdefault(kind, {}).get(name)
        if existing is not None and existing is not config:
            raise ValueError(f"{kind} '{name}' already has the config schema {existing!r}, not {config!r}")
        if existing is None:
            _SCHEMAS[kind][name] = config
            ConfigStore.instance().store(group=f"schema/{kind}", name=name, node=named_schema(config, name))
        return config

    return decorator


def named_schema(config: type, name: str) -> type | DictConfig:
    """The typed schema of ``config`` with its ``name`` field set to the registered name.

    One dataclass may back several components (``linear`` and ``cosine`` share the schedule
    config); the stored schema must still say which one it selects. A dataclass whose default name
    is already ``name`` is its own schema (the ConfigStore converts it once, not twice).
    """
    default = getattr(config, "__dataclass_fields__", {}).get("name")
    if default is None or default.default == name:
        return config
    node = OmegaConf.structured(config)
    node.name = name
    return node


_builtins_loaded = False


def load_builtins() -> None:
    """Import every built-in component module once, so each registers itself.

    Lookups call this on a miss, so a library user who imports only ``gptlab.model.gpt`` (or
    rebuilds a tokenizer from its state) finds every built-in part without an import-order trap.
    """
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        import gptlab.components  # noqa: F401


def schemas(kind: str) -> dict[str, type]:
    """``name -> config dataclass`` of the schemas registered for ``kind`` so far (imports no component)."""
    return dict(_SCHEMAS.get(kind, {}))


def kinds() -> list[str]:
    load_builtins()
    return sorted(_ENTRIES)


def names(kind: str) -> list[str]:
    load_builtins()
    return sorted(_ENTRIES.get(kind, {}))


def lookup(kind: str, name: str, key: str | None = None) -> Entry:
    """The entry for ``name``; an unknown name raises an error that lists the valid ones."""
    if name not in _ENTRIES.get(kind, {}):
        load_builtins()
    entries = _ENTRIES.get(kind, {})
    if name in entries:
        return entries[name]
    close = difflib.get_close_matches(str(name), list(entries), n=3)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    where = key or f"{kind}.name"
    raise ConfigError(
        f"Unknown {kind} '{name}' at {where}.{hint} Valid {kind} names: {', '.join(sorted(entries))}. "
        f"Register your own with gptlab.registry.register (see `gptlab-list`)."
    )


def as_dataclass(schema: type, cfg: Any) -> Any:
    """Turn a DictConfig or plain dict into an instance of ``schema`` (validated by OmegaConf)."""
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), cfg))


def to_config(entry: Entry, cfg: Any) -> Any:
    """The entry's config dataclass for ``cfg``; a dataclass instance (or a config-less entry) passes through."""
    if entry.config is None or is_dataclass(cfg) and not isinstance(cfg, type):
        return cfg
    return as_dataclass(entry.config, cfg)


def build(kind: str, cfg: Any, *args: Any, **kwargs: Any) -> Any:
    """Build the component that ``cfg.name`` names, passing it its typed config."""
    name = cfg["name"] if isinstance(cfg, (dict, DictConfig)) else cfg.name
    entry = lookup(kind, name)
    return entry.target(to_config(entry, cfg), *args, **kwargs)


def build_part(kind: str, name: str, *args: Any, key: str | None = None, **kwargs: Any) -> Any:
    """Build a building block selected by a plain string field (e.g. ``model.norm``)."""
    return lookup(kind, name, key).target(*args, **kwargs)


def expose_unconfigured(config_dir: str) -> None:
    """Make every registered component selectable as ``<kind>=<name>`` even without a YAML file.

    Built-in options live as YAML files in ``conf/<kind>/``; a plugin's component has none, so
    its dataclass defaults become the option.
    """
    from pathlib import Path

    store = ConfigStore.instance()
    for kind in GROUP_KINDS:
        for name, config in schemas(kind).items():
            if not (Path(config_dir) / kind / f"{name}.yaml").exists():
                store.store(group=kind, name=name, node=named_schema(config, name))
