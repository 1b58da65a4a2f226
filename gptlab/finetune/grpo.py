"""GRPO: Group Relative Policy Optimization (Shao et al. 2024, DeepSeekMath, arXiv:2402.03300).

For each prompt the policy samples a group of G completions; a verifiable reward scores each, and
a completion's advantage is its reward standardized within its group, (r - mean) / std, so no value
network is needed. The loss per completion token is the PPO clipped objective
-min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A) with ratio = pi / pi_old, plus beta times the
unbiased KL estimate pi_ref / pi - log(pi_ref / pi) - 1 to the reference (initial) model, averaged
over each completion's tokens and then over the completions (the paper's eq. 3).

    python -m gptlab.finetune.grpo +experiment=grpo trainer.init_from=SFT_RUN_DIR

starts from a fine-tuned run (its chat template renders the prompts), trains for
``trainer.max_steps`` steps of ``finetune.grpo.prompts_per_step`` prompts, logs the reward mean and
std and the accuracy of the samples, and the greedy pass@1 on held-out problems every
``finetune.grpo.eval_every`` steps; the run dir gets a checkpoint like a training run's.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from torch import nn

from gptlab import registry
from gptlab.config import CONFIG_DIR, CONFIG_NAME, prepare_registry
from gptlab.device import resolve_device
from gptlab.errors import ConfigError, reported
from gptlab.finetune.config import finetune_config
from gptlab.finetune.evaluate import pass_at_1
from gptlab.finetune.grpo_config import GRPOConfig
from gptlab.finetune.init_from import BaseRun
from gptlab.finetune.prompter import Prompter
from gptlab.finetune.sampler import complete
from gptlab.logger import RunContext, SafeLoggers
from gptlab.run.resolved import ResolvedRun
from gptlab.trainer import checkpoint

Problem = tuple[str, str]  # (question, answer)


def group_advantages(rewards: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """(prompts, group) rewards -> each reward standardized within its group (0 for a group of equal rewards)."""
    mean, std = rewards.mean(dim=1, keepdim=True), rewards.std(dim=1, keepdim=True)
    return (rewards - mean) / (std + eps)


def token_logprobs(model: nn.Module, sequences: torch.Tensor, temperature: float) -> torch.Tensor:
    """(rows, length - 1): log-probability of each next token of ``sequences`` under ``model``."""
    logits = model(sequences[:, :-1]).logits.float() / temperature
    return torch.log_softmax(logits, dim=-1).gather(-1, sequences[:, 1:, None])[..., 0]


def grpo_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_eps: float,
    kl_coef: float = 0.0,
    ref_logprobs: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The GRPO objective to minimize; tensors are (rows, tokens) but ``advantages`` (rows,)."""
    ratio = torch.exp(logprobs - old_logprobs)
    gain = ratio * advantages[:, None]
    if clip_eps > 0:
        gain = torch.minimum(gain, ratio.clamp(1 - clip_eps, 1 + clip_eps) * advantages[:, None])
    per_token = -gain
    metrics = {}
    if kl_coef > 0:
        log_ratio = ref_logprobs - logprobs
        kl = torch.exp(log_ratio) - log_ratio - 1
        per_token = per_token + kl_coef * kl
        metrics["kl"] = float((kl.detach() * mask).sum() / mask.sum().clamp(min=1))
    per_completion = (per_token * mask).sum(1) / mask.sum(1).clamp(min=1)
    if clip_eps > 0:
        clipped = ((ratio.detach() - 1).abs() > clip_eps).float()
        metrics["clip_fraction"] = float((clipped * mask).sum() / mask.sum().clamp(min=1))
    return per_completion.mean(), metrics


@dataclass
class Rollout:
    sequences: torch.Tensor  # (rows, length): prompt + completion, padded
    mask: torch.Tensor  # (rows, length - 1): 1 where the next token is a completion token
    rewards: torch.Tensor  # (rows,)
    advantages: torch.Tensor  # (rows,)
    old_logprobs: torch.Tensor
    ref_logprobs: torch.Tensor | None


