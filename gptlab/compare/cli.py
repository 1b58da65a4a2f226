"""``gptlab-compare``: which knob value is better, and by how much.

    gptlab-compare outputs/multirun/2026-01-01/12-00-00
    gptlab-compare outputs/run-a outputs/run-b --align tokens --out reports/ab

Prints the table (groups of runs that share the swept knobs, seeds aggregated; ``--format``
table, csv or markdown), writes ``<metric>_vs_<axis>.png`` curves, ``report.html``, ``table.csv``
and ``table.md`` into ``--out`` (default: ``compare/`` inside the first path). Printed to a file or
a pipe the table keeps its full width: no value is ever cut.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from gptlab.compare import table
from gptlab.compare.groups import ALIGN, Group, aggregate, flag_budgets, group_runs, swept_knobs
from gptlab.compare.html import write_report
from gptlab.compare.runs import find_runs
from gptlab.console import output_console
from gptlab.errors import GptlabError, reported

REPORT_FILE, CSV_FILE, MARKDOWN_FILE = "report.html", "table.csv", "table.md"


@dataclass
class Comparison:
    knobs: list[str]
    groups: list[Group]
    notes: list[str]
    images: list[Path]
    report: Path


def compare(
    paths: list[Path], out: Path, align: str = "none", console: Console | None = None, fmt: str = "table"
) -> Comparison:
    """Read, group, aggregate, print (as ``fmt``: table, csv or markdown), plot and write the report."""
    if fmt not in table.FORMATS:
        raise GptlabError(f"--format {fmt!r} is not one of {', '.join(table.FORMATS)}.")
    console = console or output_console()
    notes_console = console if fmt == "table" else output_console(stderr=True)  # keep csv/markdown output clean
    runs = find_runs(paths)
    knobs = swept_knobs(runs)
    groups = group_runs(runs, knobs)
    notes = flag_budgets(groups)
    budget = aggregate(groups, align)
    running = [run.name for run in runs if run.status != "done"]
    if running:
        notes.append(f"not finished (read as far as logged): {', '.join(running)}")
    where = f"read at {align}={budget:,.0f} (the largest all runs reached)" if budget is not None else "final values"
    title = f"{len(runs)} runs in {len(groups)} groups, swept: {', '.join(knobs) or 'nothing'}"
    header, rows = table.header(knobs, aligned=budget is not None), table.rows(groups, knobs)
    if fmt == "table":
        console.print(table.rich_table(header, rows, knobs, f"{title} ({where})"))
    else:
        text = table.as_csv(header, rows) if fmt == "csv" else table.as_markdown(header, rows)
        console.out(text, end="", highlight=False)
    from gptlab.compare.curves import plot_curves  # matplotlib: not needed for --help or a bad argument

    images, plot_notes = plot_curves(groups, out)
    notes += plot_notes
    for note in notes:
        notes_console.print(f"[yellow]note:[/] {note}")
    page = write_report(
        out / REPORT_FILE,
        "gptlab comparison",
        f"{title}; {where}; sources: {', '.join(str(p) for p in paths)}",
        header,
        rows,
        images,
        notes,
    )
    (out / CSV_FILE).write_text(table.as_csv(header, rows), encoding="utf-8")
    (out / MARKDOWN_FILE).write_text(f"{title} ({where})\n\n{table.as_markdown(header, rows)}", encoding="utf-8")
    notes_console.print(f"report: {page}, {CSV_FILE}, {MARKDOWN_FILE}  ({len(images)} plots in {out})")
    return Comparison(knobs, groups, notes, images, page)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gptlab-compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="a multirun dir, or several run dirs")
    parser.add_argument("--out", type=Path, help="where the PNGs and report.html go (default: <first path>/compare)")
    parser.add_argument(
        "--align", choices=ALIGN, default="none", help="read every run at the same step/tokens/FLOPs budget"
    )
    parser.add_argument(
        "--format", choices=table.FORMATS, default="table", help="how the table is printed (all are also written)"
    )
    args = parser.parse_args(argv)
    with reported():
        compare(args.paths, args.out or args.paths[0] / "compare", args.align, fmt=args.format)


if __name__ == "__main__":
    main()
