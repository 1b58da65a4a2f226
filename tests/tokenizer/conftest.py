"""Small tokenizer files the tests write themselves: a .tiktoken ranks file and a tokenizer.json."""

from __future__ import annotations

import base64

import pytest

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