class GRPO:
    """Samples groups, scores them and takes the clipped policy-gradient steps of GRPO."""

    def __init__(
        self,
        cfg: GRPOConfig,
        model: nn.Module,
        prompter: Prompter,
        optimizer: torch.optim.Optimizer,
        problems: list[Problem],
        reward: Callable[[str, str], float],
        seed: int = 0,
        grad_clip: float = 1.0,
    ):
        self.cfg, self.model, self.prompter, self.optimizer = cfg, model, prompter, optimizer
        self.problems, self.reward, self.grad_clip = problems, reward, grad_clip
        self.reference = copy.deepcopy(model).eval().requires_grad_(False) if cfg.kl_coef > 0 else None
        self.device = next(model.parameters()).device
        self.rng = random.Random(seed)
        self.generator = torch.Generator().manual_seed(seed)

    def rollout(self, batch: list[Problem]) -> Rollout:
        """Sample a group per problem, score it and keep what the updates need."""
        cfg, group = self.cfg, self.cfg.group_size
        prompts = [self.prompter.prompt_ids(question) for question, _ in batch for _ in range(group)]
        completions = complete(
            self.model, prompts, cfg.max_new_tokens, self.prompter.end_ids, cfg.temperature, cfg.top_k, self.generator
        )
        answers = [answer for _, answer in batch for _ in range(group)]
        rewards = torch.tensor([self.reward(self.prompter.text(c), a) for c, a in zip(completions, answers)])
        length = max(len(p) + len(c) for p, c in zip(prompts, completions))
        pad = self.prompter.end_ids[0]
        sequences = torch.full((len(prompts), length), pad, dtype=torch.long)
        mask = torch.zeros(len(prompts), length - 1)
        for row, (prompt, completion) in enumerate(zip(prompts, completions)):
            sequences[row, : len(prompt) + len(completion)] = torch.tensor(prompt + completion)
            mask[row, len(prompt) - 1 : len(prompt) - 1 + len(completion)] = 1
        sequences, mask = sequences.to(self.device), mask.to(self.device)
        with torch.no_grad():
            old = token_logprobs(self.model, sequences, cfg.temperature)
            ref = token_logprobs(self.reference, sequences, cfg.temperature) if self.reference is not None else None
        advantages = group_advantages(rewards.view(len(batch), group)).flatten().to(self.device)
        return Rollout(sequences, mask, rewards, advantages, old, ref)

    def step(self, lr_factor: float = 1.0) -> dict[str, float]:
        """One GRPO step: a rollout of ``prompts_per_step`` problems, then ``epochs_per_batch`` updates."""
        cfg = self.cfg
        batch = [self.rng.choice(self.problems) for _ in range(cfg.prompts_per_step)]
        rollout = self.rollout(batch)
        for group in self.optimizer.param_groups:
            group["lr"] = group.setdefault("base_lr", group["lr"]) * lr_factor
        self.model.train()
        loss, metrics = torch.zeros(()), {}
        informative = bool(rollout.advantages.abs().sum() > 0)  # else every group had equal rewards: no signal,
        for _ in range(cfg.epochs_per_batch if informative else 0):  # and Adam's momentum alone would move weights
            logprobs = token_logprobs(self.model, rollout.sequences, cfg.temperature)
            loss, metrics = grpo_loss(
                logprobs,
                rollout.old_logprobs,
                rollout.advantages,
                rollout.mask,
                cfg.clip_eps,
                cfg.kl_coef,
                rollout.ref_logprobs,
            )
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip or float("inf"))
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        rewards = rollout.rewards
        return {
            "loss": float(loss.detach()),
            "reward_mean": float(rewards.mean()),
            "reward_std": float(rewards.std()),
            "accuracy": float((rewards == 1).float().mean()),
            "completion_tokens": float(rollout.mask.sum(1).mean()),
            "updated": float(informative),
            **metrics,
        }


