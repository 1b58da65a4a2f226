"""gptlab/hf/tokenizer.py: every gptlab tokenizer becomes a tokenizer.json that encodes and decodes exactly as it does."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer

from gptlab.hf.tokenizer import GPTLAB_STATE_FILE, NOTE_FILE, byte_characters, tokenizer_json, write_tokenizer
from gptlab.registry import build
from tests.hf.conftest import EOS, TEXT

CHAT = ["<|user|>", "<|assistant|>"]
SAMPLE = TEXT + " <|user|>Ünïcødé — naïve café ☃ 'tis\n\n  spaces   and\ttabs<|assistant|> 12345 don't"


@pytest.fixture
def corpus(text_file) -> list[str]:
    return [text_file.read_text("utf-8") + " Ünïcødé — naïve café ☃ 12345 \t"]


def fitted(cfg: dict, corpus: list[str]):
    return build("tokenizer", {"eos": EOS, "chat": CHAT, **cfg}).fit(corpus, [])


def test_byte_characters_are_gpt2s_table():
    from tokenizers import pre_tokenizers

    table = byte_characters()
    assert len(set(table)) == 256 and set(table) == set(pre_tokenizers.ByteLevel.alphabet())
    assert table[ord("A")] == "A" and table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ"


@pytest.mark.parametrize(
    "cfg",
    [
        {"name": "bpe", "vocab_size": 400},
        {"name": "bpe", "vocab_size": 300, "pattern": r"\s?\w+|\s?[^\w\s]+|\s+"},
        {"name": "byte"},
        {"name": "char"},
    ],
    ids=["bpe (GPT-4 pattern)", "bpe (own pattern)", "byte", "char"],
)
def test_tokenizer_json_encodes_and_decodes_as_gptlab(cfg, corpus):
    tokenizer = fitted(cfg, corpus)
    backend = Tokenizer.from_str(tokenizer_json(tokenizer))
    sample = SAMPLE if cfg["name"] != "char" else "".join(c for c in SAMPLE if c in tokenizer.chars or c in "<|>")
    ids = backend.encode(sample).ids
    assert ids == tokenizer.encode(sample).tolist()
    assert backend.decode(ids, skip_special_tokens=False) == tokenizer.decode(ids) == sample
    assert backend.get_vocab_size(with_added_tokens=True) == tokenizer.vocab_size


def test_tiktoken_ranks_file_becomes_an_equal_tokenizer_json(tiktoken_file):
    tokenizer = build("tokenizer", {"name": "tiktoken", "encoding": "gpt2", "file": str(tiktoken_file)}).fit()
    backend = Tokenizer.from_str(tokenizer_json(tokenizer))
    text = "the band and then theatre <|endoftext|> and the end"
    assert backend.encode(text).ids == tokenizer.encode(text).tolist()
    assert backend.get_vocab_size(with_added_tokens=True) == tokenizer.vocab_size == 50257  # reserved ids fill the gap


def test_hf_tokenizer_keeps_its_json_and_gains_gptlabs_special_tokens(hf_tokenizer_file):
    tokenizer = build("tokenizer", {"name": "hf", "path": str(hf_tokenizer_file), "chat": CHAT}).fit()
    backend = Tokenizer.from_str(tokenizer_json(tokenizer))
    assert backend.encode(SAMPLE).ids == tokenizer.encode(SAMPLE).tolist()
    assert backend.token_to_id("<|assistant|>") == tokenizer.special.ids["<|assistant|>"]


def test_written_tokenizer_loads_in_transformers(tmp_path, corpus):
    from transformers import AutoTokenizer

    tokenizer = fitted({"name": "bpe", "vocab_size": 400, "bos": "<|bos|>"}, corpus)
    write_tokenizer(tokenizer, tmp_path, max_length=64)
    hf = AutoTokenizer.from_pretrained(tmp_path)
    assert hf(SAMPLE, add_special_tokens=False)["input_ids"] == tokenizer.encode(SAMPLE).tolist()
    assert (hf.bos_token, hf.eos_token, hf.model_max_length) == ("<|bos|>", EOS, 64)
    assert (tmp_path / GPTLAB_STATE_FILE).is_file()
    assert "start with `<|bos|>`" in (tmp_path / NOTE_FILE).read_text()


def test_chat_template_renders_in_transformers_as_gptlab_renders(tmp_path, corpus):
    from transformers import AutoTokenizer

    from gptlab.tokenizer.chat import ChatTemplate

    tokenizer = fitted({"name": "bpe", "vocab_size": 400, "chat_template": {"declare": True}}, corpus)
    write_tokenizer(tokenizer, tmp_path, max_length=64)
    messages = [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Who knocks?"},
        {"role": "assistant", "content": "Macduff."},
        {"role": "user", "content": 'Say "why"'},
    ]
    hf = AutoTokenizer.from_pretrained(tmp_path)
    expected = ChatTemplate.from_tokenizer(tokenizer).render(messages, add_generation_prompt=True)
    assert hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == expected
    ids = hf.apply_chat_template(messages, tokenize=True, add_generation_prompt=True, return_dict=False)
    assert list(ids) == tokenizer.encode(expected).tolist()


def test_no_chat_template_without_chat_tokens(tmp_path, corpus):
    import json

    write_tokenizer(fitted({"name": "byte"}, corpus), tmp_path, max_length=64)
    assert "chat_template" not in json.loads((tmp_path / "tokenizer_config.json").read_text())
