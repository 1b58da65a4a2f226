"""Shared fixtures: an isolated token cache and wandb switched off unless a test says otherwise.

``make test`` runs the suite on two workers (pytest-xdist): each worker and the processes its tests
start use one thread, and the tests marked ``slow`` are handed out first, so the workers end together.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from gptlab.config import prepare_registry


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the workers share the cores: one thread each
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import torch

        torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """The slow end-to-end tests first (a stable sort keeps the rest in file order)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GPTLAB_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path_factory.getbasetemp() / "hf-datasets"))
    monkeypatch.delenv(
        "GPTLAB_PLUGINS",
        raising=False,
    )


@pytest.fixture(scope="session", autouse=True)
def _registry():
    prepare_registry()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A run dir of a tiny model trained 6 steps on Macbeth by the real ``gptlab-train`` (its console function,
    in this process: tests/helpers.py train_in_process) (shared: read it, never write)."""
    from tests.helpers import MACBETH, TINY, train_in_process

    run = tmp_path_factory.mktemp("tiny-run") / "run"
    env = {"GPTLAB_CACHE_DIR": str(tmp_path_factory.getbasetemp() / "cache"), "WANDB_MODE": "disabled"}
    args = [*TINY, *MACBETH, "trainer.max_steps=6", "trainer.eval_every=6", "trainer.samples=0", f"hydra.run.dir={run}"]
    result = train_in_process(args, cwd=run.parent, env=env)
    assert result.returncode == 0, result.stderr
    return run


@pytest.fixture
def text_file(tmp_path) -> Path:
    """A small UTF-8 text file made from the bundled plays (no download)."""
    from gptlab.data.shakespeare import markdown_to_text, play_files

    path = tmp_path / "corpus.txt"
    path.write_text(markdown_to_text(play_files()["macbeth"].read_text("utf-8")), encoding="utf-8")
    return path


@pytest.fixture
def jsonl_file(tmp_path) -> Path:
    """30 documents of equal length in the field 'text', one per line."""
    path = tmp_path / "docs.jsonl"
    path.write_text(
        "".join(json.dumps({"text": f"Document {i:02d}: the cat sat on the mat.", "id": i}) + "\n" for i in range(30))
    )
    return path


@pytest.fixture
def qa_file(tmp_path) -> Path:
    """30 question/answer pairs as a JSON list."""
    path = tmp_path / "qa.json"
    pairs = [{"question": f"What is {i:02d} plus one?", "answer": f"It is {i + 1:02d}."} for i in range(30)]
    path.write_text(json.dumps(pairs))
    return path


MERGES = [b"th", b"he", b"the", b" the", b"an", b"and", b" and"]


@pytest.fixture
def tiktoken_file(tmp_path):
    """A byte-level ranks file in tiktoken's format: the 256 bytes plus a few merges."""
    ranks = [bytes([i]) for i in range(256)] + MERGES
    path = tmp_path / "small.tiktoken"
    path.write_text("".join(f"{base64.b64encode(t).decode()} {rank}\n" for rank, t in enumerate(ranks)))
    return path


@pytest.fixture
def hf_tokenizer_file(tmp_path, text_file):
    """A byte-level BPE tokenizer.json trained by the tokenizers package on a small text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator([text_file.read_text("utf-8")], trainer)
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    return path
