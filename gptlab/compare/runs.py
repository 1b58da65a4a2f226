"""One run dir as the comparison sees it: resolved config, command-line overrides, metrics, status."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from gptlab.errors import DataError
from gptlab.logger.jsonl import METRICS_FILE, read_metrics
from gptlab.logger.wandb import flatten
from gptlab.sweep.status import STATUS_FILE  # the marker a multirun job writes; optional here

# The x axes a curve can be drawn against; ``flops`` only where a run logs it.
AXES = ("step", "tokens", "flops", "train_time_s")


@dataclass
class Run:
    path: Path
    config: dict[str, Any]  # flattened resolved config: {'model.n_layer': 2, ...}
    overrides: dict[str, str]  # command-line overrides of this run: {'model.n_layer': '2'}
    choices: dict[str, str]  # Hydra's group choices: {'model': 'gpt', ...}
    records: list[dict[str, Any]] = field(default_factory=list)
    marker: dict[str, Any] = field(default_factory=dict)  # status.json, if the run wrote one

    @property
    def name(self) -> str:
        return self.path.name

    def knob(self, key: str) -> str:
        """The value of ``key`` in this run as text: its override, else its config value or group choice."""
        if key in self.overrides:
            return self.overrides[key]
        if key in self.config:
            return str(self.config[key])
        return str(self.choices.get(key, "-"))

    @property
    def max_steps(self) -> int | None:
        return self.config.get("trainer.max_steps")

    @property
    def status(self) -> str:
        """``done``, ``failed`` or ``running`` (still going, or stopped before its last step)."""
        if self.marker.get("status") in ("done", "failed"):
            return self.marker["status"]
        if self.records and self.max_steps is not None and self.records[-1]["step"] >= self.max_steps:
            return "done"
        return "running"

    @cached_property
    def series(self) -> dict[str, np.ndarray]:
        """Per logged step: each x axis and each metric as float arrays (NaN where not logged)."""
        steps = np.array([r["step"] for r in self.records], dtype=float)
        tokens = np.array([r.get("tokens", np.nan) for r in self.records], dtype=float)
        out = {"step": steps, "tokens": tokens}
        for key in ("train_loss", "val_loss", "val_bpb"):
            out[key] = np.array([r.get(key, np.nan) for r in self.records], dtype=float)
        # Training time without evaluation: the sum of each interval's tokens over its tokens/s.
        rates = np.array([r.get("tokens_per_s", np.nan) for r in self.records], dtype=float)
        new_tokens = np.diff(tokens, prepend=0.0)
        out["train_time_s"] = np.cumsum(new_tokens / rates)
        if self.records and "flops" in self.records[-1]:
            out["flops"] = np.array([r.get("flops", np.nan) for r in self.records], dtype=float)
        elif self.records and "flops_per_token" in self.records[-1]:
            out["flops"] = tokens * np.array([r.get("flops_per_token", np.nan) for r in self.records], dtype=float)
        return out

    def has_axis(self, axis: str) -> bool:
        return axis in self.series and bool(np.isfinite(self.series[axis]).any())

    def final(self, metric: str) -> float:
        """The last logged value of ``metric`` (NaN if never logged)."""
        values = self.series.get(metric, np.array([]))
        values = values[np.isfinite(values)]
        return float(values[-1]) if len(values) else float("nan")

    def read_index(self, metric: str, axis: str, budget: float) -> int | None:
        """The record holding the last logged value of ``metric`` at or before ``axis`` = ``budget``."""
        x, y = self.series[axis], self.series[metric]
        keep = np.flatnonzero(np.isfinite(y) & (x <= budget * (1 + 1e-9)))
        return int(keep[-1]) if len(keep) else None

    def at(self, metric: str, axis: str, budget: float) -> float:
        """The last logged value of ``metric`` at or before ``axis`` = ``budget``."""
        index = self.read_index(metric, axis, budget)
        return float(self.series[metric][index]) if index is not None else float("nan")

    def read_where(self, metric: str, axis: str, budget: float) -> dict[str, float]:
        """The step and tokens of the record that :meth:`at` reads."""
        index = self.read_index(metric, axis, budget)
        return {a: float(self.series[a][index]) if index is not None else float("nan") for a in ("step", "tokens")}

    def budget(self, axis: str) -> float:
        """How far this run got along ``axis`` (its last logged x)."""
        x = self.series.get(axis, np.array([]))
        x = x[np.isfinite(x)]
        return float(x[-1]) if len(x) else float("nan")


def _parse_overrides(lines: list[str]) -> dict[str, str]:
    overrides = {}
    for line in lines:
        key, sep, value = str(line).partition("=")
        key = key.lstrip("+~")
        if sep and not key.startswith("hydra"):
            overrides[key] = value
    return overrides


def load_run(path: Path) -> Run:
    """Read one run dir; a missing metrics file (a job that has not logged yet) gives no records."""
    hydra_dir = path / ".hydra"
    try:
        config = yaml.safe_load((hydra_dir / "config.yaml").read_text(encoding="utf-8")) or {}
        overrides = yaml.safe_load((hydra_dir / "overrides.yaml").read_text(encoding="utf-8")) or []
        hydra_cfg = yaml.safe_load((hydra_dir / "hydra.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise DataError(f"'{path}' is not a readable gptlab run dir ({error}).") from None
    choices = hydra_cfg.get("hydra", {}).get("runtime", {}).get("choices", {}) or {}
    metrics = path / METRICS_FILE
    marker_path = path / STATUS_FILE
    return Run(
        path=path,
        config=flatten(config),
        overrides=_parse_overrides(overrides),
        choices={k: str(v) for k, v in choices.items() if not k.startswith("hydra")},
        records=[r for r in read_metrics(metrics) if "step" in r] if metrics.exists() else [],
        marker=json.loads(marker_path.read_text(encoding="utf-8")) if marker_path.exists() else {},
    )


def find_runs(paths: list[Path]) -> list[Run]:
    """Every run dir at or below ``paths`` (a run dir, a multirun dir, or a folder of them), in order."""
    runs: list[Run] = []
    for path in paths:
        if not path.is_dir():
            raise DataError(f"'{path}' is not a folder. Pass a multirun dir (outputs/multirun/...) or run dirs.")
        found = [path] if (path / ".hydra" / "config.yaml").exists() else []
        found = found or sorted(
            (p.parent.parent for p in path.rglob(".hydra/config.yaml")),
            key=lambda p: [int(part) if part.isdigit() else part for part in p.relative_to(path).parts],
        )
        if not found:
            raise DataError(f"'{path}' holds no run dirs (no .hydra/config.yaml below it).")
        runs.extend(load_run(p) for p in found)
    return runs
