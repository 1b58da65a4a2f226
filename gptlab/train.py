"""``gptlab-train``: compose the config, validate it, build the registered components, train.

    gptlab-train model.n_layer=2 optimizer.lr=3e-3 trainer.max_steps=300
    gptlab-train -m model.n_layer=1,2,4 seed=0,1

Returns the final validation bits per byte, so a Hydra sweeper (e.g. Optuna) can minimize it.
"""

from __future__ import annotations

import os
import shutil
import sys
import traceback
from dataclasses import asdict
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from gptlab import registry
from gptlab.config import CONFIG_DIR, CONFIG_NAME, check_overrides, prepare_registry, resolve
from gptlab.data.cache import load_or_build
from gptlab.data.loader import RandomWindowLoader
from gptlab.errors import ConfigError, GptlabError, report
from gptlab.finetune.init_from import BaseRun
from gptlab.generate import sample_texts
from gptlab.hf.init import TrainedTokenizer
from gptlab.logger import RunContext, SafeLoggers
from gptlab.model import counting
from gptlab.sweep import summary
from gptlab.sweep.gpus import gpu_for_job, visible_gpus
from gptlab.sweep.identity import JobIdentity, job_identity
from gptlab.sweep.status import check_same_config, config_hash, finished_metrics, write_status
from gptlab.trainer import checkpoint
from gptlab.trainer.budget import resolve_budget
from gptlab.trainer.loop import Trainer
from gptlab.trainer.stages import token_segments

SAMPLES_FILE = "samples.txt"
DRY_RUN_VOCAB = 256  # a tokenizer that learns its vocabulary from the text has none before reading it


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.device='{name}' but torch sees no CUDA GPU here; use trainer.device=cpu or auto.")
    return torch.device(name)


def check_document_masking(model: torch.nn.Module, model_cfg) -> None:
    """data.doc_mask needs an attention kernel that takes a mask (the loader's document ids)."""
    kernels = {type(m.kernel).__name__: m.kernel for m in model.modules() if hasattr(m, "kernel")}
    lacking = sorted(name for name, kernel in kernels.items() if "mask" not in kernel.features)
    if lacking:
        raise ConfigError(
            f"data.doc_mask=true keeps attention inside documents, but model.attention="
            f"{getattr(model_cfg, 'attention', '?')} ({', '.join(lacking)}) takes no mask. Use model.attention=sdpa "
            f"or math, or data.doc_mask=false."
        )


def pretrained_start(spec: str, model_cfg):
    """The pretrained model ``trainer.init_from`` names; a Hugging Face one takes the run's context
    (model.block_size), attention kernel and dropout."""
    from gptlab.hf import init_from

    keep = {key: getattr(model_cfg, key, None) for key in ("block_size", "attention", "dropout")}
    start = init_from(spec, **keep)
    print(f"init_from: {spec} ({start.model.num_parameters():,} parameters, tokenizer {start.tokenizer.name})")
    return start


def dry_run(cfg: DictConfig, typed: dict) -> dict[str, float]:
    """``trainer.dry_run=true``: print the config and the model's size, FLOPs and memory; read no data."""
    vocab = getattr(typed["tokenizer"], "vocab_size", 0) or DRY_RUN_VOCAB
    with torch.device("meta"):  # shapes only: no memory, no initialization
        model = registry.build("model", typed["model"], vocab_size=vocab)
    trainer_cfg = typed["trainer"]
    activation_bytes = 4 if trainer_cfg.dtype == "float32" else 2
    print(OmegaConf.to_yaml(cfg, resolve=True))
    print(
        f"dry run: model {typed['model'].name}, vocab {vocab} | {counting.summary(model, trainer_cfg.batch_size, activation_bytes)}"
    )
    return {}


