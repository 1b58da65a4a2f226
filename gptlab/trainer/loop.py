"""The training loop. It gets built components and knows nothing about which ones they are.

The hot loop never waits for the GPU: the loss, the gradient norm and the model's metrics stay
on the device until a log step. The divergence guard still never lets a non-finite step change
the weights: with a fused torch optimizer (AdamW on CUDA and CPU) the finiteness flag computed
on the device is handed to the optimizer as ``found_inf``, the flag torch's fused kernels already
take from the grad scaler, so such a step is a no-op there and the run stops (or, with
``trainer.on_nonfinite=skip``, goes on) at the next log step, before any checkpoint is written.
The tradeoff: the finite steps between a bad step and that log step do train. Other optimizers
read the flag every step (one small host sync) and stop at once, as before.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gptlab.data.loader import RandomWindowLoader
from gptlab.distributed.parallelize import PreparedModel
from gptlab.distributed.precision import autocast
from gptlab.errors import GptlabError
from gptlab.logger import SafeLoggers
from gptlab.trainer import checkpoint
from gptlab.trainer.budget import Budget, steps_for_time
from gptlab.trainer.config import TrainerConfig
from gptlab.trainer.evaluate import evaluate
from gptlab.trainer.progress import TrainingProgress
from gptlab.trainer.speed import SpeedMeter, describe, synchronize
from gptlab.trainer.stages import shape_at
from gptlab.trainer.stop import StopRequest

TIME_CALIBRATION_STEPS = 10  # a time budget measures this many steps before fixing the step count


def process_start_time() -> float:
    """When this process started (time.time() scale): the command's start, imports included."""
    try:
        import psutil

        return psutil.Process().create_time()
    except ImportError:  # psutil is optional: the time this module was imported instead
        return IMPORTED_AT


IMPORTED_AT = time.time()


@dataclass
class TrainState:
    step: int = 0
    tokens_seen: int = 0
    best_val_loss: float = math.inf
    max_steps: int = 0  # the budget's steps (a time budget sets it after measuring the speed)
    train_seconds: float = 0.0  # time spent in training steps, across resumes
    skipped_steps: int = 0  # steps dropped for a non-finite loss or gradient
    target_step: int = 0  # the first step whose val loss reached trainer.target_val_loss (0: not yet)


class Divergence(GptlabError):
    """The loss or the gradient stopped being finite."""


class NonfiniteSteps:
    """Device-side record of steps whose loss or gradient was not finite: how many, the longest
    run in a row, and the first one's step, loss and gradient norm (read at log steps only)."""

    def __init__(self, device: torch.device):
        self.counts = torch.zeros(3, dtype=torch.int64, device=device)  # total, current run, longest run
        self.first = torch.full((3,), -1.0, dtype=torch.float64, device=device)  # step, loss, grad norm

    def add(self, finite: torch.Tensor, step: int, loss: torch.Tensor, grad_norm: torch.Tensor) -> None:
        bad = (~finite).long()
        total, run, longest = self.counts.unbind()
        run = (run + 1) * bad
        self.counts = torch.stack([total + bad, run, torch.maximum(longest, run)])
        values = torch.stack(
            [torch.full((), step, dtype=torch.float64, device=loss.device), loss.double(), grad_norm.double()]
        )
        self.first = torch.where((self.first[0] < 0) & (bad > 0), values, self.first)

    def read(self) -> tuple[int, int, tuple[float, float, float]]:
        """(total, longest run, (first step, its loss, its gradient norm)); one host sync."""
        counts, first = self.counts.tolist(), self.first.tolist()
        return counts[0], counts[2], (first[0], first[1], first[2])


