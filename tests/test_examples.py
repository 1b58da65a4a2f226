"""The runnable examples under experiments/ run as the README shows them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import REPO


@pytest.mark.slow
def test_python_api_example_trains_loads_and_samples(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        [sys.executable, str(REPO / "experiments" / "python_api.py"), str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("trained: val loss") for line in lines)
    assert any(line.startswith("loaded: 1 layer(s) x 48") for line in lines)
    sample = next(line for line in lines if line.startswith("sample: "))
    assert sample.startswith("sample: 'MACBETH:\\n") and len(sample) > 50
    assert (tmp_path / "run" / "checkpoints" / "best.pt").exists()