def train(cfg: DictConfig, run_dir: Path, job: JobIdentity | None = None) -> dict[str, float]:
    """The whole run: validate, read data, build, (resume,) train, evaluate, sample.

    A multirun job (``job.num`` set) skips itself if its run dir holds the same config finished,
    resumes from a checkpoint left there, uses its GPU from the pool, and writes ``status.json``.
    """
    job = job or JobIdentity()
    base = BaseRun.of_run(cfg)  # fine-tuning hook (gptlab/finetune/): trainer.init_from's model config, or None
    typed = resolve(cfg)  # every config check runs here, before any data is read
    trainer_cfg, sweep_cfg = typed["trainer"], typed["sweep"]
    if trainer_cfg.dry_run:
        result = dry_run(cfg, typed)
        if run_dir.exists():
            _remove_if_empty_run(run_dir)  # a dry run leaves no run dir behind
        return result
    plain_config = OmegaConf.to_container(cfg, resolve=True)
    digest, in_sweep = config_hash(plain_config), job.num is not None
    last = checkpoint.checkpoint_path(run_dir, checkpoint.LAST)
    if in_sweep and sweep_cfg.skip_finished:
        done = finished_metrics(run_dir, digest)
        if done is not None:
            print(
                f"skipped: {run_dir} already finished this config ({', '.join(f'{k} {v:.4f}' for k, v in done.items())})"
            )
            write_status(run_dir, action="skipped")
            return done
        trainer_cfg.resume = trainer_cfg.resume or last.exists()
    device = resolve_device(trainer_cfg.device)
    if in_sweep and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", gpu_for_job(job.num, sweep_cfg.gpus or visible_gpus(), sweep_cfg.jobs_per_gpu))
        torch.cuda.set_device(device)
    if trainer_cfg.threads:
        torch.set_num_threads(trainer_cfg.threads)
    if last.exists() and not trainer_cfg.resume:
        raise ConfigError(
            f"Run dir '{run_dir}' already holds a checkpoint. Pass trainer.resume=true to continue that run, "
            f"or choose another hydra.run.dir."
        )
    torch.manual_seed(cfg.seed)

    # trainer.init_from (gptlab/hf/init.py): the pretrained model's architecture, weights and tokenizer
    start = pretrained_start(trainer_cfg.init_from, typed["model"]) if trainer_cfg.init_from and not base else None
    if start:
        typed["model"], plain_config["model"] = start.config, asdict(start.config)
    tokenizer_source = TrainedTokenizer(start.tokenizer) if start else registry.build("tokenizer", typed["tokenizer"])
    tokenizer_key = tokenizer_source.cache_config() if start else typed["tokenizer"]

    source = registry.build("data", typed["data"])
    block_size = typed["model"].block_size
    if base:  # fine-tuning hook: the base run's tokenizer, conversations packed with their loss masks
        splits = base.token_splits(source, typed["tokenizer"], block_size)
    else:
        splits = load_or_build(source, tokenizer_source, tokenizer_key, cfg.cache_dir)
    longest_val = max(len(shard.tokens) for shard in splits.val)  # an evaluation window lies in one shard
    if longest_val <= block_size:
        raise ConfigError(
            f"model.block_size={block_size} is longer than the validation split of {source.describe()} "
            f"({longest_val} tokens in its longest shard). Use model.block_size <= {longest_val - 1}, a larger "
            f"data.val_fraction or data.shard_tokens, or more text."
        )
    tokenizer = splits.tokenizer
    model = start.model if start else registry.build("model", typed["model"], vocab_size=tokenizer.vocab_size)
    model = model.to(device)
    if base:  # fine-tuning hook: the base run's weights (new token rows appended), LoRA adapters if configured
        model = base.init_model(model, cfg)
    flops_per_token = model.flops_per_token()
    print(
        f"model: {typed['model'].name} with {model.num_parameters():,} parameters "
        f"({model.num_parameters(non_embedding=True):,} non-embedding), {flops_per_token:,} training FLOPs "
        f"per token | data: {source.describe()}, {splits.num_tokens('train'):,} train / "
        f"{splits.num_tokens('val'):,} val tokens, vocab {tokenizer.vocab_size} | device: {device}"
    )
    if typed["data"].doc_mask:
        check_document_masking(model, typed["model"])
    optimizer = registry.build("optimizer", typed["optimizer"], model)
    segments = token_segments(trainer_cfg.stages, block_size, trainer_cfg.batch_size, trainer_cfg.grad_accum_steps)
    budget = resolve_budget(
        trainer_cfg.budget, trainer_cfg.max_steps, segments, model.num_parameters(), flops_per_token
    )
    print(budget.describe())
    data_cfg = typed["data"]
    loader = RandomWindowLoader(
        splits.train,
        block_size,
        trainer_cfg.batch_size,
        cfg.seed,
        device,
        doc_starts=data_cfg.doc_starts,
        doc_mask=data_cfg.doc_mask,
    )

    resumed = checkpoint.load(last, map_location=device) if trainer_cfg.resume and last.exists() else None
    if trainer_cfg.resume and resumed is None:
        print(f"trainer.resume=true but '{last}' does not exist yet: starting from step 0.")
    stats = {"parameters": model.num_parameters(), "flops_per_token": flops_per_token}
    if in_sweep:
        if resumed:
            check_same_config(run_dir, resumed["config"], digest)
        write_status(run_dir, status="running", action="resumed" if resumed else "fresh", config_hash=digest, error="")
    run = RunContext(
        run_dir,
        {**plain_config, "model_stats": stats},
        resumed["step"] if resumed else 0,
        resumed["loggers"] if resumed else {},
        job.group,
        job.name,
        job.tags,
        job.meta,
    )
    loggers = SafeLoggers(registry.build("logger", typed["logger"], run))
    try:
        trainer = Trainer(
            trainer_cfg,
            model,
            optimizer,
            lambda max_steps: registry.build("schedule", typed["schedule"], max_steps),
            budget,
            loader,
            splits.val_tokens,
            torch.as_tensor(tokenizer.token_byte_lengths()),
            loggers,
            run_dir,
            device,
            extra_state={"config": plain_config, "tokenizer": tokenizer.state()},
        )
        if resumed:
            trainer.load_state_dict(resumed)
            print(f"resumed from {last} at step {trainer.state.step}")
        final = trainer.fit()
    except BaseException:
        loggers.finish(exit_code=1)
        raise
    loggers.finish()
    if in_sweep:
        write_status(
            run_dir, status="done" if trainer.state.step == trainer.state.max_steps else "stopped", metrics=final
        )
    if trainer.state.step == trainer.state.max_steps and trainer_cfg.samples:
        texts = sample_texts(
            model,
            tokenizer,
            trainer_cfg.sample_prompt,
            trainer_cfg.samples,
            trainer_cfg.sample_tokens,
            block_size,
            trainer_cfg.sample_temperature,
            trainer_cfg.sample_top_k,
            cfg.seed,
            device,
        )
        separator = "\n" + "-" * 40 + "\n"
        (run_dir / SAMPLES_FILE).write_text(separator.join(texts), encoding="utf-8")
        print(f"samples (also in {run_dir / SAMPLES_FILE}):{separator}{separator.join(texts)}")
    return final