class Trainer:
    """Trains ``prepared.model`` to the budget's end through ``prepared.forward`` (the model compiled
    and/or wrapped by a data-parallel strategy: ``gptlab/distributed/``). Only the main process of
    ``prepared.world`` writes checkpoints, logs and prints; every process joins in saving and evaluating."""

    def __init__(
        self,
        *,
        cfg: TrainerConfig,
        prepared: PreparedModel,
        optimizer: torch.optim.Optimizer,
        schedule_for: Callable[[int], Callable[[int], float]],
        budget: Budget,
        loader: RandomWindowLoader,
        val_tokens: np.ndarray | list[np.ndarray],
        token_bytes: torch.Tensor,
        loggers: SafeLoggers,
        run_dir: Path,
        extra_state: dict[str, Any],
    ):
        self.cfg, self.optimizer = cfg, optimizer
        self.model, self.forward, self.prepared = prepared.model, prepared.forward, prepared
        self.strategy, self.world, self.device = prepared.strategy, prepared.world, prepared.world.device
        self.schedule_for, self.budget = schedule_for, budget  # schedule_for(max_steps) -> step -> lr factor
        self.loader, self.val_tokens, self.token_bytes = loader, val_tokens, token_bytes
        self.loggers, self.run_dir = loggers, run_dir
        self.extra_state = extra_state  # saved verbatim in every checkpoint (config, tokenizer)
        self.stop_reason: str | None = None  # why fit() ended before the budget's end
        self.then: Callable[[], None] | None = None  # a scheduler's signal handler to run once wound up
        self.stop_signal: int | None = None
        self.eval_block_size = loader.block_size  # the model's context; stages may train on shorter ones
        # a time budget starts with trainer.max_steps as a placeholder until the speed is measured
        self.state = TrainState(max_steps=budget.steps or cfg.max_steps)
        self.consecutive_skips = 0  # non-finite steps skipped in a row (trainer.on_nonfinite=skip)
        self.schedule = schedule_for(self.state.max_steps)
        self.autocast = autocast(self.device, prepared.dtype)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=prepared.dtype == torch.float16)
        # torch's fused optimizers skip a step on the device when found_inf is set (see the module doc)
        fused = optimizer.defaults.get("fused") and getattr(optimizer, "_step_supports_amp_scaling", False)
        self.guard_on_device = bool(fused) and self.strategy.device_skip and not self.scaler.is_enabled()
        self.nonfinite = NonfiniteSteps(self.device)
        self.reported_skips = 0  # non-finite steps already reported from self.nonfinite
        self.meter = SpeedMeter(self.device, budget.flops_per_token or 0, self.world.world_size)
        for group in optimizer.param_groups:
            group.setdefault("base_lr", group["lr"])

    @property
    def tokens_per_step(self) -> int:
        """Tokens of one optimizer step on this rank (the global step is world_size times this)."""
        return self.loader.batch_size * self.cfg.grad_accum_steps * self.loader.block_size

    def follow_stages(self) -> None:
        """Give the loader the context length and batch size of the current stage (trainer.stages)."""
        self.loader.block_size, self.loader.batch_size = shape_at(
            self.state.step, self.cfg.stages, self.eval_block_size, self.cfg.batch_size
        )

    # ------------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        """The whole training state; with FSDP every rank must call it (it gathers the shards)."""
        return {
            "format": 1,
            "step": self.state.step,
            "tokens_seen": self.state.tokens_seen,
            "best_val_loss": self.state.best_val_loss,
            "max_steps": self.state.max_steps,
            "train_seconds": self.state.train_seconds,
            "skipped_steps": self.state.skipped_steps,
            "world_size": self.world.world_size,
            "model": self.strategy.model_state(self.model),
            "optimizer": self.strategy.optimizer_state(self.model, self.optimizer),
            "scaler": self.scaler.state_dict(),
            "loader": self.loader.state_dict(),
            "rng": checkpoint.rng_states(),
            "loggers": self.loggers.state(),
            **self.extra_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Every rank loads the same full checkpoint (rank 0 wrote it)."""
        self.strategy.load_model_state(self.model, state["model"])
        self.strategy.load_optimizer_state(self.model, self.optimizer, state["optimizer"])
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
        self.reported_skips = 0
        if measured:
            self.budget.steps = self.state.max_steps
        self.schedule = self.schedule_for(self.state.max_steps)  # spans the new length: see README, Resume

    def save(self, which: str, also: str | None = None) -> None:
        """Write the training state as checkpoint ``which``, and as ``also`` too (a link, not a second write)."""
        state = self.state_dict()
        if self.world.is_main:
            path = checkpoint.checkpoint_path(self.run_dir, which)
            checkpoint.save(state, path)
            if also is not None:
                checkpoint.copy_as(path, checkpoint.checkpoint_path(self.run_dir, also))
        self.world.barrier()

    # ------------------------------------------------------------------------------ steps

    def train_step(self) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """One optimizer step over ``grad_accum_steps`` micro-batches: (loss, grad norm, the model's
        metrics), all still on the device. Gradients are all-reduced on the last micro-batch only.

        A non-finite loss or gradient never changes the weights: the step is dropped on the device
        (fused optimizers) or here (others), and :meth:`check_nonfinite` decides whether to stop.
        """
        self.follow_stages()
        multiplier = self.schedule(self.state.step)
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] * multiplier
        accum = self.cfg.grad_accum_steps
        total = torch.zeros((), device=self.device)
        metrics: dict[str, torch.Tensor] = {}
        for micro in range(accum):
            x, y, doc_ids = (
                self.loader.next_batch_with_docs() if self.loader.doc_mask else (*self.loader.next_batch(), None)
            )
            with self.strategy.gradient_sync(self.prepared.wrapped, micro == accum - 1):
                with self.autocast:  # doc_ids (data.doc_mask) keep attention inside each document
                    out = self.forward(x, y) if doc_ids is None else self.forward(x, y, doc_ids=doc_ids)
                loss = out.loss / accum
                self.scaler.scale(loss).backward()
            total += loss.detach()
            for key, value in out.metrics.items():
                metrics[key] = metrics.get(key, 0.0) + value.detach().float() / accum
        self.scaler.unscale_(self.optimizer)
        max_norm = self.cfg.grad_clip if self.cfg.grad_clip > 0 else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        if hasattr(grad_norm, "full_tensor"):  # FSDP: a sharded DTensor
            grad_norm = grad_norm.full_tensor()
        finite = torch.isfinite(total) & torch.isfinite(grad_norm)
        if self.world.world_size > 1:  # every rank takes the same decision
            finite = finite.int()
            torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
            finite = finite.bool()
        if self.scaler.is_enabled():  # float16: the scaler skips overflowing steps itself
            self.step_with_scaler(total, grad_norm)
        elif self.guard_on_device:
            self.optimizer.found_inf = (~finite).float()
            self.optimizer.step()
            self.nonfinite.add(finite, self.state.step + 1, total, grad_norm)
        elif bool(finite):  # one host sync: the optimizer cannot skip the step on the device
            self.optimizer.step()
            self.consecutive_skips = 0
        else:
            self.diverged(total.item(), grad_norm.item())
        self.optimizer.zero_grad(set_to_none=True)
        self.state.step += 1
        self.state.tokens_seen += self.tokens_per_step * self.world.world_size
        return total, grad_norm, metrics

    def step_with_scaler(self, loss: torch.Tensor, grad_norm: torch.Tensor) -> None:
        if math.isfinite(loss.item()):
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.consecutive_skips = 0
        else:
            self.diverged(loss.item(), grad_norm.item())

    def diverged(self, loss: float, grad_norm: float) -> None:
        """A dropped step (host-side guard): stop unless trainer.on_nonfinite=skip allows it."""
        what = f"the loss is {loss} and the gradient norm {grad_norm} at step {self.state.step + 1}"
        self.state.skipped_steps += 1
        self.consecutive_skips += 1
        if self.cfg.on_nonfinite == "skip" and self.consecutive_skips <= self.cfg.max_skipped_steps:
            print(f"skipping the step: {what} (trainer.on_nonfinite=skip)")
            return
        raise self.divergence(what)

    def divergence(self, what: str) -> Divergence:
        return Divergence(
            f"Training diverged: {what}. The last checkpoint is kept as it was. Lower optimizer.lr, add "
            f"warmup (schedule.warmup_steps) or clipping (trainer.grad_clip), or skip such steps with "
            f"trainer.on_nonfinite=skip (now {self.cfg.on_nonfinite}, at most trainer.max_skipped_steps="
            f"{self.cfg.max_skipped_steps} in a row)."
        )

    def check_nonfinite(self) -> None:
        """At a log step (device-side guard): account for the steps the optimizer dropped since the last
        check; stop unless trainer.on_nonfinite=skip allows them (runs of at most max_skipped_steps)."""
        if not self.guard_on_device:
            return
        total, longest, (step, loss, grad_norm) = self.nonfinite.read()
        new = total - self.reported_skips
        if not new:
            return
        self.reported_skips = total
        self.state.skipped_steps += new
        what = f"the loss is {loss} and the gradient norm {grad_norm} at step {int(step)}"
        if self.cfg.on_nonfinite == "skip" and longest <= self.cfg.max_skipped_steps:
            if self.world.is_main:
                print(f"skipped {new} step(s) since the last log step, the first as {what} (trainer.on_nonfinite=skip)")
            return
        raise self.divergence(what)

    def evaluate(self) -> dict[str, float]:
        return evaluate(
            self.prepared.wrapped,
            self.val_tokens,
            self.token_bytes,
            block_size=self.eval_block_size,
            batch_size=self.cfg.batch_size,
            num_batches=self.cfg.eval_batches,
            device=self.device,
            autocast=self.autocast,
            rank=self.world.rank,
            world_size=self.world.world_size,
        )

    # ------------------------------------------------------------------------------- loop

    def fit(self) -> dict[str, float]:
        """Train to the budget's end (or ``stop_at_step``); returns the last evaluation's metrics.

        Only rank 0 shows progress and logs; every rank evaluates and joins in saving.
        """
        cfg, state, meter, main = self.cfg, self.state, self.meter, self.world.is_main
        final: dict[str, float] = {}
        budget_logged = False
        self.model.train()
        meter.restart()
        timed = self.budget.seconds is not None  # a time budget follows the GPU's clock every step
        show = cfg.progress and main
        with StopRequest(cfg.stop_signals) as stop, TrainingProgress(state.max_steps, state.step, show) as progress:
            while (
                state.step < min(cfg.stop_at_step or state.max_steps, state.max_steps)
                and not stop.requested
                and not (cfg.stop_at_target and state.target_step)
            ):
                step_start = time.perf_counter()
                loss, grad_norm, model_metrics = self.train_step()
                if timed:
                    synchronize(self.device)
                step_end = time.perf_counter()
                state.train_seconds += step_end - step_start
                meter.count(self.tokens_per_step)
                step = state.step
                if timed:
                    self.follow_time_budget(progress)
                is_eval = step % cfg.eval_every == 0 or step == state.max_steps
                if step % cfg.log_every and not is_eval:
                    continue
                speed = meter.record()  # waits for the GPU: the first host sync since the last log step
                if not timed:
                    state.train_seconds += time.perf_counter() - step_end  # the queued work that just ran
                self.check_nonfinite()
                loss_value, norm_value = self.global_mean(loss), grad_norm.item()
                record = {
                    "tokens": state.tokens_seen,
                    "train_loss": loss_value,
                    "lr": self.optimizer.param_groups[0]["lr"],
                    "grad_norm": norm_value,
                    **speed,
                    **{key: float(value) for key, value in model_metrics.items()},
                }
                if not budget_logged and self.budget.steps is not None:  # a time budget: once measured
                    record.update(self.budget.as_record())
                    budget_logged = True
                if self.budget.flops_per_token:
                    record["flops"] = float(state.tokens_seen * self.budget.flops_per_token)
                progress.update(step, loss_value, describe(speed, cfg.fp8))
                if is_eval:
                    final = self.evaluate()
                    record.update(final)
                    self.print(
                        progress,
                        f"step {step:>6}/{state.max_steps} | train loss {loss_value:.4f} | val loss "
                        f"{final['val_loss']:.4f} | val bpb {final['val_bpb']:.4f} | {describe(speed, cfg.fp8)}",
                    )
                    improved = final["val_loss"] < state.best_val_loss
                    if improved:
                        state.best_val_loss = final["val_loss"]
                    self.save(checkpoint.LAST, also=checkpoint.BEST if improved else None)
                    record.update(self.check_target(final["val_loss"], progress))
                if main:
                    self.loggers.log(step, record)
                meter.restart()
            if state.step < state.max_steps:
                self.check_nonfinite()
                self.save(checkpoint.LAST)
                self.stop_reason = stop.reason if stop.requested else f"trainer.stop_at_step={cfg.stop_at_step}"
                if cfg.stop_at_target and state.target_step and not stop.requested:
                    self.stop_reason = f"trainer.stop_at_target: val loss <= {cfg.target_val_loss}"
                self.stop_signal, self.then = stop.signum, stop.chained_handler()
                self.print(progress, f"stopped at step {state.step} ({self.stop_reason}); checkpoint saved")
        return final

    def print(self, progress: TrainingProgress, message: str) -> None:
        if self.world.is_main:
            progress.print(message)

    def check_target(self, val_loss: float, progress: TrainingProgress) -> dict[str, float]:
        """The first time the val loss reaches trainer.target_val_loss: say at which step and second."""
        target, state = self.cfg.target_val_loss, self.state
        if target is None or state.target_step or val_loss > target:
            return {}
        state.target_step = state.step
        seconds = time.time() - process_start_time()
        self.print(
            progress,
            f"target reached: val loss {val_loss:.4f} <= {target} at step {state.step}, "
            f"{seconds:.1f} s after the command started ({state.train_seconds:.1f} s of training steps)",
        )
        return {"target_step": state.step, "target_seconds": seconds}

    def global_mean(self, value: torch.Tensor) -> float:
        """The mean of a per-rank scalar over the ranks (a log step: every rank is here)."""
        if self.world.world_size > 1:
            value = value.detach().clone()
            torch.distributed.all_reduce(value)  # a sum: gloo has no average
            value /= self.world.world_size
        return value.item()

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
                f"({state.max_steps * self.tokens_per_step * self.world.world_size:,} tokens) in {seconds / 60:g} minutes",
            )
        elif state.train_seconds >= seconds and state.step < state.max_steps:
            state.max_steps = self.budget.steps = state.step  # out of time: this step is the last (final eval)
