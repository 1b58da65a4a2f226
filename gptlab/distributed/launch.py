"""What the processes of one torchrun launch agree on before Hydra composes the config.

Hydra names the run dir after the time each process starts (``${now:...}``), so ranks started a
second apart would write into different folders. ``share_start_time`` joins the process group
(gloo for CPU tensors, NCCL for CUDA ones), broadcasts rank 0's clock and makes Hydra's ``now``
resolver read it on every rank: one run dir (and one sweep dir) for all of them.
"""

from __future__ import annotations

import os
from datetime import datetime


def world_size_from_env() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def join_process_group() -> None:
    """The default process group of a torchrun launch (a no-op when already joined)."""
    import torch  # here, not at the top: a single process (``--cfg job`` too) never needs it
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo")


def share_start_time() -> datetime | None:
    """Under torchrun with several processes: rank 0's start time, which ``${now:...}`` then reads on
    every rank. Returns it (None for a single process)."""
    if world_size_from_env() == 1:
        return None
    import torch
    import torch.distributed as dist
    from omegaconf import OmegaConf

    join_process_group()
    start = [datetime.now().timestamp()]
    dist.broadcast_object_list(start, src=0, device=torch.device("cpu"))
    moment = datetime.fromtimestamp(start[0])
    import hydra.core.utils  # noqa: F401  (registers Hydra's own resolver first, which this one replaces)

    OmegaConf.register_new_resolver("now", lambda pattern: moment.strftime(pattern), use_cache=True, replace=True)
    return moment
