"""Models for the server tests: a tiny Hugging Face Llama saved to a temp dir (and a tiny trained gptlab run)."""

from __future__ import annotations

import pytest

from tests.inference.hf_tiny import save_tiny_llama


@pytest.fixture(scope="session")
def hf_folder(tmp_path_factory):
    return save_tiny_llama(tmp_path_factory.mktemp("hf") / "tiny-llama", chat_template=True)
