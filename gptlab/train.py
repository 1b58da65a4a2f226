"""One run of ``gptlab-train``: resolve the composed config, claim the run dir, build the registered
components, restore, train, finish (the command line itself is gptlab/cli.py).

    gptlab-train model.n_layer=2 optimizer.lr=3e-3 trainer.max_steps=300
    gptlab-train -m model.n_layer=1,2,4 seed=0,1

A run returns the final validation bits per byte, so a Hydra sweeper (e.g. Optuna) can minimize it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from gptlab import memory, registry
from gptlab.cli import main, remove_if_empty_run  # noqa: F401  (main: `python -m gptlab.train`, as before)
from gptlab.device import resolve_device
from gptlab.distributed.launch import join_process_group
from gptlab.errors import ConfigError
from gptlab.finetune.init_from import BaseRun
from gptlab.generate import sample_texts
from gptlab.logger import RunContext, SafeLoggers
from gptlab.model import counting
from gptlab.run.build import RunComponents, build_components, load_pretrained
from gptlab.run.lock import RunDirLock
from gptlab.run.resolved import ResolvedRun
from gptlab.run.resume import check_resumable, resume_command
from gptlab.sweep.gpus import gpu_for_job, visible_gpus
from gptlab.sweep.identity import JobIdentity
from gptlab.sweep.status import config_hash, finished_metrics, write_status
from gptlab.trainer import checkpoint
from gptlab.trainer.loop import Trainer
from gptlab.trainer.stop import Stopped
from gptlab.world import World

SAMPLES_FILE = "samples.txt"
DRY_RUN_VOCAB = 256  # a tokenizer that learns its vocabulary from the text has none before reading it


def train(
    cfg: DictConfig,
    run_dir: Path,
    job: JobIdentity | None = None,
    world: World | None = None,
    run_files: dict[str, Any] | None = None,
) -> dict[str, float]:
    """The whole run: resolve (and load a pretrained start) -> claim the run dir -> build -> restore -> fit -> finish.

    ``run_files`` (name -> config) are written into ``run_dir/.hydra/`` once everything is built and
    restored, so a refused or failed start rewrites nothing there (default: ``config.yaml``). A multirun job (``job.num`` set)
    skips itself if its run dir holds the same config finished, resumes a checkpoint left there,
    uses its GPU from the pool and writes ``status.json``. Returns the last evaluation's metrics;
    raises :class:`Stopped` when a signal stopped it (after saving).
    """
    base = BaseRun.of_run(cfg)  # fine-tuning hook (gptlab/finetune/): a gptlab run and conversations, else None
    run = ResolvedRun.from_config(cfg)  # every config check runs here, before any data is read
    if run.trainer.dry_run:
        return dry_run(cfg, run, run_dir)
    job = job or JobIdentity()
    world = world or world_for_job(run, job)
    torch.manual_seed(run.seed)
    pretrained = (
        base.start(run) if base else load_pretrained(run)
    )  # trainer.init_from: its architecture becomes run.model
    with RunDirLock(run_dir, enabled=world.is_main):
        start = claim(run, run_dir, job, world)
        if world.is_main:
            checkpoint.remove_stale_temp_files(run_dir)  # of a checkpoint write that was killed
        if start.finished is not None:
            return start.finished
        if run.trainer.threads:
            torch.set_num_threads(run.trainer.threads)
        parts = build_components(run, world, pretrained)
        loggers = start_loggers(run, run_dir, job, world, parts, start.checkpoint)
        try:
            trainer = build_trainer(run, parts, loggers, run_dir, world)
            restore(trainer, start.checkpoint, run_dir)
            record_config(run_dir, run_files or {"config.yaml": cfg}, world)  # the start is accepted
            final = trainer.fit()
        except BaseException:
            loggers.finish(exit_code=1)
            raise
        loggers.finish()
        finish(run, run_dir, job, world, trainer, parts, final)
    if trainer.stop_signal is not None:
        raise Stopped(trainer.stop_signal, f"stopped by {trainer.stop_reason}", then=trainer.then)
    return final


@dataclass
class Start:
    """What a start found in its run dir: a checkpoint to resume, or the metrics of a finished job to skip."""

    checkpoint: dict[str, Any] | None = None
    finished: dict[str, float] | None = None


def world_for_job(run: ResolvedRun, job: JobIdentity) -> World:
    """torchrun's world, or one process; a parallel sweep job on CUDA takes its GPU from the pool."""
    world = World.from_env(run.trainer.device)
    if world.world_size > 1:
        join_process_group()  # done already by gptlab-train's main; here for train() called from Python
    if job.num is not None and world.world_size == 1 and world.device.type == "cuda" and world.device.index is None:
        gpu = gpu_for_job(job.num, run.sweep.gpus or visible_gpus(), run.sweep.jobs_per_gpu)
        world = World.single(torch.device("cuda", gpu))
    if world.device.type == "cuda" and world.device.index is not None:  # plain 'cuda': the current GPU
        torch.cuda.set_device(world.device)
    return world


