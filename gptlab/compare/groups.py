"""Swept knobs, groups of runs that differ only in their seed, and their aggregated final metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gptlab.compare.runs import Run
from gptlab.compare.stats import Summary, summarize
from gptlab.errors import ConfigError

SEED_KEY = "seed"
METRICS = ("val_bpb", "val_loss", "train_loss")
ALIGN = ("none", "step", "tokens", "flops")


def swept_knobs(runs: list[Run]) -> list[str]:
    """The override keys whose value differs between runs, without ``seed``, in first-seen order."""
    keys: list[str] = []
    for run in runs:
        keys.extend(k for k in run.overrides if k not in keys and k != SEED_KEY)
    return [k for k in keys if len({run.knob(k) for run in runs}) > 1]


@dataclass
class Group:
    knobs: dict[str, str]  # swept key -> value, identical for every run of the group
    runs: list[Run] = field(default_factory=list)
    stats: dict[str, Summary] = field(default_factory=dict)  # metric -> seed statistics
    budget_note: str = ""  # set when this group's budget differs from the others (or within it)
    read_at: dict[str, list[float]] = field(default_factory=dict)  # aligned: each run's step/tokens read

    @property
    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.knobs.items()) or "all runs"

    @property
    def status(self) -> str:
        states = [run.status for run in self.runs]
        return "done" if all(s == "done" for s in states) else ", ".join(sorted(set(states) - {"done"}))

    def budget(self, axis: str) -> list[float]:
        return [run.budget(axis) for run in self.runs]


def group_runs(runs: list[Run], knobs: list[str]) -> list[Group]:
    groups: dict[tuple, Group] = {}
    for run in runs:
        values = {k: run.knob(k) for k in knobs}
        groups.setdefault(tuple(values.values()), Group(values)).runs.append(run)
    return list(groups.values())


def _fmt(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else "?"


def flag_budgets(groups: list[Group]) -> list[str]:
    """Mark groups whose final steps or tokens differ (between groups or between their seeds)."""
    warnings = []
    for axis in ("step", "tokens"):
        finals = {id(g): g.budget(axis) for g in groups}
        values = {v for vs in finals.values() for v in vs if math.isfinite(v)}
        if len(values) <= 1:
            continue
        reference = max(values)
        for group in groups:
            mine = sorted({_fmt(v) for v in finals[id(group)]})
            if len(mine) > 1 or any(v < reference for v in finals[id(group)]):
                note = f"{axis} {'/'.join(mine)} (max {_fmt(reference)})"
                group.budget_note = f"{group.budget_note}; {note}" if group.budget_note else note
        warnings.append(f"final {axis} differ between runs ({', '.join(_fmt(v) for v in sorted(values))})")
    return warnings


def aggregate(groups: list[Group], align: str = "none") -> float | None:
    """Fill each group's seed statistics; sorted by mean final val bpb. Returns the aligned budget.

    With ``align`` = step, tokens or flops every run is read at the same point: the largest
    budget along that axis that all runs reached, so longer runs get no advantage.
    """
    if align not in ALIGN:
        raise ConfigError(f"--align {align!r} is not one of {', '.join(ALIGN)}.")
    budget = None
    runs = [run for group in groups for run in group.runs]
    if align != "none":
        missing = [run.name for run in runs if not run.has_axis(align)]
        if missing:
            raise ConfigError(
                f"--align {align}: runs {', '.join(missing)} log no '{align}' (FLOPs appear only where the "
                f"training logs 'flops' or 'flops_per_token'). Align by step or tokens instead."
            )
        budget = min(run.budget(align) for run in runs)
    for group in groups:
        for metric in METRICS:
            values = [run.final(metric) if budget is None else run.at(metric, align, budget) for run in group.runs]
            group.stats[metric] = summarize(values)
        if budget is not None:  # where the main metric (val bpb) was read, per run
            points = [run.read_where(METRICS[0], align, budget) for run in group.runs]
            group.read_at = {axis: [point[axis] for point in points] for axis in ("step", "tokens")}
    groups.sort(key=lambda g: (not math.isfinite(g.stats["val_bpb"].mean), g.stats["val_bpb"].mean))
    return budget