def _remove_if_empty_run(run_dir: Path) -> None:
    """After an early failure, delete the run dir if it holds only what Hydra wrote at start."""
    leftovers = [p for p in run_dir.iterdir() if p.name != ".hydra" and not p.name.endswith(".log")]
    if leftovers:
        return
    shutil.rmtree(run_dir, ignore_errors=True)
    cwd = Path.cwd().resolve()
    for parent in run_dir.resolve().parents:  # the empty date folders Hydra made above it
        if parent == cwd or cwd not in parent.parents or any(parent.iterdir()):
            break
        parent.rmdir()


@hydra.main(config_path=str(CONFIG_DIR), config_name=CONFIG_NAME, version_base="1.3")
def hydra_main(cfg: DictConfig) -> float | None:
    """One run; in a multirun a failing job is recorded in its status.json and the others go on."""
    prepare_registry()  # again: a launcher's worker process (joblib, SLURM) starts without it
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    job = job_identity(
        Path(hydra_cfg.sweep.dir) if multirun else None,
        list(hydra_cfg.overrides.task),
        dict(hydra_cfg.runtime.choices),
        cfg.sweep.name,
    )
    job.num = hydra_cfg.job.num if multirun else None
    try:
        final = train(cfg, run_dir, job)
    except Exception as error:
        if not multirun and not isinstance(error, GptlabError):
            raise
        if isinstance(error, GptlabError):
            report(error)
        else:
            traceback.print_exc()
        if not multirun:
            _remove_if_empty_run(run_dir)
            raise SystemExit(2) from None
        write_status(run_dir, status="failed", error=f"{type(error).__name__}: {error}"[:300])
        return None
    return final.get("val_bpb")


def _check_output_dir(overrides: list[str]) -> None:
    """An output dir that cannot be created fails here, before Hydra tries to create it."""
    for override in overrides:
        key, _, value = override.partition("=")
        if key.lstrip("+") in ("hydra.run.dir", "hydra.sweep.dir") and value:
            path = Path(value).expanduser().absolute()
            parent = path
            while not parent.exists():
                parent = parent.parent
            if not parent.is_dir() or not os.access(parent, os.W_OK):
                raise GptlabError(
                    f"{key}='{value}' cannot be created: '{parent}' is {'not a folder' if not parent.is_dir() else 'not writable'}. "
                    f"Choose an output dir in a writable folder (the default is outputs/ in the current directory)."
                )


_FLAGS_WITH_VALUE = {
    "--cfg",
    "-c",
    "--package",
    "-p",
    "--config-path",
    "-cp",
    "--config-name",
    "-cn",
    "--config-dir",
    "-cd",
    "--experimental-rerun",
}


_INFO_TOPICS = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}


def split_command_line(argv: list[str]) -> tuple[list[str], list[str]]:
    """(flags with their values, ``key=value`` overrides) of a Hydra command line."""
    flags, overrides, i = [], [], 0
    while i < len(argv):
        takes_value = i + 1 < len(argv) and (
            argv[i] in _FLAGS_WITH_VALUE or argv[i] == "--info" and argv[i + 1] in _INFO_TOPICS
        )
        if argv[i].startswith("-"):
            flags += argv[i : i + 1 + takes_value]
            i += 1 + takes_value
        else:
            overrides.append(argv[i])
            i += 1
    return flags, overrides


def flags_first(argv: list[str]) -> list[str]:
    """Hydra's argument parser takes no override after a flag (``a=1 -m b=2`` fails): move the
    flags, each with its value, in front of the overrides so any order works."""
    flags, overrides = split_command_line(argv)
    return flags + overrides


def main() -> None:
    """Console entry point: checks the command line, then hands over to Hydra."""
    flags, overrides = split_command_line(sys.argv[1:])
    sys.argv[1:] = flags + overrides
    try:
        prepare_registry()
        check_overrides(overrides)
        _check_output_dir(overrides)
    except GptlabError as error:
        report(error)
        raise SystemExit(2) from None
    hydra_main()
    if summary.failed:
        print(f"{len(summary.failed)} job(s) failed: {', '.join(summary.failed)}", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    # through the module, not __main__: parallel launchers pickle hydra_main by reference
    from gptlab.train import main as package_main

    package_main()
