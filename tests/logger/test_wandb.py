"""The wandb logger end to end: a real ``gptlab.train`` run in offline mode, checked by reading the
offline run file back, and a wandb that cannot start, which must not stop the training."""

from __future__ import annotations

import json
import math
import struct
import zlib
from pathlib import Path

import pytest
from wandb.proto import wandb_internal_pb2

from gptlab.logger.jsonl import METRICS_FILE, read_metrics
from tests.helpers import MACBETH, TINY, train_cli

# A tiny run: 30 steps, logged every 5, evaluated at 15 and 30; no sampling afterwards.
RUN = [
    *MACBETH,
    *TINY,
    "trainer.max_steps=30",
    "trainer.eval_every=15",
    "trainer.samples=0",
    "seed=3",
    "logger=wandb",
]
LOG_STEPS = [5, 10, 15, 20, 25, 30]
EVAL_STEPS = [15, 30]

# --- reading a ``run-*.wandb`` file -------------------------------------------------------------
# wandb 0.31 writes it from wandb-core (Go), core/internal/transactionlog + core/pkg/leveldb: a 7-byte
# header (b":W&B", uint16 magic 0xBEE1, uint8 version, little-endian) that the writer puts into its
# first block, then the LevelDB log format: 32 KiB blocks counted from the start of the file, chunks
# that never cross a block boundary, each with a 7-byte header (uint32 checksum, uint16 length,
# uint8 type, little-endian); a block tail shorter than a chunk header is zero padding. The checksum
# is CRCAlgoIEEE, i.e. the plain CRC-32 of the type byte plus the payload (zlib.crc32). Each
# complete record is a serialized ``wandb_internal_pb2.Record``.

WANDB_IDENT = b":W&B"
WANDB_MAGIC = 0xBEE1
FILE_HEADER = struct.Struct("<4sHB")
CHUNK_HEADER = struct.Struct("<IHB")
BLOCK_SIZE = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def read_wandb_records(path: Path) -> list[wandb_internal_pb2.Record]:
    """Every record of an offline run file, checking the header, chunk types, lengths and CRCs."""
    data = Path(path).read_bytes()
    ident, magic, version = FILE_HEADER.unpack_from(data, 0)
    assert (ident, magic, version) == (WANDB_IDENT, WANDB_MAGIC, 0), f"{path}: bad header {data[:7]!r}"
    records: list[wandb_internal_pb2.Record] = []
    pending: bytearray | None = None  # the fragments of a record split over blocks
    pos = FILE_HEADER.size
    while pos < len(data):
        left_in_block = BLOCK_SIZE - pos % BLOCK_SIZE
        if left_in_block < CHUNK_HEADER.size:
            assert not any(data[pos : pos + left_in_block]), f"{path}: non-zero block trailer at {pos}"
            pos += left_in_block
            continue
        assert pos + CHUNK_HEADER.size <= len(data), f"{path}: truncated chunk header at {pos}"
        checksum, length, kind = CHUNK_HEADER.unpack_from(data, pos)
        assert kind in (FULL, FIRST, MIDDLE, LAST), f"{path}: chunk type {kind} at {pos}"
        assert CHUNK_HEADER.size + length <= left_in_block, f"{path}: chunk at {pos} crosses a block boundary"
        start = pos + CHUNK_HEADER.size
        payload = data[start : start + length]
        assert len(payload) == length, f"{path}: truncated chunk at {pos}"
        assert zlib.crc32(bytes([kind]) + payload) == checksum, f"{path}: CRC mismatch at {pos}"
        pos = start + length
        if kind == FULL:
            assert pending is None, f"{path}: full chunk at {pos} inside a split record"
            records.append(wandb_internal_pb2.Record.FromString(payload))
        elif kind == FIRST:
            assert pending is None, f"{path}: first chunk at {pos} inside a split record"
            pending = bytearray(payload)
        else:
            assert pending is not None, (
                f"{path}: {'middle' if kind == MIDDLE else 'last'} chunk at {pos} without a first"
            )
            pending += payload
            if kind == LAST:
                records.append(wandb_internal_pb2.Record.FromString(bytes(pending)))
                pending = None
    assert pending is None, f"{path}: ends inside a split record"
    return records


def item_key(item) -> str:
    """A config/summary/history item's key: ``key`` or the dotted ``nested_key``."""
    return item.key or ".".join(item.nested_key)


def logged_config(records) -> dict:
    """The run's config: the run record's, then any later config records, decoded from JSON."""
    config: dict = {}
    for record in records:
        updates = []
        if record.HasField("run"):
            updates = record.run.config.update
        elif record.HasField("config"):
            updates = record.config.update
            for removed in record.config.remove:
                config.pop(item_key(removed), None)
        for item in updates:
            config[item_key(item)] = json.loads(item.value_json)
    return config


def logged_history(records) -> dict[int, dict]:
    """``{_step: {metric: value}}`` from the history records."""
    history: dict[int, dict] = {}
    for record in records:
        if record.HasField("history"):
            row = {item_key(item): json.loads(item.value_json) for item in record.history.item}
            assert row["_step"] == record.history.step.num
            assert row["_step"] not in history, f"step {row['_step']} logged twice"
            history[row["_step"]] = row
    return history


def run_file(run_dir: Path) -> Path:
    files = sorted(run_dir.glob("wandb/offline-run-*/run-*.wandb"))
    assert len(files) == 1, f"expected one offline run file under {run_dir / 'wandb'}, found {files}"
    return files[0]


# --- the tests -------------------------------------------------------------------------------------


