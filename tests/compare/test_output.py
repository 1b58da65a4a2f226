"""``gptlab-compare`` read through a pipe: full values, CSV and Markdown, aligned read points, markers."""

from __future__ import annotations

import csv
import io

import matplotlib.pyplot as plt
import pytest
from rich.console import Console

from gptlab.compare.cli import compare
from gptlab.compare.curves import draw_group
from tests.helpers import MACBETH, TINY, run_cli, run_in_process, train_in_process

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def one_eval_run(tmp_path_factory):
    """A 10-step run evaluated once (at its end): shorter than the sweep's 20 steps."""
    root = tmp_path_factory.mktemp("one_eval")
    args = [*TINY, *MACBETH, "trainer.max_steps=10", "trainer.eval_every=10", "trainer.samples=0"]
    result = train_in_process([*args, "optimizer.lr=3e-3", f"hydra.run.dir={root / 'run'}"], cwd=root)
    assert result.returncode == 0, result.stderr
    return root / "run"


def test_piped_table_keeps_every_value_whole(tiny_sweep, tmp_path):
    result = run_cli("gptlab.compare.cli", [str(tiny_sweep), "--out", str(tmp_path / "out")], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout and "val bpb (mean)" in result.stdout and "95% interval" in result.stdout
    table_lines = [line for line in result.stdout.splitlines() if "│" in line]
    assert any("0.003" in line or "3e-3" in line for line in table_lines), "the swept value is shown whole"
    for name in ("report.html", "table.csv", "table.md"):
        assert (tmp_path / "out" / name).exists()


def test_csv_and_markdown_formats(tiny_sweep, tmp_path):
    args = [str(tiny_sweep), "--format", "csv", "--out", str(tmp_path / "a")]
    as_csv = run_in_process("gptlab.compare.cli", args, tmp_path)  # the piped table: a subprocess, above
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert rows[0][:3] == ["optimizer.lr", "n", "val bpb (mean)"] and len(rows) == 3, "header + one row per lr"
    assert all(row[1] == "2" and float(row[2]) > 0 for row in rows[1:])
    assert "report:" in as_csv.stderr, "notes and the report line go to stderr, the CSV alone to stdout"
    assert (tmp_path / "a" / "table.csv").read_text() == as_csv.stdout
    markdown = run_in_process(
        "gptlab.compare.cli", [str(tiny_sweep), "--format", "markdown", "--out", str(tmp_path / "b")], tmp_path
    )
    lines = markdown.stdout.splitlines()
    assert lines[0].startswith("| optimizer.lr | n | val bpb (mean) |") and set(lines[1]) <= set("|- ")
    assert len(lines) == 4


def test_aligned_table_shows_where_it_read(tiny_sweep, one_eval_run, tmp_path):
    console = Console(record=True, width=300)
    result = compare([tiny_sweep, one_eval_run], tmp_path / "out", align="tokens", console=console)
    text = console.export_text()
    assert "steps read" in text and "tokens read" in text
    assert {step for group in result.groups for step in group.read_at["step"]} == {10.0}, "all read at 10 steps"
    assert len({tokens for group in result.groups for tokens in group.read_at["tokens"]}) == 1
    csv_rows = list(csv.reader((tmp_path / "out" / "table.csv").open()))
    steps_column = csv_rows[0].index("steps read")
    assert {row[steps_column] for row in csv_rows[1:]} == {"10"}


def test_a_curve_with_one_evaluation_draws_a_marker(one_eval_run, tmp_path):
    result = compare([one_eval_run], tmp_path / "out", console=Console(record=True))
    fig, ax = plt.subplots()
    line = draw_group(ax, result.groups[0], "val_loss", "step")
    assert line is not None and len(line.get_xdata()) == 1 and line.get_marker() == "o"
    plt.close(fig)
