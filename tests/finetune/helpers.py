"""What the fine-tuning tests share: a few facts to learn, tiny-run overrides, one-thread training."""

from __future__ import annotations

import torch

from gptlab.config import compose_config

FACTS = [
    ("Capital of France?", "Paris"),
    ("Capital of Peru?", "Lima"),
    ("Capital of Japan?", "Tokyo"),
    ("Capital of Italy?", "Rome"),
    ("Capital of Egypt?", "Cairo"),
    ("Capital of Chile?", "Santiago"),
    ("Capital of Kenya?", "Nairobi"),
    ("Capital of Spain?", "Madrid"),
    ("Capital of Cuba?", "Havana"),
    ("Capital of Iran?", "Tehran"),
]
QUICK = ["trainer.progress=false", "trainer.samples=0", "trainer.device=cpu", "trainer.log_every=50", "logger=jsonl"]
TINY_BASE = ["model.n_layer=1", "model.n_head=2", "model.d_model=48", "model.block_size=32", "tokenizer=char"]


def one_thread(function, *args):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models run faster on one thread
    try:
        return function(*args)
    finally:
        torch.set_num_threads(threads)


def sft_config(base_run, data: list[str], *extra: str):
    steps = ["trainer.eval_every=1000", "trainer.eval_batches=1", "trainer.batch_size=8"]
    return compose_config(["+experiment=sft", *data, f"trainer.init_from={base_run}", *QUICK, *steps, *extra])
