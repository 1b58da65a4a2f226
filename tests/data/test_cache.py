import numpy as np
import pytest

from gptlab.data.cache import token_dtype
from gptlab.data.prepare import load_or_build
from gptlab.data.text import TextConfig, TextFiles
from gptlab.errors import DataError
from gptlab.tokenizer.char import CharTokenizer, CharTokenizerConfig


def _load(path, cache_dir, tokenizer_cfg=None, **data):
    cfg = tokenizer_cfg or CharTokenizerConfig()
    return load_or_build(TextFiles(TextConfig(path=str(path), **data)), CharTokenizer(cfg), cfg, cache_dir)


def test_tokens_round_trip_and_split_like_nanogpt(tmp_path):
    text = "".join(chr(ord("a") + i % 26) for i in range(1000)) + "é"
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    splits = _load(tmp_path / "a.txt", tmp_path / "cache")
    (train,), (val,) = splits.train, splits.val
    assert isinstance(train.tokens, np.memmap) and train.tokens.dtype == np.uint16
    assert len(train.tokens) == 900 + 1 and len(val.tokens) == 101 + 1, "each split is one document + EOS"
    eos = splits.tokenizer.eos_id
    assert train.tokens[-1] == eos and val.tokens[-1] == eos and train.doc_starts.tolist() == [0]
    decoded = splits.tokenizer.decode(train.tokens.tolist() + val.tokens.tolist())
    assert decoded == text[:900] + "<|endoftext|>" + text[900:] + "<|endoftext|>"


def test_cache_is_reused_until_source_or_tokenizer_changes(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("hello world " * 50, encoding="utf-8")
    first = _load(path, tmp_path / "cache")
    assert _load(path, tmp_path / "cache").directory == first.directory
    path.write_text("hello there " * 50, encoding="utf-8")
    changed_text = _load(path, tmp_path / "cache")
    assert changed_text.directory != first.directory
    assert "t" in changed_text.tokenizer.chars and "t" not in first.tokenizer.chars
    other = CharTokenizerConfig(bos="<s>")
    assert _load(path, tmp_path / "cache", other).directory != changed_text.directory
    assert _load(path, tmp_path / "cache", max_doc_tokens=10).directory != changed_text.directory
    assert _load(path, tmp_path / "cache", doc_mask=True).directory == changed_text.directory, "a loader key"
    assert len(list((tmp_path / "cache" / "tokens").iterdir())) == 4, "no staging folders are left behind"


def test_max_doc_tokens_cuts_each_document(tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.txt").write_text(name * 200, encoding="utf-8")
    splits = _load(tmp_path / "*.txt", tmp_path / "cache", max_doc_tokens=50)
    (train,) = splits.train
    assert train.doc_starts.tolist() == [0, 51] and len(train.tokens) == 102
    assert splits.tokenizer.decode(train.tokens.tolist()) == "a" * 50 + "<|endoftext|>" + "b" * 50 + "<|endoftext|>"


def test_vocab_too_large_for_token_dtype():
    assert token_dtype(65536) == np.uint16 and token_dtype(65537) == np.uint32
    with pytest.raises(DataError, match="does not fit in data.token_dtype=uint16"):
        token_dtype(100_277, "uint16")
