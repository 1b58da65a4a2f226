import numpy as np

from gptlab.data.cache import load_or_build
from gptlab.data.text import TextConfig, TextFiles
from gptlab.tokenizer.char import CharTokenizer, CharTokenizerConfig


def _load(path, cache_dir, tokenizer_cfg=None):
    cfg = tokenizer_cfg or CharTokenizerConfig()
    return load_or_build(TextFiles(TextConfig(path=str(path))), CharTokenizer(cfg), cfg, cache_dir)


def test_tokens_round_trip_and_split_like_nanogpt(tmp_path):
    text = "".join(chr(ord("a") + i % 26) for i in range(1000)) + "é"
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    splits = _load(tmp_path / "a.txt", tmp_path / "cache")
    assert isinstance(splits.train, np.memmap) and splits.train.dtype == np.uint16
    assert len(splits.train) == 900 and len(splits.val) == 101
    assert splits.tokenizer.decode(splits.train.tolist() + splits.val.tolist()) == text


def test_cache_is_reused_until_source_or_tokenizer_changes(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("hello world " * 50, encoding="utf-8")
    first = _load(path, tmp_path / "cache")
    assert _load(path, tmp_path / "cache").directory == first.directory
    (first.directory / "train.bin").touch()
    path.write_text("hello there " * 50, encoding="utf-8")
    changed_text = _load(path, tmp_path / "cache")
    assert changed_text.directory != first.directory
    assert "t" in changed_text.tokenizer.chars and "t" not in first.tokenizer.chars

    class OtherCharConfig(CharTokenizerConfig):
        pass

    other = OtherCharConfig(name="char-v2")
    assert _load(path, tmp_path / "cache", other).directory != changed_text.directory
    assert len(list((tmp_path / "cache" / "tokens").iterdir())) == 3, "no staging folders are left behind"
