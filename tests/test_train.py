"""The ``gptlab-train`` entrypoint end to end on tiny models: runs and sampling in subprocesses; the refusals
in this process (the same ``gptlab.cli.train`` the console script calls, seconds cheaper per case)."""

from __future__ import annotations

import pytest
import torch
import yaml

from gptlab.logger.jsonl import read_metrics
from tests.helpers import MACBETH, TINY, run_cli, run_in_process, train_cli, train_in_process

pytestmark = pytest.mark.slow


def _ok(result):
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def test_trains_and_writes_run_outputs(tmp_path):
    run = tmp_path / "run"
    result = _ok(
        train_cli(
            [
                *TINY,
                *MACBETH,
                "trainer.max_steps=60",
                "trainer.eval_every=30",
                "optimizer.lr=0.03",
                f"hydra.run.dir={run}",
            ],
            cwd=tmp_path,
        )
    )
    assert "parameters" in result.stdout and "samples" in result.stdout
    records = read_metrics(run / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(5, 61, 5))
    for key in ("step", "tokens", "train_loss", "lr", "grad_norm", "tokens_per_s"):
        assert all(key in r for r in records)
    assert records[-1]["tokens"] == 60 * 8 * 32
    evals = [r for r in records if "val_loss" in r]
    assert [r["step"] for r in evals] == [30, 60] and all(r["val_bpb"] > 0 for r in evals)
    assert records[-1]["train_loss"] < records[0]["train_loss"] - 0.5, "the loss falls"
    assert evals[-1]["val_loss"] < 3.5
    resolved = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
    assert resolved["model"]["n_layer"] == 1
    samples = (run / "samples.txt").read_text()
    assert len(samples) > 300
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert state["step"] == 60 and state["config"]["model"]["d_model"] == 32
    assert set(state) >= {"model", "optimizer", "loader", "rng", "tokenizer", "config"}
    assert (run / "checkpoints" / "best.pt").exists()


@pytest.mark.extended  # make test: tests/faults/test_checkpoint_kill.py resumes a killed run to the same metrics
def test_resume_matches_uninterrupted_run(tmp_path):
    common = [
        *TINY,
        *MACBETH,
        "trainer.max_steps=40",
        "trainer.eval_every=10",
        "trainer.samples=0",
        "model.dropout=0.1",
        "seed=7",
    ]
    _ok(train_cli([*common, f"hydra.run.dir={tmp_path / 'full'}"], cwd=tmp_path))
    split = tmp_path / "split"
    first = _ok(train_cli([*common, "trainer.stop_at_step=20", f"hydra.run.dir={split}"], cwd=tmp_path))
    assert "stopped at step 20" in first.stdout
    assert max(r["step"] for r in read_metrics(split / "metrics.jsonl")) == 20
    _ok(train_cli([*common, "trainer.resume=true", f"hydra.run.dir={split}"], cwd=tmp_path))
    full = read_metrics(tmp_path / "full" / "metrics.jsonl")
    resumed = read_metrics(split / "metrics.jsonl")
    assert [r["step"] for r in full] == [r["step"] for r in resumed]
    for a, b in zip(full, resumed):
        for key in ("train_loss", "lr", "grad_norm", "val_loss", "val_bpb"):
            if key in a:
                assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-6), (a["step"], key)


