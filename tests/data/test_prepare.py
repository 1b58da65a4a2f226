"""gptlab-prepare: streaming, parallel, sharded tokenization into the token cache."""

import json

import numpy as np
import pytest

from gptlab.data.cache import load
from gptlab.data.prepare import prepare_from_overrides
from gptlab.errors import DataError
from tests.helpers import run_cli


def _shards(directory, split):
    splits = load(directory)
    return [(s.tokens.tolist(), s.doc_starts.tolist()) for s in getattr(splits, split)]


def test_parallel_sharded_build_equals_the_serial_one(jsonl_file, tmp_path, monkeypatch):
    common = [
        "data=jsonl",
        f"data.path={jsonl_file}",
        "tokenizer=bpe",
        "tokenizer.vocab_size=300",
        "data.shard_tokens=200",
    ]
    monkeypatch.setenv("GPTLAB_CACHE_DIR", str(tmp_path / "serial"))
    serial = prepare_from_overrides(common)
    monkeypatch.setenv("GPTLAB_CACHE_DIR", str(tmp_path / "parallel"))
    parallel = prepare_from_overrides([*common, "data.workers=2"])
    meta = json.loads((serial / "meta.json").read_text())
    assert meta["documents"] == {"train": 27, "val": 3} and len(meta["shards"]["train"]) > 1
    assert _shards(serial, "train") == _shards(parallel, "train") and _shards(serial, "val") == _shards(parallel, "val")
    splits = load(serial)
    eos = splits.tokenizer.eos_id
    for shard in splits.train:
        assert len(shard.tokens) <= 200 and shard.tokens[-1] == eos
        assert np.all(shard.tokens[shard.doc_starts[1:] - 1] == eos), "every document ends in EOS"
    text = splits.tokenizer.decode(splits.train[0].tokens[: splits.train[0].doc_starts[1]].tolist())
    assert text == "Document 00: the cat sat on the mat.<|endoftext|>"
    assert len(list((tmp_path / "serial" / "tokenizers").iterdir())) == 1, "the trained BPE is saved once"


def test_cli_prints_throughput_and_train_reuses_the_cache(text_file, tmp_path, monkeypatch, capsys):
    args = ["data=text", f"data.path={text_file}", "tokenizer=byte", "data.token_dtype=uint32"]
    monkeypatch.setenv("GPTLAB_CACHE_DIR", str(tmp_path / "cache"))
    first = run_cli("gptlab.data.prepare", args, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "MB/s" in first.stdout and "uint32" in first.stdout
    directory = prepare_from_overrides(args)
    assert capsys.readouterr().out == "", "the same config finds the cache the CLI wrote"
    assert load(directory).train[0].tokens.dtype == np.uint32


def test_vocab_too_large_for_the_token_dtype_fails_before_tokenizing(text_file, tiktoken_file):
    tokenizer = ["tokenizer=tiktoken", "tokenizer.encoding=cl100k_base", f"tokenizer.file={tiktoken_file}"]
    with pytest.raises(DataError, match="vocabulary of 100,258 ids does not fit in data.token_dtype=uint16"):
        prepare_from_overrides(["data=text", f"data.path={text_file}", *tokenizer, "data.token_dtype=uint16"])


def test_too_few_documents_for_a_validation_split(jsonl_file):
    with pytest.raises(DataError, match="no val documents"):
        prepare_from_overrides(["data=jsonl", f"data.path={jsonl_file}", "data.val_fraction=0.01"])
