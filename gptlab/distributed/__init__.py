"""Running a built model fast and on many GPUs: what the trainer applies to the model after it is
built and before it trains (torchtitan's "parallelize" step), so the model code never mentions it.

- :mod:`.precision`: autocast dtype and TF32 (``trainer.dtype``, ``trainer.tf32``)
- :mod:`.fp8`: float8 matmuls through torchao (``trainer.fp8``)
- :mod:`.recompute`: activation checkpointing (``trainer.activation_checkpointing``)
- :mod:`.compile`: torch.compile of the whole model or of each block (``trainer.compile``)
- :mod:`.strategy`: data parallelism over processes, DDP or FSDP2 (``trainer.strategy``)
- :mod:`.parallelize`: the one function that applies them in order
- :mod:`.launch`: what several processes (torchrun) must agree on before Hydra starts: the run dir
"""
