"""Training progress written to a file or a pipe: one whole line per log step, nothing wrapped."""

from __future__ import annotations

from gptlab.trainer.progress import TrainingProgress


def test_piped_progress_is_one_line_per_log_step(capsys):
    with TrainingProgress(total_steps=300, start_step=0) as progress:  # capsys: not a terminal
        for step in (10, 20, 30):
            progress.update(step, loss=4.123456789, speed="123,457 tok/s | 12.3 ms/step")
        progress.print("step    300/300 | " + " | ".join(f"metric_{i} {i * 1.23456:.4f}" for i in range(20)))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert all(line.startswith("step ") for line in lines)
    assert "loss 4.1235" in lines[0] and "123,457 tok/s" in lines[0] and "ETA" in lines[0]
    assert lines[3].endswith("metric_19 23.4566"), "a long line is never wrapped"


def test_no_lines_when_progress_is_off(capsys):
    with TrainingProgress(total_steps=10, start_step=0, enabled=False) as progress:
        progress.update(5, loss=1.0, speed="1 tok/s")
    assert capsys.readouterr().out == ""