def build_trainer(run: ResolvedRun, parts: RunComponents, loggers: SafeLoggers, run_dir: Path, world: World) -> Trainer:
    """The training loop over the built components; checkpoints also hold the config and the tokenizer."""
    return Trainer(
        cfg=run.trainer,
        prepared=parts.prepared,  # the model ready to train: compiled, wrapped by DDP/FSDP (gptlab/run/parallel.py)
        optimizer=parts.optimizer,
        schedule_for=parts.schedule_for(run),
        budget=parts.budget,
        loader=parts.loader,
        val_tokens=parts.splits.val_tokens,
        token_bytes=torch.as_tensor(parts.tokenizer.token_byte_lengths()),
        loggers=loggers,
        run_dir=run_dir,
        extra_state={"config": run.plain, "tokenizer": parts.tokenizer.state()},
    )


def claim(run: ResolvedRun, run_dir: Path, job: JobIdentity, world: World) -> Start:
    """Decide how this start uses its run dir; refuse (rewriting nothing) what cannot work."""
    in_sweep = job.num is not None
    digest = config_hash(run.plain)
    last = checkpoint.checkpoint_path(run_dir, checkpoint.LAST)
    if in_sweep and run.sweep.skip_finished:
        done = finished_metrics(run_dir, digest)
        if done is not None:
            print(
                f"skipped: {run_dir} already finished this config ({', '.join(f'{k} {v:.4f}' for k, v in done.items())})"
            )
            if world.is_main:
                write_status(run_dir, action="skipped")
            return Start(finished=done)
    resume = run.trainer.resume or (in_sweep and run.sweep.skip_finished and last.exists())
    if last.exists() and not resume:
        raise ConfigError(
            f"Run dir '{run_dir}' already holds a checkpoint. Continue that run with `{resume_command(run_dir)}` "
            f"(or trainer.resume=true with the run's own config), or choose another hydra.run.dir."
        )
    if not resume:
        start = Start()
    elif not last.exists():
        print(f"trainer.resume=true but '{last}' does not exist yet: starting from step 0.")
        start = Start()
    else:
        state = checkpoint.load(last, map_location=world.device)
        check_resumable(state, run.plain, run_dir, last)
        start = Start(checkpoint=state)
    if in_sweep and world.is_main:
        action = "resumed" if start.checkpoint else "fresh"
        write_status(run_dir, status="running", action=action, config_hash=digest, error="")
    return start


def record_config(run_dir: Path, run_files: dict[str, Any], world: World) -> None:
    """Write the accepted start's config files into ``run_dir/.hydra/`` (Hydra's own writing is off)."""
    if not world.is_main:
        return
    hydra_dir = run_dir / ".hydra"
    hydra_dir.mkdir(parents=True, exist_ok=True)
    for name, content in run_files.items():
        (hydra_dir / name).write_text(OmegaConf.to_yaml(content), encoding="utf-8")


