"""A tiny pretrained run shared by the fine-tuning tests (pretrained once per session)."""

from __future__ import annotations

import json

import pytest

from gptlab.config import compose_config
from gptlab.train import train
from tests.finetune.helpers import FACTS, QUICK, TINY_BASE, one_thread


@pytest.fixture(scope="session")
def qa_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "facts.json"
    path.write_text(json.dumps([{"question": q, "answer": a} for q, a in FACTS]))
    return path


@pytest.fixture(scope="session")
def base_run(tmp_path_factory, qa_path):
    """A tiny char-level model pretrained briefly on the facts as plain text ("Q: ...\\nA: ...")."""
    run_dir = tmp_path_factory.mktemp("base")
    cache = tmp_path_factory.getbasetemp() / "cache"
    overrides = ["data=qa", f"data.path={qa_path}", "data.val_fraction=0.2", f"cache_dir={cache}", *TINY_BASE, *QUICK]
    steps = ["trainer.max_steps=20", "trainer.eval_every=20", "trainer.batch_size=8", "trainer.eval_batches=1"]
    one_thread(train, compose_config([*overrides, *steps]), run_dir)
    return run_dir
