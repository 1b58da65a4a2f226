"""``gptlab-compare`` on a real tiny sweep: the table's numbers come from the metrics files."""

from __future__ import annotations

import math
import statistics

import pytest
import yaml
from rich.console import Console

from gptlab.compare.cli import compare
from gptlab.compare.stats import t_quantile
from gptlab.errors import DataError
from gptlab.logger.jsonl import read_metrics
from tests.compare.conftest import LRS, SEEDS
from tests.helpers import MACBETH, TINY, run_in_process, train_in_process

pytestmark = pytest.mark.slow


def final_bpb_by_lr(sweep) -> dict[float, list[float]]:
    """Straight from the files: each job's lr (resolved config) and its last val_bpb."""
    by_lr: dict[float, list[float]] = {}
    for job in sorted(p for p in sweep.iterdir() if p.name.isdigit()):
        lr = yaml.safe_load((job / ".hydra" / "config.yaml").read_text())["optimizer"]["lr"]
        last = [r["val_bpb"] for r in read_metrics(job / "metrics.jsonl") if "val_bpb" in r][-1]
        by_lr.setdefault(lr, []).append(last)
    return by_lr


def test_table_matches_metrics_files(tiny_sweep, tmp_path):
    console = Console(record=True, width=200)
    result = compare([tiny_sweep], tmp_path / "out", console=console)
    assert result.knobs == ["optimizer.lr"]  # seed is aggregated, not a knob
    expected = final_bpb_by_lr(tiny_sweep)
    assert sorted(expected) == sorted(float(lr) for lr in LRS)
    means = []
    for group in result.groups:
        values = expected[float(group.knobs["optimizer.lr"])]
        bpb = group.stats["val_bpb"]
        assert bpb.n == len(SEEDS) == len(values)
        assert bpb.mean == pytest.approx(statistics.mean(values), rel=1e-12)
        assert bpb.std == pytest.approx(statistics.stdev(values), rel=1e-9)
        assert bpb.ci95 == pytest.approx(t_quantile(0.975, 1) * statistics.stdev(values) / math.sqrt(2), rel=1e-9)
        assert group.status == "done" and not group.budget_note
        means.append(bpb.mean)
    assert means == sorted(means)  # best first
    text = console.export_text()
    for group in result.groups:
        assert f"{group.stats['val_bpb'].mean:.4f}" in text
    # PNGs against steps, tokens, training FLOPs (the runs log cumulative FLOPs) and train time
    names = sorted(p.name for p in result.images)
    assert names == sorted(
        f"{m}_vs_{a}.png" for m in ("val_loss", "train_loss") for a in ("step", "tokens", "flops", "train_time_s")
    )
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in result.images)
    assert not any("FLOPs" in note for note in result.notes)
    html = result.report.read_text()
    assert html.count("data:image/png;base64,") == 8 and "<table" in html and 'src="http' not in html
    # the runs log cumulative FLOPs; at equal model size aligning by FLOPs reads the same final point
    by_flops = compare([tiny_sweep], tmp_path / "flops", align="flops", console=Console(record=True))
    assert [g.stats["val_bpb"].mean for g in by_flops.groups] == pytest.approx(means)


def test_unfinished_run_and_different_budget_are_flagged(tiny_sweep, tmp_path):
    stopped = tmp_path / "stopped"
    args = [*TINY, *MACBETH, "trainer.max_steps=20", "trainer.eval_every=10", "trainer.stop_at_step=10"]
    result = train_in_process([*args, "optimizer.lr=3e-3", "seed=0", f"hydra.run.dir={stopped}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = compare([tiny_sweep, stopped], tmp_path / "out", align="tokens", console=Console(record=True, width=200))
    runs = {run.path: run for group in out.groups for run in group.runs}
    assert runs[stopped].status == "running"
    assert any("not finished" in note and "stopped" in note for note in out.notes)
    flagged = [g for g in out.groups if g.budget_note]
    assert flagged and all(stopped in [r.path for r in g.runs] for g in flagged)
    # aligned by tokens: every run is read at the 10-step budget the stopped run reached
    first_eval = {
        run.path: [r["val_bpb"] for r in read_metrics(run.path / "metrics.jsonl") if "val_bpb" in r][0]
        for run in runs.values()
    }
    for group in out.groups:
        assert group.stats["val_bpb"].mean == pytest.approx(statistics.mean(first_eval[r.path] for r in group.runs))


def test_console_script_reports_bad_paths(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_in_process("gptlab.compare.cli", [str(empty)], cwd=tmp_path)
    assert result.returncode == 2 and "holds no run dirs" in result.stderr
    with pytest.raises(DataError, match="not a folder"):
        compare([tmp_path / "missing"], tmp_path / "out")
