"""Which torch device a name (``trainer.device``, ``--device``) means on this machine."""

from __future__ import annotations

import torch

from gptlab.errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto``: the CUDA GPU, else Apple's MPS, else the CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device '{name}' asked for, but torch sees no CUDA GPU here; use cpu or auto.")
    return torch.device(name)
