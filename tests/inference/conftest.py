"""Fixtures of the inference tests: one torch thread (as the model tests), a tiny trained run, a tiny HF model."""

from __future__ import annotations

import pytest

from tests.model.conftest import _one_thread  # noqa: F401 - autouse fixture shared by name


@pytest.fixture(scope="session")
def gptlab_run(tmp_path_factory):
    """A tiny gptlab run trained for a few steps, with the chat template's tokens declared; its run dir."""
    from tests.helpers import MACBETH, REPO, TINY, train_in_process

    run_dir = tmp_path_factory.mktemp("runs") / "tiny-chat"
    done = train_in_process(
        [
            *TINY,
            *MACBETH,
            "tokenizer=byte",
            "tokenizer.chat_template.declare=true",
            "trainer.max_steps=10",
            "trainer.eval_every=10",
            "trainer.samples=0",
            f"hydra.run.dir={run_dir}",
        ],
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    return run_dir


@pytest.fixture(scope="session")
def hf_folder(tmp_path_factory):
    """A tiny random Llama with a chat template, saved like a Hugging Face model folder."""
    from tests.inference.hf_tiny import save_tiny_llama

    return save_tiny_llama(tmp_path_factory.mktemp("hf") / "tiny-llama", chat_template=True)
