"""GPU-only tests (``make test-gpu``): skipped where torch sees no CUDA GPU."""

from __future__ import annotations

import random

import pytest
import torch

WORDS = "the of and to in a is that for it as was with be by on not he this are or his from at which but have".split()


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (make test-gpu on a GPU machine)")
    for item in items:
        if "tests/gpu/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _restore_tf32():
    """Training turns TF32 on for the whole process (trainer.tf32): give later tests float32 back."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A 300 kB text of common words in random order with line breaks: learnable, no download."""
    rng = random.Random(0)
    lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))) for _ in range(12000)]
    path = tmp_path_factory.mktemp("corpus") / "words.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
