"""Will the run fit: the estimated training memory (``gptlab.model.counting``, the dry run's estimate)
against the memory the device has free, checked before the model is built.

CPU: the RAM the OS reports as available; CUDA: the GPU's free memory (``torch.cuda.mem_get_info``);
other devices report nothing and are not checked. Above the free memory the run is refused with a
:class:`ConfigError`; above ``WARN_FRACTION`` of it a warning is printed and the run goes on.
"""

from __future__ import annotations

from typing import Any

import torch

from gptlab import registry
from gptlab.disk import human_bytes
from gptlab.errors import ConfigError
from gptlab.model import counting

WARN_FRACTION = 0.8


def available_bytes(device: torch.device) -> int | None:
    """Free memory for a new allocation on ``device``; None where it cannot be known."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type != "cpu":
        return None
    try:
        import psutil

        return psutil.virtual_memory().available
    except ImportError:  # Linux without psutil
        try:
            with open("/proc/meminfo") as meminfo:
                fields = dict(line.split(":", 1) for line in meminfo)
            return int(fields["MemAvailable"].split()[0]) * 1024
        except (OSError, KeyError, ValueError):
            return None


def estimated_bytes(model_cfg: Any, trainer_cfg: Any, vocab_size: int, device: torch.device) -> int:
    """The dry run's estimate of training memory for the model, batch size and the dtype it trains in on
    ``device``. A model class with a static ``counts(cfg, vocab_size, batch_size)`` is counted from its
    config; any other is built on the meta device (shapes only: no memory, but its initializers run
    through torch's reference kernels, which import the compiler stack: about 2 s at the first call)."""
    from gptlab.distributed.precision import autocast_dtype

    entry = registry.lookup("model", model_cfg.name)
    counts = getattr(entry.target, "counts", None)
    if counts is not None:
        parameters, activations = counts(registry.to_config(entry, model_cfg), vocab_size, trainer_cfg.batch_size)
    else:
        with torch.device("meta"):
            model = registry.build("model", model_cfg, vocab_size=vocab_size)
        parameters, activations = model.num_parameters(), model.activation_elements(trainer_cfg.batch_size)
    activation_bytes = torch.finfo(autocast_dtype(trainer_cfg.dtype, device)).bits // 8
    return counting.memory_bytes(parameters, activations, activation_bytes)


def check_fits(model_cfg: Any, trainer_cfg: Any, vocab_size: int, device: torch.device, refuse: bool = True) -> str:
    """Compare the estimate with the free memory of ``device``: refuse (or, with ``refuse=False``, warn)
    above it, warn near it. Returns the one-line comparison."""
    needed, free = estimated_bytes(model_cfg, trainer_cfg, vocab_size, device), available_bytes(device)
    if free is None:
        return f"memory: ~{human_bytes(needed)} to train; {device.type} reports no free memory to compare"
    line = f"memory: ~{human_bytes(needed)} to train, {human_bytes(free)} free on {device.type}"
    what = (
        f"The estimated training memory of model {model_cfg.name} (~{human_bytes(needed)}: weights, gradients, "
        f"AdamW state and the activations of one batch of trainer.batch_size={trainer_cfg.batch_size} x "
        f"model.block_size={getattr(model_cfg, 'block_size', '?')}) "
    )
    if needed > free and refuse:
        raise ConfigError(
            f"{what}is more than the {human_bytes(free)} free on {device}. Lower trainer.batch_size (with "
            f"trainer.grad_accum_steps to keep the batch), model.block_size, the model's size, or use "
            f"trainer.dtype=bfloat16; trainer.memory_check=false starts anyway."
        )
    if needed > WARN_FRACTION * free:
        print(f"warning: {what}is {needed / free:.0%} of the {human_bytes(free)} free on {device}.")
    return line
