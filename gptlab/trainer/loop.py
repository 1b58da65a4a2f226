"""The training loop. It gets built components and knows nothing about which ones they are."""

from __future__ import annotations

import math
import signal
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
from gptlab.trainer.config import TrainerConfig
from gptlab.trainer.evaluate import evaluate
from gptlab.trainer.progress import TrainingProgress

AUTOCAST_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class TrainState:
    step: int = 0
    tokens_seen: int = 0
    best_val_loss: float = math.inf


class StopRequest:
    """Turns the first Ctrl-C into a request to stop at the next step boundary (after saving)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> StopRequest:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:  # a second Ctrl-C stops at once; the last checkpoint stays intact
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGINT, self._previous)


class Trainer:
    def __init__(
        self,
        cfg: TrainerConfig,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        schedule: Callable[[int], float],
        loader: RandomWindowLoader,
        val_tokens: np.ndarray,
        token_bytes: torch.Tensor,
        loggers: SafeLoggers,
        run_dir: Path,
        device: torch.device,
        extra_state: dict[str, Any],
        flops_per_token: int = 0,
    ):
        self.cfg, self.model, self.optimizer, self.schedule = cfg, model, optimizer, schedule
        self.loader, self.val_tokens, self.token_bytes = loader, val_tokens, token_bytes
        self.loggers, self.run_dir, self.device = loggers, run_dir, device
        self.extra_state = extra_state  # saved verbatim in every checkpoint (config, tokenizer)
        self.flops_per_token = flops_per_token  # > 0: each record also logs the training FLOPs so far
        self.state = TrainState()
        self.forward = torch.compile(model) if cfg.compile else model
        dtype = AUTOCAST_DTYPES[cfg.dtype]
        self.autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)
        self.scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
        for group in optimizer.param_groups:
            group.setdefault("base_lr", group["lr"])

    @property
    def tokens_per_step(self) -> int:
        return self.cfg.batch_size * self.cfg.grad_accum_steps * self.loader.block_size

    # ------------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": 1,
            "step": self.state.step,
            "tokens_seen": self.state.tokens_seen,
            "best_val_loss": self.state.best_val_loss,
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
        self.state = TrainState(state["step"], state["tokens_seen"], state["best_val_loss"])

    def save(self, which: str) -> None:
        checkpoint.save(self.state_dict(), checkpoint.checkpoint_path(self.run_dir, which))

    # ------------------------------------------------------------------------------ steps

    def train_step(self) -> tuple[float, float, dict[str, float]]:
        """One optimizer step over ``grad_accum_steps`` micro-batches: (loss, grad norm, the model's metrics)."""
        multiplier = self.schedule(self.state.step)
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] * multiplier
        total = torch.zeros((), device=self.device)
        metrics: dict[str, torch.Tensor] = {}
        for _ in range(self.cfg.grad_accum_steps):
            x, y = self.loader.next_batch()
            with self.autocast:
                out = self.forward(x, y)
            loss = out.loss / self.cfg.grad_accum_steps
            self.scaler.scale(loss).backward()
            total += loss.detach()
            for key, value in out.metrics.items():
                metrics[key] = metrics.get(key, 0.0) + value.detach().float() / self.cfg.grad_accum_steps
        self.scaler.unscale_(self.optimizer)
        max_norm = self.cfg.grad_clip if self.cfg.grad_clip > 0 else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.step += 1
        self.state.tokens_seen += self.tokens_per_step
        return total.item(), grad_norm.item(), {key: float(value) for key, value in metrics.items()}

    def evaluate(self) -> dict[str, float]:
        return evaluate(
            self.forward,
            self.val_tokens,
            self.token_bytes,
            self.loader.block_size,
            self.cfg.batch_size,
            self.cfg.eval_batches,
            self.device,
            self.autocast,
        )

    # ------------------------------------------------------------------------------- loop

    def fit(self) -> dict[str, float]:
        """Train to ``max_steps`` (or ``stop_at_step``); returns the last evaluation's metrics."""
        cfg = self.cfg
        end = cfg.stop_at_step or cfg.max_steps
        final: dict[str, float] = {}
        interval_start, interval_tokens = time.perf_counter(), 0
        self.model.train()
        with StopRequest() as stop, TrainingProgress(cfg.max_steps, self.state.step, cfg.progress) as progress:
            while self.state.step < end and not stop.requested:
                loss, grad_norm, model_metrics = self.train_step()
                interval_tokens += self.tokens_per_step
                step = self.state.step
                if not math.isfinite(loss):
                    raise GptlabError(
                        f"The training loss became {loss} at step {step}. The last checkpoint is kept as it was; "
                        f"lower optimizer.lr, add warmup (schedule.warmup_steps) or clipping (trainer.grad_clip)."
                    )
                is_eval = step % cfg.eval_every == 0 or step == cfg.max_steps
                if step % cfg.log_every and not is_eval:
                    continue
                elapsed = time.perf_counter() - interval_start
                record = {
                    "tokens": self.state.tokens_seen,
                    "train_loss": loss,
                    "lr": self.optimizer.param_groups[0]["lr"],
                    "grad_norm": grad_norm,
                    "tokens_per_s": interval_tokens / max(elapsed, 1e-9),
                    **model_metrics,
                }
                if self.flops_per_token:
                    record["flops"] = float(self.state.tokens_seen * self.flops_per_token)
                progress.update(step, loss, record["tokens_per_s"])
                if is_eval:
                    final = self.evaluate()
                    record.update(final)
                    progress.print(
                        f"step {step:>6}/{cfg.max_steps} | train loss {loss:.4f} | val loss {final['val_loss']:.4f} "
                        f"| val bpb {final['val_bpb']:.4f} | {record['tokens_per_s']:,.0f} tok/s"
                    )
                    if final["val_loss"] < self.state.best_val_loss:
                        self.state.best_val_loss = final["val_loss"]
                        self.save(checkpoint.BEST)
                    self.save(checkpoint.LAST)
                self.loggers.log(step, record)
                interval_start, interval_tokens = time.perf_counter(), 0
            if self.state.step < cfg.max_steps:
                self.save(checkpoint.LAST)
                reason = "Ctrl-C" if stop.requested else f"trainer.stop_at_step={cfg.stop_at_step}"
                progress.print(
                    f"stopped at step {self.state.step} ({reason}); continue with trainer.resume=true "
                    f"hydra.run.dir={self.run_dir}"
                )
        return final
