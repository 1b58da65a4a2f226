"""The server tests use the models of the inference tests: a tiny trained gptlab run and a tiny HF Llama."""

from __future__ import annotations

from tests.inference.conftest import gptlab_run, hf_folder  # noqa: F401 - fixtures shared by name
