"""``gptlab.load``: a trained run's model, tokenizer and config in one call, on any machine.

    import gptlab
    model, tokenizer, config = gptlab.load("outputs/2026-11-30/12-00-00")   # best checkpoint, eval mode
    run = gptlab.load("outputs/.../checkpoints/last.pt", device="cpu")     # run.model, run.tokenizer, ...

The attention kernel is chosen when the model is built: a model trained with a kernel this machine
cannot run (flash4 or flex on a GPU, loaded on a laptop) falls back to sdpa or math with one logged line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gptlab import registry
from gptlab.device import resolve_device
from gptlab.errors import GptlabError
from gptlab.tokenizer import Tokenizer, tokenizer_from_state
from gptlab.trainer import checkpoint as checkpoints


@dataclass
class LoadedRun:
    """What :func:`load` returns; unpacks as ``model, tokenizer, config``."""

    model: nn.Module  # in eval mode, on the device asked for
    tokenizer: Tokenizer
    config: Any  # the model's typed config (GPTConfig for model=gpt)
    run_config: dict[str, Any] = field(default_factory=dict)  # the whole resolved run config, as plain containers
    path: Path | None = None  # the checkpoint file read
    step: int = 0  # the training step the checkpoint was saved at

    def __iter__(self) -> Iterator[Any]:
        return iter((self.model, self.tokenizer, self.config))


def checkpoint_file(path: str | Path, prefer: str = "best") -> Path:
    """The checkpoint file that ``path`` names: the file itself, or a run dir's best (or last) checkpoint."""
    path = Path(path).expanduser()
    if path.is_file():
        return path
    if prefer not in ("best", "last"):
        raise GptlabError(f"checkpoint='{prefer}' must be 'best' or 'last'.")
    return checkpoints.find(path, prefer=f"{prefer}.pt")


def model_from_state(state: dict[str, Any], source: Path | str = "the checkpoint") -> tuple[nn.Module, Tokenizer]:
    """The model (weights loaded, on the CPU) and tokenizer that a checkpoint's state holds."""
    missing = [key for key in ("config", "model", "tokenizer") if key not in state]
    if missing:
        raise GptlabError(
            f"{source} holds no {', '.join(missing)}: it is not a gptlab training checkpoint "
            f"(gptlab-train writes checkpoints/best.pt and last.pt with the model, its config and its tokenizer)."
        )
    tokenizer = tokenizer_from_state(state["tokenizer"])
    model = registry.build("model", state["config"]["model"], vocab_size=tokenizer.vocab_size)
    model.load_state_dict(state["model"])
    return model, tokenizer


def _holds_adapters(state: dict[str, Any]) -> bool:
    lora = ((state.get("config") or {}).get("finetune") or {}).get("lora") or {}
    return int(lora.get("rank") or 0) > 0


def load(path: str | Path, device: str | torch.device = "auto", checkpoint: str = "best") -> LoadedRun:
    """Load a run dir (its ``checkpoint``: best, else last) or a checkpoint file onto ``device``."""
    file = checkpoint_file(path, checkpoint)
    target = device if isinstance(device, torch.device) else resolve_device(device)
    state = checkpoints.load(file, map_location="cpu")
    if _holds_adapters(state):  # a LoRA run saves adapters only: its base run's weights, adapters merged in
        from gptlab.finetune.init_from import BaseRun

        base = BaseRun.open(str(file))
        model, tokenizer = base.model(), base.tokenizer
    else:
        model, tokenizer = model_from_state(state, file)
    return LoadedRun(
        model=model.to(target).eval(),
        tokenizer=tokenizer,
        config=model.cfg,
        run_config=state["config"],
        path=file,
        step=int(state.get("step", 0)),
    )


def train(overrides: dict[str, Any] | list[str] | None = None, run_dir: str | Path | None = None) -> dict[str, float]:
    """Train a run from Python, composed exactly as ``gptlab-train`` composes it; returns the final metrics.

        gptlab.train({"model.n_layer": 1, "trainer.max_steps": 50}, run_dir="outputs/from-python")

    ``overrides``: a dict of dotted keys (or a list of ``key=value`` strings, group choices such as
    ``optimizer=adamw`` included). ``run_dir``: where the run writes (default outputs/python/<time>).
    """
    import time

    from omegaconf import OmegaConf

    from gptlab.config import compose_config
    from gptlab.train import train as train_run

    if isinstance(overrides, dict):
        overrides = [f"{key}={_override_value(value)}" for key, value in overrides.items()]
    cfg = compose_config(list(overrides or []))
    run_dir = Path(run_dir or Path("outputs") / "python" / time.strftime("%Y-%m-%d_%H-%M-%S"))
    run_dir.mkdir(parents=True, exist_ok=True)
    # .hydra/ is written once the start is accepted; overrides.yaml lets `gptlab-train --resume RUN_DIR` continue it
    return train_run(cfg, run_dir, run_files={"config.yaml": cfg, "overrides.yaml": OmegaConf.create(overrides)})


def _override_value(value: Any) -> str:
    """A Python value as Hydra's override grammar writes it (lists and dicts as JSON-like text)."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, (list, tuple, dict)):
        import json

        return json.dumps(value)
    return str(value)