def isolated_wandb_env(tmp_path: Path, monkeypatch) -> dict[str, str]:
    """No real credentials or user wandb settings can leak into the subprocess."""
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_BASE_URL", raising=False)
    return {
        "GPTLAB_CACHE_DIR": str(tmp_path / "cache"),
        "WANDB_CONFIG_DIR": str(tmp_path / "wandb-config"),
        "WANDB_CACHE_DIR": str(tmp_path / "wandb-cache"),
        "WANDB_DATA_DIR": str(tmp_path / "wandb-data"),
        "NETRC": str(tmp_path / "no-netrc"),
    }


def check_ok(result) -> None:
    assert result.returncode == 0, f"gptlab.train exited with {result.returncode}\n{result.stdout}\n{result.stderr}"


@pytest.mark.slow
def test_offline_run_logs_config_and_metrics(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    env = {**isolated_wandb_env(tmp_path, monkeypatch), "WANDB_MODE": "offline"}
    args = [
        *RUN,
        f"hydra.run.dir={run_dir}",
        "logger.group=my_sweep",
        "logger.run_name=n_layer-1",
        "logger.tags=[t1,t2]",
    ]
    result = train_cli(args, cwd=tmp_path, env=env, timeout=240)
    check_ok(result)
    assert "wandb could not start" not in result.stderr

    records = read_wandb_records(run_file(run_dir))
    kinds = [record.WhichOneof("record_type") for record in records]

    runs = [record.run for record in records if record.HasField("run")]
    assert len(runs) == 1, kinds
    assert runs[0].project == "gptlab"
    assert runs[0].run_group == "my_sweep"
    assert runs[0].display_name == "n_layer-1"
    assert {"t1", "t2"} <= set(runs[0].tags)

    config = logged_config(records)
    assert config["model.n_layer"] == 1  # flattened with dots, values as JSON
    assert config["model.d_model"] == 32
    assert config["seed"] == 3
    assert config["trainer.max_steps"] == 30
    assert config["logger.group"] == "my_sweep"
    assert not [key for key, value in config.items() if isinstance(value, dict) and key != "_wandb"]  # all flat

    history = logged_history(records)
    assert sorted(history) == LOG_STEPS
    for step in LOG_STEPS:
        assert math.isfinite(history[step]["train_loss"])
        has_eval = {"val_loss", "val_bpb"} <= history[step].keys()
        assert has_eval == (step in EVAL_STEPS), f"step {step}: {sorted(history[step])}"

    # wandb got the same numbers as metrics.jsonl
    metrics = {row["step"]: row for row in read_metrics(run_dir / METRICS_FILE)}
    assert sorted(metrics) == LOG_STEPS
    for step in LOG_STEPS:
        for key in ("train_loss", "lr", "tokens"):
            assert history[step][key] == pytest.approx(metrics[step][key], rel=1e-9), (step, key)
    for step in EVAL_STEPS:
        for key in ("val_loss", "val_bpb"):
            assert history[step][key] == pytest.approx(metrics[step][key], rel=1e-9), (step, key)

    # the run was finished (WandbSink.finish), and cleanly
    exits = [record.exit for record in records if record.HasField("exit")]
    assert len(exits) == 1, kinds
    assert exits[0].exit_code == 0
    assert kinds[-1] == "exit"


@pytest.mark.slow
@pytest.mark.parametrize(
    "api_key",
    [
        None,  # wandb refuses to start without credentials (UsageError, at once)
        "local-" + "0" * 40,  # a key, but nothing listens at the server: init times out after 2 s
    ],
    ids=["no-api-key", "unreachable-server"],
)
def test_wandb_failure_does_not_stop_training(tmp_path, monkeypatch, api_key):
    run_dir = tmp_path / "run"
    env = {**isolated_wandb_env(tmp_path, monkeypatch), "WANDB_BASE_URL": "http://127.0.0.1:9"}
    if api_key:
        env["WANDB_API_KEY"] = api_key
    args = [*RUN, f"hydra.run.dir={run_dir}", "logger.mode=online", "logger.init_timeout=2"]
    result = train_cli(args, cwd=tmp_path, env=env, timeout=120)
    check_ok(result)
    assert "wandb could not start" in result.stderr, result.stderr  # the failure path was taken
    metrics = {row["step"]: row for row in read_metrics(run_dir / METRICS_FILE)}
    assert sorted(metrics) == LOG_STEPS
    assert {"train_loss", "val_loss", "val_bpb"} <= metrics[30].keys()


@pytest.mark.slow
def test_offline_fallback_says_so_once_with_the_sync_command(tmp_path, monkeypatch):
    """No credentials and no mode set: wandb goes offline and the run says how to upload it, once."""
    run_dir = tmp_path / "run"
    monkeypatch.delenv("WANDB_MODE", raising=False)
    env = isolated_wandb_env(tmp_path, monkeypatch)
    args = [*RUN, "trainer.max_steps=10", "trainer.eval_every=5", f"hydra.run.dir={run_dir}"]
    result = train_cli(args, cwd=tmp_path, env=env, timeout=240)
    check_ok(result)
    lines = [line for line in result.stdout.splitlines() if line.startswith("wandb:")]
    assert len(lines) == 1 and "no wandb credentials" in lines[0], result.stdout
    folder = lines[0].rsplit("wandb sync ", 1)[1]
    assert Path(folder).parent == run_dir / "wandb" and Path(folder).name.startswith("offline-run-")
    assert list(Path(folder).glob("run-*.wandb")), "the folder the command names holds the offline run"
