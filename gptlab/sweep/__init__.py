"""How a training job behaves as one job of a multirun sweep.

``config`` is the ``sweep`` config group, ``status`` the per-job ``status.json`` marker that makes
sweeps resumable, ``identity`` the job's wandb group, name and tags, ``gpus`` the GPU each parallel
job uses, ``summary`` the Hydra callback that prints every job's outcome at the end.
"""
