"""Loss curves as PNG files: one line per group (mean over seeds) with a band from the min to the max seed."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gptlab.compare.groups import Group  # noqa: E402
from gptlab.compare.runs import AXES  # noqa: E402

CURVE_METRICS = {"val_loss": "validation loss", "train_loss": "training loss"}
AXIS_LABELS = {
    "step": "optimizer steps",
    "tokens": "training tokens",
    "flops": "training FLOPs",
    "train_time_s": "training time, s (without evaluation)",
}


def seed_band(group: Group, metric: str, axis: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x, mean, min, max of ``metric`` over the group's runs, on the union of their x values.

    Each run is interpolated within its own range only, so a run still going adds nothing past
    its last point.
    """
    curves = []
    for run in group.runs:
        x, y = run.series[axis], run.series[metric]
        keep = np.isfinite(x) & np.isfinite(y)
        if keep.any():
            curves.append((x[keep], y[keep]))
    if not curves:
        return (np.array([]),) * 4
    grid = np.unique(np.concatenate([x for x, _ in curves]))
    stacked = np.full((len(curves), len(grid)), np.nan)
    for i, (x, y) in enumerate(curves):
        inside = (grid >= x[0]) & (grid <= x[-1])
        stacked[i, inside] = np.interp(grid[inside], x, y)
    with np.errstate(all="ignore"):
        return grid, np.nanmean(stacked, 0), np.nanmin(stacked, 0), np.nanmax(stacked, 0)


def draw_group(ax, group: Group, metric: str, axis: str):
    """The group's mean curve (a marker where it is a single point) and its min-max band; None if empty."""
    x, mean, low, high = seed_band(group, metric, axis)
    if not len(x):
        return None
    marker = "o" if len(x) == 1 else None  # a single evaluation is a point, not a line
    (line,) = ax.plot(x, mean, label=f"{group.label} (n={len(group.runs)})", linewidth=1.6, marker=marker)
    if len(group.runs) > 1:
        ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    return line


def plot_curves(groups: list[Group], out_dir: Path) -> tuple[list[Path], list[str]]:
    """Write ``<metric>_vs_<axis>.png`` for every metric and available axis; returns (files, notes)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = [run for group in groups for run in group.runs]
    files, notes = [], []
    for axis in AXES:
        if not all(run.has_axis(axis) for run in runs):
            notes.append(
                f"no plots against {AXIS_LABELS[axis]}: not every run logs '{axis}' "
                "(FLOPs need a 'flops' or 'flops_per_token' field in metrics.jsonl)"
            )
            continue
        for metric, title in CURVE_METRICS.items():
            fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
            for group in groups:
                draw_group(ax, group, metric, axis)
            ax.set_xlabel(AXIS_LABELS[axis])
            ax.set_ylabel(title)
            ax.set_title(f"{title} vs {AXIS_LABELS[axis]}")
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
            fig.tight_layout()
            path = out_dir / f"{metric}_vs_{axis}.png"
            fig.savefig(path)
            plt.close(fig)
            files.append(path)
    return files, notes
