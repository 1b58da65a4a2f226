"""gptlab/inference/backends: a Hugging Face folder through transformers, and clear errors for bad input."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from gptlab.errors import GptlabError
from gptlab.inference.backends import open_backend
from gptlab.inference.engine import PromptTooLong, collect
from gptlab.inference.sampling import SamplingParams


def test_gptlab_run_chats_in_its_template_and_stops_at_its_end_token(gptlab_run):
    backend = open_backend(str(gptlab_run))
    assert (backend.kind, backend.context) == ("gptlab", 32)
    assert backend.render([{"role": "user", "content": "hi"}]) == "<|user|>hi<|end|><|assistant|>"
    end = backend.tokenizer.special.ids["<|end|>"]
    assert end in backend.engine.end_ids
    chat = collect(backend.chat([{"role": "user", "content": "hi"}], SamplingParams(max_tokens=8, n=2, seed=0)))
    assert chat.prompt_tokens == len(backend.tokenizer.encode("<|user|>hi<|end|><|assistant|>")) == 5
    assert len(chat.texts) == 2 and all("<|end|>" not in t for t in chat.texts)
    kept, dropped = backend.fit([{"role": "user", "content": "x" * 20}] * 3, max_tokens=8)
    assert (len(kept), dropped) == (1, 2)  # 32 tokens of context, 16 kept for the reply at most


def test_a_base_run_without_role_tokens_chats_as_a_transcript(tiny_run):
    """The default char-level run never saw the template's <|...|> tokens: chat falls back to a play-like
    transcript in characters it knows, and stops at the blank line that ends a speech."""
    backend = open_backend(str(tiny_run))
    assert backend.render([{"role": "user", "content": "Who?"}]) == "USER:\nWho?\n\nASSISTANT:\n"
    chat = collect(backend.chat([{"role": "user", "content": "Who?"}], SamplingParams(max_tokens=30, seed=0)))
    assert len(chat.texts) == 1 and "\n\n" not in chat.texts[0] and chat.completion_tokens <= 30


def test_a_checkpoint_without_tokenizer_is_named(gptlab_run, tmp_path):
    import torch

    state = torch.load(gptlab_run / "checkpoints" / "best.pt", weights_only=True)
    del state["tokenizer"]
    torch.save(state, tmp_path / "model.pt")
    with pytest.raises(GptlabError, match="holds no tokenizer"):
        open_backend(str(tmp_path / "model.pt"))


def test_a_folder_without_checkpoint_is_named(tmp_path):
    with pytest.raises(GptlabError, match="has no checkpoint"):
        open_backend(str(tmp_path))


def test_hf_folder_completes_and_chats_with_counts(hf_folder):
    backend = open_backend(str(hf_folder))
    assert (backend.kind, backend.name, backend.context) == ("hf", "tiny-llama", 64)
    greedy = SamplingParams(max_tokens=6, temperature=0, stop_at_eos=False)
    first, again = collect(backend.complete("To be", greedy)), collect(backend.complete("To be", greedy))
    assert first.texts == again.texts and first.completion_tokens == 6 and first.finish_reasons == ["length"]
    assert first.prompt_tokens == len(backend.tokenizer.encode("To be", add_special_tokens=False))
    chat = collect(backend.chat([{"role": "user", "content": "hi"}], SamplingParams(max_tokens=5, n=3, seed=1)))
    assert len(chat.texts) == 3 and 3 <= chat.completion_tokens <= 15


def test_hf_prompt_longer_than_context_is_refused(hf_folder):
    backend = open_backend(str(hf_folder))
    with pytest.raises(PromptTooLong, match="context holds 64"):
        backend.complete("To be, or not " * 40, SamplingParams(max_tokens=1))


def test_hf_generation_past_the_context_slides(hf_folder):
    backend = open_backend(str(hf_folder))
    result = collect(backend.complete("To be", SamplingParams(max_tokens=100, stop_at_eos=False, seed=0)))
    assert result.completion_tokens == 100


def test_a_folder_that_is_not_a_causal_lm_is_named(tmp_path):
    from transformers import ViTConfig

    ViTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=1).save_pretrained(tmp_path)
    with pytest.raises(GptlabError, match="not a causal language model"):
        open_backend(str(tmp_path))


def test_an_unknown_path_lists_what_a_model_can_be(tmp_path):
    with pytest.raises(GptlabError, match="does not exist.*run dir.*config.json.*http"):
        open_backend(str(tmp_path / "nowhere"))


def test_an_unreachable_endpoint_fails_at_once_with_a_message():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(GptlabError, match=f"Cannot reach http://127.0.0.1:{port}/v1/models.*running"):
        open_backend(f"http://127.0.0.1:{port}/v1", timeout=2)


def test_an_endpoint_that_never_answers_times_out():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections, never answers
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    start = time.monotonic()
    try:
        with pytest.raises(GptlabError, match="did not answer in time"):
            open_backend(f"http://127.0.0.1:{silent.getsockname()[1]}/v1", timeout=0.5)
    finally:
        silent.close()
    assert time.monotonic() - start < 30  # a timeout, not a hang


def test_a_missing_api_key_variable_is_named(monkeypatch):
    monkeypatch.delenv("GPTLAB_TEST_KEY", raising=False)
    with pytest.raises(GptlabError, match="GPTLAB_TEST_KEY"):
        open_backend("http://127.0.0.1:9/v1", api_key_env="GPTLAB_TEST_KEY")
