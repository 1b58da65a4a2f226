"""``gptlab-train``: compose the config, validate it, build the registered components, train.

    gptlab-train model.n_layer=2 optimizer.lr=3e-3 trainer.max_steps=300
    gptlab-train -m model.n_layer=1,2,4 seed=0,1

Returns the final validation bits per byte, so a Hydra sweeper (e.g. Optuna) can minimize it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from gptlab import registry
from gptlab.config import CONFIG_DIR, CONFIG_NAME, check_overrides, prepare_registry, resolve
from gptlab.data.cache import load_or_build
from gptlab.data.loader import RandomWindowLoader
from gptlab.errors import ConfigError, GptlabError, report
from gptlab.generate import sample_texts
from gptlab.logger import RunContext, SafeLoggers
from gptlab.trainer import checkpoint
from gptlab.trainer.loop import Trainer

SAMPLES_FILE = "samples.txt"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.device='{name}' but torch sees no CUDA GPU here; use trainer.device=cpu or auto.")
    return torch.device(name)


def train(cfg: DictConfig, run_dir: Path) -> dict[str, float]:
    """The whole run: validate, read data, build, (resume,) train, evaluate, sample."""
    typed = resolve(cfg)  # every config check runs here, before any data is read
    trainer_cfg = typed["trainer"]
    device = resolve_device(trainer_cfg.device)
    if trainer_cfg.threads:
        torch.set_num_threads(trainer_cfg.threads)
    last = checkpoint.checkpoint_path(run_dir, checkpoint.LAST)
    if last.exists() and not trainer_cfg.resume:
        raise ConfigError(
            f"Run dir '{run_dir}' already holds a checkpoint. Pass trainer.resume=true to continue that run, "
            f"or choose another hydra.run.dir."
        )
    torch.manual_seed(cfg.seed)

    source = registry.build("data", typed["data"])
    splits = load_or_build(source, registry.build("tokenizer", typed["tokenizer"]), typed["tokenizer"], cfg.cache_dir)
    block_size = typed["model"].block_size
    if splits.num_tokens("val") <= block_size:
        raise ConfigError(
            f"model.block_size={block_size} is longer than the validation split of {source.describe()} "
            f"({splits.num_tokens('val')} tokens). Use model.block_size <= {splits.num_tokens('val') - 1}, a larger "
            f"data.val_fraction, or more text."
        )
    tokenizer = splits.tokenizer
    model = registry.build("model", typed["model"], vocab_size=tokenizer.vocab_size).to(device)
    print(
        f"model: {typed['model'].name} with {model.num_parameters():,} parameters "
        f"({model.num_parameters(non_embedding=True):,} non-embedding) | data: {source.describe()}, "
        f"{splits.num_tokens('train'):,} train / {splits.num_tokens('val'):,} val tokens, vocab {tokenizer.vocab_size} | device: {device}"
    )
    optimizer = registry.build("optimizer", typed["optimizer"], model)
    schedule = registry.build("schedule", typed["schedule"], trainer_cfg.max_steps)
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
    plain_config = OmegaConf.to_container(cfg, resolve=True)

    resumed = checkpoint.load(last, map_location=device) if trainer_cfg.resume and last.exists() else None
    if trainer_cfg.resume and resumed is None:
        print(f"trainer.resume=true but '{last}' does not exist yet: starting from step 0.")
    run = RunContext(run_dir, plain_config, resumed["step"] if resumed else 0, resumed["loggers"] if resumed else {})
    loggers = SafeLoggers(registry.build("logger", typed["logger"], run))
    try:
        trainer = Trainer(
            trainer_cfg,
            model,
            optimizer,
            schedule,
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
    if trainer.state.step == trainer_cfg.max_steps and trainer_cfg.samples:
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
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        final = train(cfg, run_dir)
    except GptlabError as error:
        report(error)
        _remove_if_empty_run(run_dir)
        raise SystemExit(2) from None
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


def command_line_overrides(argv: list[str]) -> list[str]:
    """The ``key=value`` overrides of a Hydra command line, without its flags and their values."""
    overrides, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg in _FLAGS_WITH_VALUE
        else:
            overrides.append(arg)
    return overrides


def main() -> None:
    """Console entry point: checks the command line, then hands over to Hydra."""
    overrides = command_line_overrides(sys.argv[1:])
    try:
        prepare_registry()
        check_overrides(overrides)
        _check_output_dir(overrides)
    except GptlabError as error:
        report(error)
        raise SystemExit(2) from None
    hydra_main()


if __name__ == "__main__":
    main()
