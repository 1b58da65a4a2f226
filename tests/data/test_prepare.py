"""gptlab-prepare: streaming, parallel, sharded tokenization into the token cache."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from gptlab.data import text
from gptlab.data.cache import load
from gptlab.data.text import TextConfig, TextFiles
from gptlab.errors import DataError
from gptlab.prepare import prepare_from_overrides
from tests.helpers import run_in_process


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
    assert [len(s.tokens) for s in splits.train[:-1]] == [200] * (len(splits.train) - 1), "full shards"
    for shard in splits.train:
        assert np.all(shard.tokens[shard.doc_starts[1:] - 1] == eos), "every document ends in EOS"
    # the first shard ends inside a document, which goes on at the start of the next shard
    assert splits.train[0].tokens[-1] != eos and splits.train[1].doc_starts[0] > 0
    assert splits.train[1].tokens[splits.train[1].doc_starts[0] - 1] == eos and splits.train[-1].tokens[-1] == eos
    text = splits.tokenizer.decode(splits.train[0].tokens[: splits.train[0].doc_starts[1]].tolist())
    assert text == "Document 00: the cat sat on the mat.<|endoftext|>"
    assert len(list((tmp_path / "serial" / "tokenizers").iterdir())) == 1, "the trained BPE is saved once"


def test_cli_prints_throughput_and_train_reuses_the_cache(text_file, tmp_path, monkeypatch, capsys):
    args = ["data=text", f"data.path={text_file}", "tokenizer=byte", "data.token_dtype=uint32"]
    monkeypatch.setenv("GPTLAB_CACHE_DIR", str(tmp_path / "cache"))
    first = run_in_process("gptlab.prepare", args, tmp_path)
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


def test_a_file_in_many_pieces_tokenizes_as_the_whole_text(text_file, tmp_path, monkeypatch):
    """Pieces cut where a line begins leave BPE's pre-tokenization, hence the ids, as for the whole text."""
    monkeypatch.setattr(text, "BLOCK_BYTES", 512)
    monkeypatch.setattr(text, "PIECE_CHARS", 1000)
    monkeypatch.setenv("GPTLAB_CACHE_DIR", str(tmp_path / "cache"))
    overrides = ["data=text", f"data.path={text_file}", "tokenizer=bpe", "tokenizer.vocab_size=400"]
    content = text_file.read_text(encoding="utf-8")
    cut = int(len(content) * 0.9)
    assert len(list(TextFiles(TextConfig(path=str(text_file))).documents("train"))) > 50
    splits = load(prepare_from_overrides([*overrides, "data.shard_tokens=10000"]))
    eos = splits.tokenizer.eos_id
    meta = json.loads((splits.directory / "meta.json").read_text())
    assert meta["documents"] == {"train": 1, "val": 1} and len(splits.train) > 1
    train = np.concatenate([shard.tokens for shard in splits.train]).tolist()
    assert train == [*splits.tokenizer.encode(content[:cut]).tolist(), eos]
    assert splits.val[0].tokens.tolist() == [*splits.tokenizer.encode(content[cut:]).tolist(), eos]
    # a document cut to max_doc_tokens keeps its first ids across pieces, then its EOS
    capped = load(prepare_from_overrides([*overrides, "data.max_doc_tokens=1500"]))
    assert capped.train[0].tokens.tolist() == [*train[:1500], eos]


def test_a_large_file_streams_in_bounded_memory(tmp_path):
    """Peak memory of gptlab-prepare does not grow with the file (128 MB here): it is never read whole."""
    line = "All the world's a stage, and all the men and women merely players;\n"
    big, small = tmp_path / "big.txt", tmp_path / "small.txt"
    with big.open("w") as file:
        for _ in range(128):
            file.write(line * ((1 << 20) // len(line)))
    small.write_text(line * 1000)
    script = (
        "import resource, sys; from gptlab.prepare import prepare_from_overrides; "
        "prepare_from_overrides(sys.argv[1:]); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    peaks = {}
    for path in (small, big):
        env = {**os.environ, "GPTLAB_CACHE_DIR": str(tmp_path / path.stem)}
        done = subprocess.run(
            [sys.executable, "-c", script, "data=text", f"data.path={path}", "tokenizer=byte"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        peaks[path.stem] = int(done.stdout.split()[-1]) * 1024  # ru_maxrss is in KiB on Linux
        assert "MB of text" in done.stdout
    size = big.stat().st_size
    assert size > 120e6
    assert peaks["big"] - peaks["small"] < size / 2, {k: f"{v / 1e6:.0f} MB" for k, v in peaks.items()}
