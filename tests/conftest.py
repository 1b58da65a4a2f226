"""Shared fixtures: an isolated token cache and wandb switched off unless a test says otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from gptlab.config import prepare_registry


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GPTLAB_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.delenv(
        "GPTLAB_PLUGINS",
        raising=False,
    )


@pytest.fixture(scope="session", autouse=True)
def _registry():
    prepare_registry()


@pytest.fixture
def text_file(tmp_path) -> Path:
    """A small UTF-8 text file made from the bundled plays (no download)."""
    from gptlab.data.shakespeare import markdown_to_text, play_files

    path = tmp_path / "corpus.txt"
    path.write_text(markdown_to_text(play_files()["macbeth"].read_text("utf-8")), encoding="utf-8")
    return path