def start_loggers(
    run: ResolvedRun,
    run_dir: Path,
    job: JobIdentity,
    world: World,
    parts: RunComponents,
    resumed: dict[str, Any] | None,
) -> SafeLoggers:
    """The run's metric sinks, on the main process only."""
    if not world.is_main:
        return SafeLoggers([])
    stats = {"parameters": parts.model.num_parameters(), "flops_per_token": parts.flops_per_token}
    context = RunContext(
        run_dir=run_dir,
        config={**run.plain, "model_stats": stats},
        resume_step=resumed["step"] if resumed else 0,
        state=resumed.get("loggers", {}) if resumed else {},
        group=job.group,
        name=job.name,
        tags=job.tags,
        meta=job.meta,
    )
    return SafeLoggers(registry.build("logger", run.logger, context))


def restore(trainer: Trainer, resumed: dict[str, Any] | None, run_dir: Path) -> None:
    """Continue from a checkpoint whose config was checked (``claim``); nothing to do on a fresh start."""
    if resumed is None:
        return
    trainer.load_state_dict(resumed)
    steps = f"; trains to step {trainer.state.max_steps}" if trainer.state.max_steps != resumed.get("max_steps") else ""
    if trainer.world.is_main:
        print(
            f"resumed from {checkpoint.checkpoint_path(run_dir, checkpoint.LAST)} at step {trainer.state.step}{steps}"
        )


def finish(
    run: ResolvedRun,
    run_dir: Path,
    job: JobIdentity,
    world: World,
    trainer: Trainer,
    parts: RunComponents,
    final: dict[str, float],
) -> None:
    """Record the outcome; a finished run samples, a stopped one says how to continue."""
    done = trainer.state.step == trainer.state.max_steps
    if not world.is_main:
        return
    if job.num is not None:
        write_status(run_dir, status="done" if done else "stopped", metrics=final)
    if not done:
        hint = "run the same sweep command again, or this job alone: " if job.num is not None else ""
        print(f"continue with: {hint}{resume_command(run_dir)}")
        return
    if run.trainer.samples:
        texts = sample_texts(
            parts.model,
            parts.tokenizer,
            prompt=run.trainer.sample_prompt,
            count=run.trainer.samples,
            max_new_tokens=run.trainer.sample_tokens,
            block_size=run.model.block_size,
            temperature=run.trainer.sample_temperature,
            top_k=run.trainer.sample_top_k,
            seed=run.seed,
            device=world.device,
        )
        separator = "\n" + "-" * 40 + "\n"
        (run_dir / SAMPLES_FILE).write_text(separator.join(texts), encoding="utf-8")
        print(f"samples (also in {run_dir / SAMPLES_FILE}):{separator}{separator.join(texts)}")


def dry_run(cfg: DictConfig, run: ResolvedRun, run_dir: Path) -> dict[str, float]:
    """``trainer.dry_run=true``: print the config and the model's size, FLOPs and memory; read no data."""
    vocab = getattr(run.tokenizer, "vocab_size", 0) or DRY_RUN_VOCAB
    with torch.device("meta"):  # shapes only: no memory, no initialization
        model = registry.build("model", run.model, vocab_size=vocab)
    full = run.trainer.dtype == "float32" or run.trainer.dtype == "auto" and not torch.cuda.is_available()
    activation_bytes = 4 if full else 2
    print(OmegaConf.to_yaml(cfg, resolve=True))
    print(
        f"dry run: model {run.model.name}, vocab {vocab} | "
        f"{counting.summary(model, run.trainer.batch_size, activation_bytes)}"
    )
    print(memory.check_fits(run.model, run.trainer, vocab, resolve_device(run.trainer.device), refuse=False))
    if run_dir.exists():
        remove_if_empty_run(run_dir)  # a dry run leaves no run dir behind
    return {}


if __name__ == "__main__":
    import gptlab.cli

    gptlab.cli.train()  # the command line, `--help` included
