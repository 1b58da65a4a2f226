"""The comparison table as plain rows (shared by the console and the HTML report) and as a rich table."""

from __future__ import annotations

import math

from rich.table import Table

from gptlab.compare.groups import Group
from gptlab.compare.stats import Summary


def fmt(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}f}" if math.isfinite(x) else "-"


def fmt_int(x: float) -> str:
    return f"{int(x):,}" if math.isfinite(x) else "-"


def interval(s: Summary) -> str:
    return f"[{fmt(s.low)}, {fmt(s.high)}]" if math.isfinite(s.ci95) else "-"


def header(knobs: list[str]) -> list[str]:
    return [
        *(knobs or ["runs"]),
        "n",
        "val bpb (mean)",
        "std",
        "95% interval",
        "val loss",
        "train loss",
        "steps",
        "tokens",
        "status",
        "budget",
    ]


def rows(groups: list[Group], knobs: list[str]) -> list[list[str]]:
    out = []
    for group in groups:
        bpb = group.stats["val_bpb"]
        steps = [run.budget("step") for run in group.runs]
        tokens = [run.budget("tokens") for run in group.runs]
        out.append(
            [
                *([group.knobs[k] for k in knobs] if knobs else [group.label]),
                str(bpb.n),
                fmt(bpb.mean),
                fmt(bpb.std),
                interval(bpb),
                fmt(group.stats["val_loss"].mean),
                fmt(group.stats["train_loss"].mean),
                "/".join(sorted({fmt_int(s) for s in steps})),
                "/".join(sorted({fmt_int(t) for t in tokens})),
                group.status,
                group.budget_note or "same",
            ]
        )
    return out


def rich_table(groups: list[Group], knobs: list[str], title: str) -> Table:
    table = Table(title=title)
    for name in header(knobs):
        table.add_column(name, justify="left" if name in knobs or name in ("runs", "status", "budget") else "right")
    for row in rows(groups, knobs):
        table.add_row(*row)
    return table
