"""Every ready sweep in experiments/: each job of its grid composes and passes the config checks,
and its first job trains a few steps through gptlab.train.train.

A Hydra compose takes ~0.3 s here, so each arm of a sweep is composed once and its seeds are
checked as the plain integers they are (a seed changes no other key).
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser

from gptlab.config import CONFIG_DIR, CONFIG_NAME, resolve
from gptlab.logger.jsonl import read_metrics
from gptlab.train import train
from tests.helpers import MACBETH, REPO

# the ready sweeps (experiments/sft.yaml and grpo.yaml are single fine-tuning runs: tests/finetune/)
EXPERIMENTS = sorted(p.stem for p in (REPO / "experiments").glob("*.yaml") if "sweeper:" in p.read_text("utf-8"))
SEED = "seed="
BUDGETS = ("steps", "tokens", "flops", "tokens_per_param", "minutes")
# A few steps of the first job: the experiment's model and knobs, on little data with a short context.
QUICK = [
    *MACBETH,
    "trainer.max_steps=3",
    "trainer.eval_every=3",
    "trainer.eval_batches=1",
    "trainer.log_every=1",
    "trainer.batch_size=4",
    "trainer.samples=0",
    "trainer.progress=false",
    "model.block_size=32",
    *(f"trainer.budget.{key}=null" for key in BUDGETS),
]


def sweep_jobs(params) -> list[list[str]]:
    """The overrides of every job of ``hydra.sweeper.params``: the cartesian product of its lists."""
    parser = OverridesParser.create()
    choices = []
    for key, value in params.items():
        override = parser.parse_override(f"{key}={value}")
        values = list(override.sweep_string_iterator()) if override.is_sweep_override() else [str(value)]
        choices.append([f"{key}={v}" for v in values])
    return [list(job) for job in itertools.product(*choices)]


def sweep_of(name: str) -> dict:
    """The experiment file's ``hydra.sweep`` and ``hydra.sweeper`` (read as YAML: a compose costs more)."""
    hydra = yaml.safe_load((REPO / "experiments" / f"{name}.yaml").read_text(encoding="utf-8"))["hydra"]
    return {"dir": hydra["sweep"]["dir"], "params": hydra["sweeper"]["params"]}


def compose_experiment(name: str, job: list[str], extra: tuple[str, ...] = ()):
    """One job as ``gptlab-train -m +experiment=NAME`` composes it (Hydra must be initialized)."""
    return compose(config_name=CONFIG_NAME, overrides=[f"+experiment={name}", *job, *extra])


@pytest.fixture
def hydra_context(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative output dirs resolve there, not in the repo
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        yield
    GlobalHydra.instance().clear()


def test_the_issue_sweeps_are_here():
    expected = {"ablate_norm", "ablate_pos", "ablate_mlp", "ablate_heads", "ablate_moe", "lr_grid"}
    assert expected | {"learning_ladder", "scaling_law"} <= set(EXPERIMENTS)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_job_composes_and_passes_the_checks(name, hydra_context):
    sweep = sweep_of(name)
    text = (REPO / "experiments" / f"{name}.yaml").read_text(encoding="utf-8")
    assert text.startswith("# @package _global_") and "Hypothesis" in text and "gptlab-compare" in text
    assert sweep["dir"] == f"outputs/multirun/{name}", "a fixed sweep dir, so a re-run resumes"
    jobs = sweep_jobs(sweep["params"])
    arms = {tuple(o for o in job if not o.startswith(SEED)): None for job in jobs}  # in order, seeds aside
    seeds = {o.removeprefix(SEED) for job in jobs for o in job if o.startswith(SEED)}
    assert len(arms) > 1, "the sweep varies more than the seed"
    assert all(seed.isdigit() for seed in seeds), seeds
    for arm in arms:
        cfg = compose_experiment(name, list(arm))
        assert cfg.sweep.name == name
        resolve(cfg)  # raises ConfigError on an invalid arm


def own_data(name: str) -> bool:
    """Whether the experiment picks its own data set (then it trains on that, not on Macbeth)."""
    defaults = yaml.safe_load((REPO / "experiments" / f"{name}.yaml").read_text(encoding="utf-8")).get("defaults", [])
    return any("override /data" in entry for entry in defaults if isinstance(entry, dict))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_first_job_trains(name, tmp_path, hydra_context, monkeypatch):
    job = sweep_jobs(sweep_of(name)["params"])[0]
    quick = QUICK
    if own_data(name):
        tinyshakespeare = REPO.parent / "shared" / "data" / "tinyshakespeare.txt"
        if not tinyshakespeare.is_file():
            pytest.skip(f"{name} trains on {tinyshakespeare}, which is not here")
        monkeypatch.setenv("GPTLAB_TINYSHAKESPEARE", str(tinyshakespeare))
        quick = [o for o in QUICK if o not in MACBETH] + ["schedule.warmup_steps=1"]
    cfg = compose_experiment(name, job, tuple(quick))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models run faster on one thread
    try:
        train(cfg, tmp_path)
    finally:
        torch.set_num_threads(threads)
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert records[-1]["step"] == 3
    assert math.isfinite(records[-1]["val_loss"])