def test_existing_checkpoint_needs_resume_flag(tmp_path):
    args = [
        *TINY,
        *MACBETH,
        "trainer.max_steps=10",
        "trainer.eval_every=5",
        "trainer.samples=0",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    _ok(train_in_process(args, cwd=tmp_path))
    before = (tmp_path / "run" / "checkpoints" / "last.pt").read_bytes()
    result = train_in_process(args, cwd=tmp_path)
    assert result.returncode == 2 and "trainer.resume=true" in result.stderr
    assert (tmp_path / "run" / "checkpoints" / "last.pt").read_bytes() == before


def test_multirun_runs_each_job_in_its_own_dir(tmp_path):
    sweep = tmp_path / "sweep"
    _ok(
        train_cli(
            [
                "-m",
                *TINY,
                *MACBETH,
                "model.n_layer=1,2",
                "trainer.max_steps=20",
                "trainer.eval_every=10",
                "trainer.samples=0",
                f"hydra.sweep.dir={sweep}",
            ],
            cwd=tmp_path,
        )
    )
    for job, n_layer in (("0", 1), ("1", 2)):
        records = read_metrics(sweep / job / "metrics.jsonl")
        assert records[-1]["step"] == 20 and "val_loss" in records[-1]
        config = yaml.safe_load((sweep / job / ".hydra" / "config.yaml").read_text())
        assert config["model"]["n_layer"] == n_layer
        assert (sweep / job / "checkpoints" / "last.pt").exists()
    assert (sweep / "multirun.yaml").exists()


def test_sample_from_saved_run(tiny_run, tmp_path):
    run = tiny_run
    args = [
        str(run),
        "--prompt",
        "MACBETH:",
        "--max-new-tokens",
        "50",
        "--temperature",
        "0.8",
        "--top-k",
        "10",
        "--num-samples",
        "2",
        "--seed",
        "1",
    ]
    result = _ok(run_cli("gptlab.sample", args, cwd=tmp_path))
    texts = result.stdout.removesuffix("\n").split("\n" + "-" * 40 + "\n")
    assert len(texts) == 2 and all(t.startswith("MACBETH:") for t in texts)
    eos = "<|endoftext|>"  # one token (the document separator), printed as 13 characters
    assert all(len(t.replace(eos, "_")) == len("MACBETH:") + 50 for t in texts)
    assert _ok(run_cli("gptlab.sample", args, cwd=tmp_path)).stdout == result.stdout, "same seed, same text"


@pytest.mark.parametrize(
    "setup,args,message",
    [
        (None, ["data=text", "data.path=nope.txt"], "data.path='nope.txt' does not exist"),
        ("empty", ["data=text", "data.path=empty.txt"], "is empty"),
        ("latin1", ["data=text", "data.path=latin1.txt"], "is not UTF-8 text: byte 5 is 0xe9"),
        (None, ["data=text", "data.path=corpus/*.md"], "is a glob that matches no file"),
        ("file", ["hydra.run.dir=blocker/run"], "cannot be created"),
        (
            "text",
            ["data=text", "data.path=short.txt", "model.block_size=64"],
            "model.block_size=64 is longer than the validation split",
        ),
    ],
)
def test_bad_input_gets_one_paragraph_error(tmp_path, setup, args, message):
    if setup == "empty":
        (tmp_path / "empty.txt").write_text("  \n")
    elif setup == "latin1":
        (tmp_path / "latin1.txt").write_bytes("hello caf\u00e9".encode("latin-1")[:5] + b"\xe9 more")
    elif setup == "file":
        (tmp_path / "blocker").write_text("a file, not a folder")
    elif setup == "text":
        (tmp_path / "short.txt").write_text("x" * 400)
    result = train_in_process([*TINY, *args], cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert message in " ".join(result.stderr.split())
    assert not (tmp_path / "outputs").exists(), "nothing half-written is left behind"


def test_sample_without_checkpoint_explains(tmp_path):
    (tmp_path / "run").mkdir()
    result = run_in_process("gptlab.sample", [str(tmp_path / "run")], cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "has no checkpoint" in " ".join(result.stderr.split())


@pytest.mark.extended  # make test: tests/faults/test_readme.py runs the same plugin as a console script
def test_plugin_component_selected_from_command_line(tmp_path):
    (tmp_path / "my_schedules.py").write_text(
        "from dataclasses import dataclass\n"
        "from gptlab.registry import register\n\n"
        "@dataclass\n"
        "class HalvingConfig:\n"
        "    name: str = 'halving'\n"
        "    every: int = 5\n\n"
        "@register('schedule', 'halving', HalvingConfig)\n"
        "def halving(cfg, max_steps):\n"
        "    '''Halve the lr every `every` steps.'''\n"
        "    return lambda step: 0.5 ** (step // cfg.every)\n"
    )
    env = {"GPTLAB_PLUGINS": "my_schedules", "PYTHONPATH": str(tmp_path)}
    listing = _ok(run_cli("gptlab.listing", [], cwd=tmp_path, env=env))
    assert "halving" in listing.stdout
    run = tmp_path / "run"
    _ok(
        train_cli(
            [
                *TINY,
                *MACBETH,
                "schedule=halving",
                "schedule.every=4",
                "trainer.max_steps=10",
                "trainer.eval_every=10",
                "trainer.samples=0",
                "trainer.log_every=1",
                f"hydra.run.dir={run}",
            ],
            cwd=tmp_path,
            env=env,
        )
    )
    lrs = [r["lr"] for r in read_metrics(run / "metrics.jsonl")]
    base = lrs[0]
    assert lrs == pytest.approx([base * 0.5 ** ((step - 1) // 4) for step in range(1, 11)])


def test_flags_may_come_after_overrides():
    from gptlab.cli import flags_first

    assert flags_first(["+experiment=x", "-m", "seed=1", "--cfg", "job"]) == [
        "-m",
        "--cfg",
        "job",
        "+experiment=x",
        "seed=1",
    ]
    assert flags_first(["a=1", "--info", "config"]) == ["--info", "config", "a=1"]
    assert flags_first(["a=1", "--multirun"]) == ["--multirun", "a=1"]