def run(cfg: DictConfig, run_dir: Path) -> dict[str, float]:
    """A GRPO stage from ``trainer.init_from``: train, log, evaluate pass@1, save a checkpoint."""
    base = BaseRun.of_run(cfg)
    if base is None:
        raise ConfigError(
            "GRPO starts from a fine-tuned run: set trainer.init_from=RUN_DIR (a gptlab run, e.g. an SFT run) "
            "and data=arithmetic (problems with checkable answers)."
        )
    run = ResolvedRun.from_config(cfg)
    trainer_cfg, grpo_cfg = run.trainer, finetune_config(cfg).grpo
    reward = registry.lookup("reward", grpo_cfg.reward, key="finetune.grpo.reward").target
    source = registry.build("data", run.data)
    if not hasattr(source, "problems"):
        raise ConfigError(
            f"GRPO needs problems with checkable answers; data={run.data.name} has none. Use data=arithmetic."
        )
    device = resolve_device(trainer_cfg.device)
    if trainer_cfg.threads:
        torch.set_num_threads(trainer_cfg.threads)
    torch.manual_seed(cfg.seed)
    start = base.start(run)
    model, tokenizer = start.model.to(device), start.tokenizer
    prompter = Prompter.chat(tokenizer)
    held_out = source.problems("val", count=grpo_cfg.eval_problems)
    grpo = GRPO(
        grpo_cfg,
        model,
        prompter,
        registry.build("optimizer", run.optimizer, model),
        source.problems("train"),
        reward,
        cfg.seed,
        trainer_cfg.grad_clip,
    )
    schedule = registry.build("schedule", run.schedule, trainer_cfg.max_steps)
    loggers = SafeLoggers(registry.build("logger", run.logger, RunContext(run_dir, run.plain)))
    evaluate = lambda: pass_at_1(model, prompter, held_out, grpo_cfg.max_new_tokens)  # noqa: E731
    final = {"pass_at_1": evaluate()}
    print(f"GRPO from {base.path}: pass@1 {final['pass_at_1']:.3f} on {len(held_out)} held-out problems at step 0")
    loggers.log(0, final)
    started = time.perf_counter()
    try:
        for step in range(1, trainer_cfg.max_steps + 1):
            record = grpo.step(schedule(step - 1))
            if step % grpo_cfg.eval_every == 0 or step == trainer_cfg.max_steps:
                final = {"pass_at_1": evaluate()}
                record.update(final)
            if step % trainer_cfg.log_every == 0 or "pass_at_1" in record:
                print(
                    f"step {step:>5}/{trainer_cfg.max_steps} | reward {record['reward_mean']:.3f} "
                    f"± {record['reward_std']:.3f} | sample accuracy {record['accuracy']:.3f}"
                    + (f" | pass@1 {record['pass_at_1']:.3f}" if "pass_at_1" in record else "")
                    + f" | {time.perf_counter() - started:.0f} s"
                )
            loggers.log(step, record)
    except BaseException:
        loggers.finish(exit_code=1)
        raise
    loggers.finish()
    state = {"format": 1, "step": trainer_cfg.max_steps, "model": model.state_dict(), "config": run.plain}
    checkpoint.save({**state, "tokenizer": tokenizer.state(), "metrics": final}, checkpoint.checkpoint_path(run_dir))
    return final


@hydra.main(config_path=str(CONFIG_DIR), config_name=CONFIG_NAME, version_base="1.3")
def hydra_main(cfg: DictConfig) -> float | None:
    prepare_registry()
    with reported():
        return run(cfg, Path(HydraConfig.get().runtime.output_dir)).get("pass_at_1")


def main(argv: Any = None) -> None:
    prepare_registry()
    hydra_main()


if __name__ == "__main__":
    main()
