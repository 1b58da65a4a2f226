"""Every tokenizer, built through real Hydra composition, honours the declared special tokens."""

from __future__ import annotations

import numpy as np
import pytest

from gptlab import registry
from gptlab.config import resolve
from gptlab.errors import ConfigError
from gptlab.tokenizer import tokenizer_from_state
from gptlab.trainer import checkpoint
from tests.helpers import compose_config

SPECIALS = [
    "tokenizer.bos='<s>'",
    "tokenizer.eos='</s>'",
    "tokenizer.pad='<pad>'",
    "tokenizer.chat=['<|user|>','<|bot|>']",
]
TEXT = "The king and the queen. Ünïcode: 心\n"


def _fitted(option: str, extra: list[str]):
    typed = resolve(compose_config([f"tokenizer={option}", *extra, *SPECIALS]))
    return registry.build("tokenizer", typed["tokenizer"]).fit([TEXT * 20], [TEXT])


@pytest.fixture(params=["char", "byte", "bpe", "tiktoken", "hf"])
def tokenizer(request, tiktoken_file, hf_tokenizer_file):
    extra = {
        "bpe": ["tokenizer.vocab_size=300"],
        "tiktoken": [f"tokenizer.file={tiktoken_file}"],
        "hf": [f"tokenizer.path={hf_tokenizer_file}"],
    }.get(request.param, [])
    return _fitted(request.param, extra)


def test_special_tokens_are_honoured_everywhere(tokenizer):
    special = {token: tokenizer.special.ids[token] for token in ("<s>", "</s>", "<pad>", "<|user|>", "<|bot|>")}
    assert len(set(special.values())) == 5
    assert max(special.values()) < tokenizer.vocab_size
    assert (tokenizer.bos_id, tokenizer.eos_id, tokenizer.pad_id) == (special["<s>"], special["</s>"], special["<pad>"])
    text = f"<s><|user|>{TEXT}<|bot|>and the king</s>"
    ids = tokenizer.encode(text)
    assert ids.dtype == np.int64 and ids[0] == special["<s>"] and ids[-1] == special["</s>"]
    assert ids[1] == special["<|user|>"] and special["<|bot|>"] in ids.tolist()
    assert tokenizer.decode(ids.tolist()) == text
    lengths = tokenizer.token_byte_lengths()
    assert lengths.shape == (tokenizer.vocab_size,)
    assert all(lengths[i] == 0 for i in special.values())
    assert lengths[ids].sum() == len(text.encode("utf-8")) - sum(len(t) for t in ("<s>", "<|user|>", "<|bot|>", "</s>"))


def test_state_round_trip_through_a_checkpoint(tokenizer, tmp_path):
    checkpoint.save({"tokenizer": tokenizer.state()}, tmp_path / "last.pt")  # as the trainer saves it
    restored = tokenizer_from_state(checkpoint.load(tmp_path / "last.pt")["tokenizer"])  # as gptlab-sample loads it
    ids = tokenizer.encode(TEXT + "</s>")
    assert restored.vocab_size == tokenizer.vocab_size
    assert np.array_equal(restored.encode(TEXT + "</s>"), ids)
    assert restored.decode(ids.tolist()) == TEXT + "</s>"
    assert np.array_equal(restored.token_byte_lengths(), tokenizer.token_byte_lengths())


def test_bad_special_token_declarations():
    with pytest.raises(ConfigError, match="tokenizer.chat repeats"):
        resolve(compose_config(["tokenizer.chat=['</s>']", "tokenizer.eos='</s>'"]))
    with pytest.raises(ConfigError, match="empty string"):
        resolve(compose_config(["tokenizer.eos=''"]))
