"""Build a run's components from its typed config: data, tokenizer, model, optimizer, budget, loader.

The trainer gets these built and knows nothing about which ones they are (STYLE.md). The data
loader keeps ``world``'s slice of every global batch; the model is built on ``world.device``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from gptlab import memory, registry
from gptlab.data.cache import TokenSplits
from gptlab.data.loader import RandomWindowLoader
from gptlab.data.prepare import load_or_build
from gptlab.distributed.parallelize import PreparedModel
from gptlab.errors import ConfigError
from gptlab.hf.init import TrainedTokenizer
from gptlab.run.parallel import wrap_model
from gptlab.run.resolved import ResolvedRun
from gptlab.trainer.budget import Budget, resolve_budget
from gptlab.trainer.stages import token_segments
from gptlab.world import World


@dataclass
class RunComponents:
    splits: TokenSplits
    tokenizer: Any
    model: nn.Module
    optimizer: torch.optim.Optimizer
    budget: Budget
    loader: RandomWindowLoader
    flops_per_token: int
    prepared: PreparedModel  # the model ready to train (compiled, wrapped by the strategy)

    def schedule_for(self, run: ResolvedRun):
        """``max_steps -> (step -> lr factor)``: the schedule spans whatever length the run ends up with."""
        return lambda max_steps: registry.build("schedule", run.schedule, max_steps)


def check_document_masking(model: nn.Module, model_cfg: Any) -> None:
    """data.doc_mask needs an attention kernel that takes a mask (the loader's document ids)."""
    kernels = {type(m.kernel).__name__: m.kernel for m in model.modules() if hasattr(m, "kernel")}
    lacking = sorted(name for name, kernel in kernels.items() if "mask" not in kernel.features)
    if lacking:
        raise ConfigError(
            f"data.doc_mask=true keeps attention inside documents, but model.attention="
            f"{getattr(model_cfg, 'attention', '?')} ({', '.join(lacking)}) takes no mask. Use model.attention=sdpa "
            f"or math, or data.doc_mask=false."
        )


def load_pretrained(run: ResolvedRun) -> Any | None:
    """``trainer.init_from`` (``gptlab/hf/init.py``): the pretrained model and tokenizer, or None. Its
    architecture becomes ``run.model`` (in ``run.plain`` too, so checkpoints and resumes see it); a
    Hugging Face model takes the run's context (model.block_size), attention kernel and dropout."""
    if not run.trainer.init_from:
        return None
    from gptlab.hf import init_from

    keep = {key: getattr(run.model, key, None) for key in ("block_size", "attention", "dropout")}
    pretrained = init_from(run.trainer.init_from, **keep)
    run.model, run.plain["model"] = pretrained.config, asdict(pretrained.config)
    print(
        f"init_from: {run.trainer.init_from} ({pretrained.model.num_parameters():,} parameters, "
        f"tokenizer {pretrained.tokenizer.name})"
    )
    return pretrained


def read_data(run: ResolvedRun, pretrained: Any | None = None) -> tuple[Any, TokenSplits]:
    """The data source and its token splits (tokenized into the cache on the first use), with the
    pretrained tokenizer when there is one."""
    source = registry.build("data", run.data)
    if hasattr(pretrained, "token_splits"):  # fine-tuning (gptlab/finetune/): conversations with loss masks
        splits = pretrained.token_splits(source, run.model.block_size)
    elif pretrained is not None:
        tokenizer = TrainedTokenizer(pretrained.tokenizer)
        splits = load_or_build(source, tokenizer, tokenizer.cache_config(), run.cache_dir)
    else:
        splits = load_or_build(source, registry.build("tokenizer", run.tokenizer), run.tokenizer, run.cache_dir)
    block_size = run.model.block_size
    longest_val = max(len(shard.tokens) for shard in splits.val)  # an evaluation window lies in one shard
    if longest_val <= block_size:
        raise ConfigError(
            f"model.block_size={block_size} is longer than the validation split of {source.describe()} "
            f"({longest_val} tokens in its longest shard). Use model.block_size <= {longest_val - 1}, a larger "
            f"data.val_fraction or data.shard_tokens, or more text."
        )
    return source, splits


def build_components(run: ResolvedRun, world: World, pretrained: Any | None = None) -> RunComponents:
    source, splits = read_data(run, pretrained)
    tokenizer, trainer_cfg = splits.tokenizer, run.trainer
    if pretrained is not None:
        model = pretrained.model.to(world.device)
    else:
        if trainer_cfg.memory_check:  # refuse, before building, a model that cannot fit the device
            memory.check_fits(run.model, trainer_cfg, tokenizer.vocab_size, world.device)
        model = registry.build("model", run.model, vocab_size=tokenizer.vocab_size).to(world.device)
    flops_per_token = model.flops_per_token()
    if world.is_main:
        print(
            f"model: {run.model.name} with {model.num_parameters():,} parameters "
            f"({model.num_parameters(non_embedding=True):,} non-embedding), {flops_per_token:,} training FLOPs "
            f"per token | data: {source.describe()}, {splits.num_tokens('train'):,} train / "
            f"{splits.num_tokens('val'):,} val tokens, vocab {tokenizer.vocab_size} | device: {world.device}"
        )
    if run.data.doc_mask:
        check_document_masking(model, run.model)
    num_parameters = model.num_parameters()
    prepared = wrap_model(model, world, trainer_cfg)  # before the optimizer: FSDP2 shards the parameters
    if world.is_main:
        print(prepared.describe())
    optimizer = registry.build("optimizer", run.optimizer, model)
    segments = token_segments(
        trainer_cfg.stages, run.model.block_size, trainer_cfg.batch_size, trainer_cfg.grad_accum_steps
    )
    budget = resolve_budget(trainer_cfg.budget, trainer_cfg.max_steps, segments, num_parameters, flops_per_token)
    if world.is_main:
        print(budget.describe())
    loader = RandomWindowLoader(
        splits.train,
        run.model.block_size,
        trainer_cfg.batch_size,
        run.seed,
        world.device,
        doc_starts=run.data.doc_starts,
        doc_mask=run.data.doc_mask,
        rank=world.rank,
        world_size=world.world_size,
    )
    return RunComponents(splits, tokenizer, model, optimizer, budget, loader, flops_per_token, prepared)
