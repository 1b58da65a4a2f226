"""The training loop. It gets built components and knows nothing about which ones they are."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gptlab.data.loader import RandomWindowLoader
from gptlab.errors import GptlabError
from gptlab.logger import SafeLoggers
from gptlab.trainer import checkpoint
from gptlab.trainer.budget import Budget, steps_for_time
from gptlab.trainer.config import TrainerConfig
from gptlab.trainer.evaluate import evaluate
from gptlab.trainer.progress import TrainingProgress
from gptlab.trainer.stages import shape_at
from gptlab.trainer.stop import StopRequest
from gptlab.world import World

TIME_CALIBRATION_STEPS = 10  # a time budget measures this many steps before fixing the step count
AUTOCAST_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class TrainState:
    step: int = 0
    tokens_seen: int = 0
    best_val_loss: float = math.inf
    max_steps: int = 0  # the budget's steps (a time budget sets it after measuring the speed)
    train_seconds: float = 0.0  # time spent in training steps, across resumes
    skipped_steps: int = 0  # steps dropped for a non-finite loss or gradient


class Divergence(GptlabError):
    """The loss or the gradient stopped being finite."""


class Trainer:
    """Trains ``model`` to the budget's end. Only the main process of ``world`` saves checkpoints and
    prints; ``train_model`` is the module forward passes go through (the model compiled or wrapped
    by a distributed strategy: ``gptlab/run/parallel.py``), ``model`` itself by default."""

    def __init__(
        self,
        *,
        cfg: TrainerConfig,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        schedule_for: Callable[[int], Callable[[int], float]],
        budget: Budget,
        loader: RandomWindowLoader,
        val_tokens: np.ndarray | list[np.ndarray],
        token_bytes: torch.Tensor,
        loggers: SafeLoggers,
        run_dir: Path,
        world: World,
        extra_state: dict[str, Any],
        train_model: nn.Module | None = None,
    ):
        self.cfg, self.model, self.optimizer = cfg, model, optimizer
        self.schedule_for, self.budget = schedule_for, budget  # schedule_for(max_steps) -> step -> lr factor
        self.loader, self.val_tokens, self.token_bytes = loader, val_tokens, token_bytes
        self.loggers, self.run_dir, self.world, self.device = loggers, run_dir, world, world.device
        self.extra_state = extra_state  # saved verbatim in every checkpoint (config, tokenizer)
        self.stop_reason: str | None = None  # why fit() ended before the budget's end
        self.then: Callable[[], None] | None = None  # a scheduler's signal handler to run once wound up
        self.stop_signal: int | None = None
        self.eval_block_size = loader.block_size  # the model's context; stages may train on shorter ones
        # a time budget starts with trainer.max_steps as a placeholder until the speed is measured
        self.state = TrainState(max_steps=budget.steps or cfg.max_steps)
        self.consecutive_skips = 0  # non-finite steps skipped in a row (trainer.on_nonfinite=skip)
        self.schedule = schedule_for(self.state.max_steps)
        self.forward = train_model if train_model is not None else model
        dtype = AUTOCAST_DTYPES[cfg.dtype]
        self.autocast = torch.autocast(self.device.type, dtype=dtype, enabled=dtype != torch.float32)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=dtype == torch.float16)
        for group in optimizer.param_groups:
            group.setdefault("base_lr", group["lr"])

    @property
    def tokens_per_step(self) -> int:
        return self.loader.batch_size * self.cfg.grad_accum_steps * self.loader.block_size

    def follow_stages(self) -> None:
        """Give the loader the context length and batch size of the current stage (trainer.stages)."""
        self.loader.block_size, self.loader.batch_size = shape_at(
            self.state.step, self.cfg.stages, self.eval_block_size, self.cfg.batch_size
        )

    # ------------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": 1,
            "step": self.state.step,
            "tokens_seen": self.state.tokens_seen,
            "best_val_loss": self.state.best_val_loss,
            "max_steps": self.state.max_steps,
            "train_seconds": self.state.train_seconds,
            "skipped_steps": self.state.skipped_steps,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "loader": self.loader.state_dict(),
            "rng": checkpoint.rng_states(),
            "loggers": self.loggers.state(),
            **self.extra_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.loader.load_state_dict(state["loader"])
        checkpoint.restore_rng_states(state["rng"])
        measured = self.budget.seconds is not None and state["step"] >= TIME_CALIBRATION_STEPS
        self.state = TrainState(
            step=state["step"],
            tokens_seen=state["tokens_seen"],
            best_val_loss=state["best_val_loss"],
            # the budget of this start (trainer.max_steps may grow on resume); a time budget keeps what it measured
            max_steps=state.get("max_steps", self.state.max_steps) if measured else self.state.max_steps,
            train_seconds=state.get("train_seconds", 0.0),
            skipped_steps=state.get("skipped_steps", 0),
        )
        if measured:
            self.budget.steps = self.state.max_steps
        self.schedule = self.schedule_for(self.state.max_steps)  # spans the new length: see README, Resume

    def save(self, which: str) -> None:
        """Write a checkpoint from the main process; every process waits until it is written."""
        if self.world.is_main:
            checkpoint.save(self.state_dict(), checkpoint.checkpoint_path(self.run_dir, which))
        self.world.barrier()

    # ------------------------------------------------------------------------------ steps

    def train_step(self) -> tuple[float, float, dict[str, float]]:
        """One optimizer step over ``grad_accum_steps`` micro-batches: (loss, grad norm, the model's metrics).

        A non-finite loss or gradient raises :class:`Divergence` before the weights change, or,
        with ``trainer.on_nonfinite=skip``, drops the step (up to ``trainer.max_skipped_steps`` in
        a row). With float16 the grad scaler handles overflowing gradients itself.
        """
        self.follow_stages()
        multiplier = self.schedule(self.state.step)
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] * multiplier
        total = torch.zeros((), device=self.device)
        metrics: dict[str, torch.Tensor] = {}
        for _ in range(self.cfg.grad_accum_steps):
            x, y, doc_ids = (
                self.loader.next_batch_with_docs() if self.loader.doc_mask else (*self.loader.next_batch(), None)
            )
            with self.autocast:  # doc_ids (data.doc_mask) keep attention inside each document
                out = self.forward(x, y) if doc_ids is None else self.forward(x, y, doc_ids=doc_ids)
            loss = out.loss / self.cfg.grad_accum_steps
            self.scaler.scale(loss).backward()
            total += loss.detach()
            for key, value in out.metrics.items():
                metrics[key] = metrics.get(key, 0.0) + value.detach().float() / self.cfg.grad_accum_steps
        self.scaler.unscale_(self.optimizer)
        max_norm = self.cfg.grad_clip if self.cfg.grad_clip > 0 else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        loss_value, norm_value = total.item(), grad_norm.item()
        finite = math.isfinite(loss_value) and (math.isfinite(norm_value) or self.scaler.is_enabled())
        if finite:
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.consecutive_skips = 0
        else:
            self.diverged(loss_value, norm_value)
        self.optimizer.zero_grad(set_to_none=True)
        self.state.step += 1
        self.state.tokens_seen += self.tokens_per_step
        return loss_value, norm_value, {key: float(value) for key, value in metrics.items()}

    def diverged(self, loss: float, grad_norm: float) -> None:
        what = f"the loss is {loss} and the gradient norm {grad_norm} at step {self.state.step + 1}"
        self.state.skipped_steps += 1
        self.consecutive_skips += 1
        if self.cfg.on_nonfinite == "skip" and self.consecutive_skips <= self.cfg.max_skipped_steps:
            print(f"skipping the step: {what} (trainer.on_nonfinite=skip)")
            return
        raise Divergence(
            f"Training diverged: {what}. The last checkpoint is kept as it was. Lower optimizer.lr, add "
            f"warmup (schedule.warmup_steps) or clipping (trainer.grad_clip), or skip such steps with "
            f"trainer.on_nonfinite=skip (now {self.cfg.on_nonfinite}, at most trainer.max_skipped_steps="
            f"{self.cfg.max_skipped_steps} in a row)."
        )

    def evaluate(self) -> dict[str, float]:
        return evaluate(
            self.forward,
            self.val_tokens,
            self.token_bytes,
            block_size=self.eval_block_size,
            batch_size=self.cfg.batch_size,
            num_batches=self.cfg.eval_batches,
            device=self.device,
            autocast=self.autocast,
        )

    # ------------------------------------------------------------------------------- loop

    def fit(self) -> dict[str, float]:
        """Train to the budget's end (or ``stop_at_step``); returns the last evaluation's metrics."""
        cfg, state = self.cfg, self.state
        final: dict[str, float] = {}
        budget_logged = False
        interval_start, interval_tokens = time.perf_counter(), 0
        self.model.train()
        show = cfg.progress and self.world.is_main
        with StopRequest(cfg.stop_signals) as stop, TrainingProgress(state.max_steps, state.step, show) as progress:
            while state.step < min(cfg.stop_at_step or state.max_steps, state.max_steps) and not stop.requested:
                step_start = time.perf_counter()
                loss, grad_norm, model_metrics = self.train_step()
                state.train_seconds += time.perf_counter() - step_start
                interval_tokens += self.tokens_per_step
                step = state.step
                if self.budget.seconds is not None:
                    self.follow_time_budget(progress)
                is_eval = step % cfg.eval_every == 0 or step == state.max_steps
                if step % cfg.log_every and not is_eval:
                    continue
                elapsed = time.perf_counter() - interval_start
                record = {
                    "tokens": state.tokens_seen,
                    "train_loss": loss,
                    "lr": self.optimizer.param_groups[0]["lr"],
                    "grad_norm": grad_norm,
                    "tokens_per_s": interval_tokens / max(elapsed, 1e-9),
                    **model_metrics,
                }
                if not budget_logged and self.budget.steps is not None:  # a time budget: once measured
                    record.update(self.budget.as_record())
                    budget_logged = True
                if self.budget.flops_per_token:
                    record["flops"] = float(state.tokens_seen * self.budget.flops_per_token)
                progress.update(step, loss, record["tokens_per_s"])
                if is_eval:
                    final = self.evaluate()
                    record.update(final)
                    self.print(
                        progress,
                        f"step {step:>6}/{state.max_steps} | train loss {loss:.4f} | val loss {final['val_loss']:.4f} "
                        f"| val bpb {final['val_bpb']:.4f} | {record['tokens_per_s']:,.0f} tok/s",
                    )
                    if final["val_loss"] < state.best_val_loss:
                        state.best_val_loss = final["val_loss"]
                        self.save(checkpoint.BEST)
                    self.save(checkpoint.LAST)
                self.loggers.log(step, record)
                interval_start, interval_tokens = time.perf_counter(), 0
            if state.step < state.max_steps:
                self.save(checkpoint.LAST)
                self.stop_reason = stop.reason if stop.requested else f"trainer.stop_at_step={cfg.stop_at_step}"
                self.stop_signal, self.then = stop.signum, stop.chained_handler()
                self.print(
                    progress,
                    f"stopped at step {state.step} ({self.stop_reason}); checkpoint saved",
                )
        return final

    def print(self, progress: TrainingProgress, message: str) -> None:
        if self.world.is_main:
            progress.print(message)

    def follow_time_budget(self, progress: TrainingProgress) -> None:
        """A time budget: fix the step count from the speed of the first steps, and end on time."""
        state, seconds = self.state, self.budget.seconds
        if state.step == TIME_CALIBRATION_STEPS and self.budget.steps is None:
            seconds_per_step = state.train_seconds / state.step
            state.max_steps = steps_for_time(seconds - state.train_seconds, seconds_per_step, state.step)
            self.budget.steps = state.max_steps
            self.schedule = self.schedule_for(state.max_steps)
            progress.set_total(state.max_steps)
            self.print(
                progress,
                f"time budget: {seconds_per_step * 1000:.1f} ms/step -> {state.max_steps:,} steps "
                f"({state.max_steps * self.tokens_per_step:,} tokens) in {seconds / 60:g} minutes",
            )
        elif state.train_seconds >= seconds and state.step < state.max_steps:
            state.max_steps = self.budget.steps = state.step  # out of time: this step is the last (final eval)
