"""Typed config of the training loop (``conf/trainer/``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from hydra.core.config_store import ConfigStore

from gptlab.errors import ConfigError
from gptlab.registry import lookup
from gptlab.trainer.budget import BudgetConfig
from gptlab.trainer.stages import StageConfig
from gptlab.trainer.stop import signal_number

DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda", "mps")
ON_NONFINITE = ("stop", "skip")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
STOP_SIGNALS = ("SIGTERM", "SIGUSR1", "SIGUSR2")  # schedulers' warnings before a kill (SIGUSR2: submitit's)


@dataclass
class TrainerConfig:
    max_steps: int = 1100  # the run's length unless trainer.budget says otherwise
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    stages: list[StageConfig] = field(default_factory=list)  # context length / batch size changes by step
    stop_at_step: Optional[int] = None  # save and exit here; the schedule still spans max_steps
    batch_size: int = 16
    grad_accum_steps: int = 1
    grad_clip: float = 1.0  # 0 disables clipping (the norm is still logged)
    eval_every: int = 275
    eval_batches: int = 16
    target_val_loss: Optional[float] = None  # print the step and second the val loss first reaches this
    stop_at_target: bool = False  # and end the run there (a speedrun)
    log_every: int = 10
    dtype: str = "auto"  # autocast dtype; auto: bfloat16 on a CUDA GPU that has it, else float32
    device: str = "auto"
    # the fast path (gptlab/distributed/): applied to the built model in this order
    fp8: bool = False  # float8 matmuls in the blocks' linear layers (torchao float8 training; CUDA, compute >= 8.9)
    fp8_head: bool = False  # the LM head's matmul in float8 (with trainer.fp8 or alone)
    low_precision_residual: bool = False  # the residual stream between blocks in bf16, not float32 (llm.c)
    activation_checkpointing: bool = False  # recompute each block's activations in the backward pass
    compile: str = "auto"  # none | model | blocks (torch.compile); auto: model on CUDA, none elsewhere
    compile_mode: str = "default"  # torch.compile mode: default | reduce-overhead (CUDA graphs) | max-autotune | max-autotune-no-cudagraphs
    tf32: bool = True  # TensorFloat-32 matmuls for float32 work on CUDA
    strategy: str = "auto"  # none | ddp | fsdp (several processes, torchrun); auto: ddp when world size > 1
    threads: int = 0  # torch CPU threads; 0 keeps torch's default
    resume: bool = False
    stop_signals: list[str] = field(default_factory=lambda: list(STOP_SIGNALS))  # save, then exit 128 + signal
    init_from: Optional[str] = None  # start from pretrained weights: hf:PATH (a Hugging Face folder) or a run dir
    on_nonfinite: str = "stop"  # stop | skip: what a non-finite loss or gradient does
    max_skipped_steps: int = 10  # with skip: stop after this many skipped steps in a row
    dry_run: bool = False  # build the model on the meta device, print its size, FLOPs and memory; read no data
    memory_check: bool = True  # refuse a run whose estimated training memory exceeds the device's free memory
    progress: bool = True
    samples: int = 2
    sample_tokens: int = 300
    sample_prompt: str = ""
    sample_temperature: float = 0.8
    sample_top_k: int = 40

    def __post_init__(self) -> None:
        for key in ("max_steps", "batch_size", "grad_accum_steps", "eval_every", "eval_batches", "log_every"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"trainer.{key}={getattr(self, key)} must be a positive integer.")
        if self.stop_at_step is not None and not 0 < self.stop_at_step <= self.max_steps:
            raise ConfigError(
                f"trainer.stop_at_step={self.stop_at_step} must lie in 1..trainer.max_steps={self.max_steps} (or be null)."
            )
        if self.grad_clip < 0:
            raise ConfigError(f"trainer.grad_clip={self.grad_clip} must be >= 0 (0 disables clipping).")
        if str(self.compile).lower() in ("true", "false"):  # the former boolean knob
            self.compile = "model" if str(self.compile).lower() == "true" else "none"
        if self.compile != "auto":
            lookup("compile", self.compile, key="trainer.compile")
        if self.strategy != "auto":
            lookup("strategy", self.strategy, key="trainer.strategy")
        if self.compile_mode not in COMPILE_MODES:
            raise ConfigError(f"trainer.compile_mode='{self.compile_mode}' is not one of {', '.join(COMPILE_MODES)}.")
        if self.dtype not in DTYPES:
            raise ConfigError(f"trainer.dtype='{self.dtype}' is not one of {', '.join(DTYPES)}.")
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise ConfigError(f"trainer.device='{self.device}' is not one of {', '.join(DEVICES)} or cuda:N.")
        if self.on_nonfinite not in ON_NONFINITE:
            raise ConfigError(f"trainer.on_nonfinite='{self.on_nonfinite}' is not one of {', '.join(ON_NONFINITE)}.")
        if self.samples < 0 or self.sample_tokens < 0 or self.threads < 0:
            raise ConfigError("trainer.samples, trainer.sample_tokens and trainer.threads must be >= 0.")
        for name in self.stop_signals:
            try:
                signal_number(name)
            except ValueError as error:
                raise ConfigError(f"trainer.stop_signals: {error}.") from None
        if self.sample_temperature <= 0:
            raise ConfigError(f"trainer.sample_temperature={self.sample_temperature} must be > 0.")


ConfigStore.instance().store(group="schema/trainer", name="default", node=TrainerConfig)
