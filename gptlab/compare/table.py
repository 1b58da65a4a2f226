"""The comparison table as plain rows (shared by the console, the HTML report, CSV and Markdown) and as a
rich table whose columns fold long values instead of cutting them."""

from __future__ import annotations

import csv
import io
import math

from rich.table import Table

from gptlab.compare.groups import Group
from gptlab.compare.stats import Summary

FORMATS = ("table", "csv", "markdown")


def fmt(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}f}" if math.isfinite(x) else "-"


def fmt_int(x: float) -> str:
    return f"{int(x):,}" if math.isfinite(x) else "-"


def interval(s: Summary) -> str:
    return f"[{fmt(s.low)}, {fmt(s.high)}]" if math.isfinite(s.ci95) else "-"


def header(knobs: list[str], aligned: bool = False) -> list[str]:
    """Column names; ``aligned``: the steps and tokens columns give where each run was read."""
    return [
        *(knobs or ["runs"]),
        "n",
        "val bpb (mean)",
        "std",
        "95% interval",
        "val loss",
        "train loss",
        "steps read" if aligned else "steps",
        "tokens read" if aligned else "tokens",
        "status",
        "budget",
    ]


def rows(groups: list[Group], knobs: list[str]) -> list[list[str]]:
    out = []
    for group in groups:
        bpb = group.stats["val_bpb"]
        steps = group.read_at.get("step") or [run.budget("step") for run in group.runs]
        tokens = group.read_at.get("tokens") or [run.budget("tokens") for run in group.runs]
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


def rich_table(header: list[str], rows: list[list[str]], knobs: list[str], title: str) -> Table:
    table = Table(title=title)
    for name in header:
        left = name in knobs or name in ("runs", "status", "budget")
        table.add_column(name, justify="left" if left else "right", overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def as_csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def as_markdown(header: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(row) for row in rows)]) + "\n"
