"""Which GPU a parallel sweep job uses: a pool of GPUs, each shared by ``jobs_per_gpu`` jobs.

``hydra/launcher=gpus`` runs len(pool) x jobs_per_gpu jobs at a time (joblib processes). Job k
takes slot k mod slots and slot s uses GPU pool[s // jobs_per_gpu], so every wave of jobs puts
exactly ``jobs_per_gpu`` on each GPU, and job k + slots reuses the GPU of job k, which is the one
that most likely finished first.
"""

from __future__ import annotations

from omegaconf import OmegaConf


def visible_gpus() -> list[int]:
    import torch

    return list(range(torch.cuda.device_count()))


def parallel_slots(gpus: list[int] | None, jobs_per_gpu: int) -> int:
    """How many jobs run at once: the pool size (1 without GPUs) times the jobs per GPU."""
    pool = list(gpus) if gpus else visible_gpus()
    return max(len(pool), 1) * int(jobs_per_gpu)


def gpu_for_job(job_num: int, pool: list[int], jobs_per_gpu: int) -> int:
    """The GPU of job ``job_num`` (Hydra's ``hydra.job.num``)."""
    slot = job_num % (len(pool) * jobs_per_gpu)
    return pool[slot // jobs_per_gpu]


OmegaConf.register_new_resolver("gptlab_parallel_slots", parallel_slots, replace=True)
