"""Which torch device a device name means here (``auto``: CUDA, else MPS, else the CPU)."""

from __future__ import annotations

import torch

from gptlab.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` as a torch device; CUDA asked for where none exists is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.device='{name}' but torch sees no CUDA GPU here; use trainer.device=cpu or auto.")
    return torch.device(name)
