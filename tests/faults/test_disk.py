"""A full disk, a killed writer and a damaged token cache, on real filesystems: a tiny tmpfs (mounted
as root; the tests skip where mounting is not allowed) fills up for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gptlab import disk
from gptlab.data.prepare import load_or_build
from gptlab.data.text import TextConfig, TextFiles
from gptlab.tokenizer.char import CharTokenizer, CharTokenizerConfig
from gptlab.trainer import checkpoint
from tests.helpers import TINY, train_cli


@pytest.fixture
def small_disk(tmp_path):
    """A 512 KiB tmpfs: writes past that fail with ENOSPC."""
    mount_point = tmp_path / "small_disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount_point)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_checkpoint_larger_than_the_free_space_is_refused_before_writing(small_disk):
    path = checkpoint.checkpoint_path(small_disk, checkpoint.LAST)
    checkpoint.save({"step": 1, "w": torch.ones(1000)}, path)
    with pytest.raises(disk.DiskFullError) as caught:
        checkpoint.save({"step": 2, "w": torch.zeros(300_000)}, path)  # 1.2 MB on a 512 KiB disk
    message = str(caught.value)
    assert str(path) in message and "needs about" in message and "free" in message
    assert checkpoint.load(path)["step"] == 1, "the previous checkpoint stays intact"
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"], "no temp file is written"


def test_a_disk_that_fills_during_the_write_is_one_clear_error(small_disk, monkeypatch):
    path = checkpoint.checkpoint_path(small_disk, checkpoint.LAST)
    checkpoint.save({"step": 1, "w": torch.ones(1000)}, path)
    # the free space was there when checked (another writer takes it meanwhile): torch's own error
    # ("unexpected pos") hides the ENOSPC, which the recording writer keeps
    monkeypatch.setattr(disk, "check_free_space", lambda *args: None)
    with pytest.raises(disk.DiskFullError, match=r"disk ran full while writing a checkpoint \(last.pt\)"):
        checkpoint.save({"step": 2, "w": torch.zeros(300_000)}, path)
    assert checkpoint.load(path)["step"] == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"], "the partial temp file is removed"


def test_a_token_cache_that_does_not_fit_is_one_clear_error(small_disk, tmp_path):
    text = tmp_path / "big.txt"
    text.write_text("to be or not to be\n" * 40_000, encoding="utf-8")  # 800 KB -> 1.6 MB of uint16 ids
    with pytest.raises(disk.DiskFullError) as caught:
        _load(text, small_disk)
    assert "token cache" in str(caught.value) and str(small_disk) in str(caught.value)
    assert "cache_dir" in str(caught.value), "the message says how to move the cache"
    assert list((small_disk / "tokens").iterdir()) == [], "the partial build is removed"


def test_stale_checkpoint_temp_files_are_removed_only_when_their_writer_is_gone(tmp_path):
    folder = checkpoint.checkpoint_path(tmp_path).parent
    folder.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    host = os.uname().nodename
    try:
        names = {
            "dead": f".last.pt-{dead.stdout.strip()}@{host}.k2j4h5x1.tmp",
            "old": ".best.pt-x8df7g6h.tmp",  # left by a gptlab that did not name the writer
            "live": f".last.pt-{live.pid}@{host}.a1b2c3d4.tmp",
            "other_host": f".last.pt-{dead.stdout.strip()}@elsewhere.example.org.q1w2e3r4.tmp",
        }
        for name in names.values():
            (folder / name).write_bytes(b"half a checkpoint")
        (folder / "last.pt").write_bytes(b"kept")
        removed = checkpoint.remove_stale_temp_files(tmp_path)
    finally:
        live.kill()
        live.wait()
    assert sorted(p.name for p in removed) == sorted([names["dead"], names["old"]])
    assert sorted(p.name for p in folder.iterdir()) == sorted(["last.pt", names["live"], names["other_host"]])


def test_a_killed_checkpoint_write_leaves_a_temp_file_the_next_start_removes(tmp_path):
    """A real kill: a process stops inside torch.save; its temp file is found and deleted."""
    path = checkpoint.checkpoint_path(tmp_path)
    script = (
        "import os, signal, sys, torch\n"
        "from pathlib import Path\n"
        "from gptlab.trainer import checkpoint\n"
        "real = torch.save\n"
        "def killed_midway(obj, file):\n"
        "    file.write(b'x' * 1000)\n"
        "    file.flush()\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "torch.save = killed_midway\n"
        "checkpoint.save({'w': torch.ones(10)}, Path(sys.argv[1]))\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], env={**os.environ, "PYTHONPATH": os.getcwd()})
    left = list(path.parent.glob(checkpoint.TEMP_PATTERN))
    assert len(left) == 1 and left[0].stat().st_size == 1000
    assert checkpoint.remove_stale_temp_files(tmp_path) == left
    assert list(path.parent.iterdir()) == []


# ----------------------------------------------------------------------------- token cache


def _load(path, cache_dir):
    cfg = CharTokenizerConfig()
    return load_or_build(TextFiles(TextConfig(path=str(path))), CharTokenizer(cfg), cfg, cache_dir)


def _damage_truncate(directory: Path) -> None:
    shard = directory / "train_000.bin"
    shard.write_bytes(shard.read_bytes()[:-10])


def _damage_flip(directory: Path) -> None:
    shard = directory / "train_000.bin"
    data = bytearray(shard.read_bytes())
    data[0] ^= 0xFF  # same size, changed content (inside a sampled block)
    shard.write_bytes(bytes(data))


def _damage_meta_json(directory: Path) -> None:
    (directory / "meta.json").write_text('{"format": 4, "dtype": "uint1')


def _damage_meta_sizes(directory: Path) -> None:
    meta = json.loads((directory / "meta.json").read_text())
    meta["tokens"]["train"] += 7
    (directory / "meta.json").write_text(json.dumps(meta))


def _damage_missing_docs(directory: Path) -> None:
    (directory / "val_000.docs.npy").unlink()


@pytest.mark.parametrize(
    "damage", [_damage_truncate, _damage_flip, _damage_meta_json, _damage_meta_sizes, _damage_missing_docs]
)
def test_a_damaged_token_cache_is_rebuilt_not_loaded(tmp_path, capsys, damage):
    text = tmp_path / "a.txt"
    text.write_text("the quick brown fox jumps over the lazy dog\n" * 200, encoding="utf-8")
    first = _load(text, tmp_path / "cache")
    expected = np.array(first.train[0].tokens).copy(), np.array(first.val[0].tokens).copy()
    del first
    damage(next((tmp_path / "cache" / "tokens").iterdir()))
    capsys.readouterr()
    again = _load(text, tmp_path / "cache")
    out = capsys.readouterr().out
    assert "is damaged" in out and "rebuilding" in out
    assert np.array_equal(again.train[0].tokens, expected[0]) and np.array_equal(again.val[0].tokens, expected[1])
    assert [p.name for p in (tmp_path / "cache" / "tokens").iterdir()] == [again.directory.name], "nothing left over"


@pytest.mark.slow
def test_training_into_a_full_disk_exits_2_with_one_paragraph(small_disk, tmp_path):
    """The whole command: the token cache on a full disk is one error, exit code 2, no traceback."""
    text = tmp_path / "big.txt"
    text.write_text("to be or not to be\n" * 40_000, encoding="utf-8")  # 1.6 MB of ids on a 512 KiB disk
    args = ["data=text", f"data.path={text}", f"cache_dir={small_disk}", f"hydra.run.dir={tmp_path / 'run'}"]
    result = train_cli([*TINY, "trainer.max_steps=2", *args], tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "error:" in result.stderr and "cache_dir" in result.stderr
