"""Hostile and damaged checkpoints: a pickle that would run code, a truncated file, random bytes,
a zip that is no torch archive. Each is refused with one clear error and nothing in it runs."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import pytest
import torch

import gptlab
from gptlab.errors import GptlabError
from gptlab.trainer import checkpoint
from tests.helpers import run_cli


class RunsCode:
    """Unpickling this calls os.system: what a hostile checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def hostile_torch_file(path: Path, marker: Path) -> None:
    """A real torch.save archive whose pickle runs a shell command when loaded without weights_only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"step": 1, "model": {"w": torch.ones(2)}, "payload": RunsCode(marker)}, path)


def hostile_plain_pickle(path: Path, marker: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(RunsCode(marker)))


def truncated(path: Path, marker: Path) -> None:
    checkpoint.save({"step": 1, "w": torch.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def random_bytes(path: Path, marker: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(4096))


def empty(path: Path, marker: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def foreign_zip(path: Path, marker: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.pkl", b"not a pickle")
    path.write_bytes(buffer.getvalue())


BAD_FILES = [hostile_torch_file, hostile_plain_pickle, truncated, random_bytes, empty, foreign_zip]


@pytest.mark.parametrize("make", BAD_FILES)
def test_a_bad_checkpoint_is_refused_and_runs_nothing(tmp_path, make):
    marker = tmp_path / "pwned"
    path = checkpoint.checkpoint_path(tmp_path / "run", checkpoint.BEST)
    make(path, marker)
    with pytest.raises(GptlabError, match="cannot be read") as caught:
        checkpoint.load(path)
    assert str(path) in str(caught.value)
    with pytest.raises(GptlabError):
        gptlab.load(tmp_path / "run")
    assert not marker.exists(), "the payload never ran"


@pytest.mark.parametrize("make", [hostile_torch_file, truncated])
def test_gptlab_sample_refuses_it_with_exit_2_and_one_paragraph(tmp_path, make):
    marker = tmp_path / "pwned"
    make(checkpoint.checkpoint_path(tmp_path / "run", checkpoint.BEST), marker)
    result = run_cli("gptlab.sample", [str(tmp_path / "run")], tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "error:" in result.stderr and "best.pt" in result.stderr
    assert not marker.exists()
