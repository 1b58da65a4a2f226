"""Named tiktoken encodings: the real loading code, from a local ranks file; offline, a clear message."""

import pytest

from gptlab.errors import ConfigError, DataError
from gptlab.tokenizer.tiktoken import TiktokenConfig, TiktokenTokenizer


def test_named_encoding_from_a_local_file_uses_its_pattern_and_special_ids(tiktoken_file):
    tokenizer = TiktokenTokenizer(TiktokenConfig(encoding="cl100k_base", file=str(tiktoken_file))).fit()
    assert tokenizer.eos_id == 100257, "cl100k_base's own <|endoftext|> id"
    assert "\\p{L}" in tokenizer.pattern and tokenizer.vocab_size == 100258
    ids = tokenizer.encode("the band and the end<|endoftext|>").tolist()
    assert tokenizer.decode(ids) == "the band and the end<|endoftext|>"
    assert 256 + 6 in ids, "the merge ' and' applies"


def test_unknown_encoding_and_missing_file():
    with pytest.raises(ConfigError, match="tokenizer.encoding='gpt5' is not a tiktoken encoding. Valid: .*cl100k_base"):
        TiktokenTokenizer(TiktokenConfig(encoding="gpt5")).fit()
    with pytest.raises(DataError, match="tokenizer.file='/no/such.tiktoken' is not a file"):
        TiktokenTokenizer(TiktokenConfig(file="/no/such.tiktoken")).fit()


def test_offline_download_failure_says_how_to_provide_the_file(tmp_path, monkeypatch):
    """An unreachable proxy makes tiktoken's download fail at once, as it does offline."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "empty"))
    for proxy in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(proxy, "http://127.0.0.1:9")
    with pytest.raises(DataError, match="could not load encoding 'r50k_base'") as error:
        TiktokenTokenizer(TiktokenConfig(encoding="r50k_base")).fit()
    assert "tokenizer.file=/path/to/r50k_base.tiktoken" in str(error.value)
    assert "$TIKTOKEN_CACHE_DIR" in str(error.value)
