"""The post-training pipeline end to end on 2-digit addition, in minutes on a CPU:
pretrain on "a+b=sum" text -> SFT on (question, answer) chats -> GRPO on the exact-sum reward,
then the greedy pass@1 of each stage's model on the same held-out problems.

    python -m gptlab.finetune.arithmetic_demo --out runs/arithmetic

Every stage is an ordinary gptlab run (``gptlab.train.train`` with ``+experiment=sft``, then
``gptlab.finetune.grpo.run`` with ``+experiment=grpo``), composed from the same configs as the
command line; the run dirs stay under ``--out``. The pretrained model is asked in its own format
(``07+45=``, ending at EOS), the fine-tuned ones through the chat template.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from gptlab.config import compose_config
from gptlab.data.arithmetic import Addition, ArithmeticConfig
from gptlab.errors import GptlabError, reported
from gptlab.finetune import grpo
from gptlab.finetune.evaluate import pass_at_1
from gptlab.finetune.init_from import BaseRun
from gptlab.finetune.prompter import Prompter
from gptlab.train import train

COMMON = ["trainer.progress=false", "trainer.samples=0", "trainer.device=cpu", "logger=jsonl"]
PRETRAIN = [
    "data=arithmetic",
    "tokenizer=char",
    "model=tiny",
    "model.n_layer=2",
    "model.d_model=64",
    "model.block_size=32",
    "model.pos=rope",
    "model.n_head=4",
    "optimizer=adamw",
    "optimizer.lr=3e-3",
    "optimizer.weight_decay=0.0",
    "schedule=cosine",
    "trainer.batch_size=32",
    "trainer.eval_batches=4",
]
SFT = ["+experiment=sft", "data=arithmetic", "optimizer.lr=3e-3", "trainer.batch_size=32", "trainer.eval_batches=4"]
GRPO = ["+experiment=grpo"]  # its settings are the tuned ones (experiments/grpo.yaml)


def run_stages(out: Path, pretrain_steps: int, sft_steps: int, grpo_steps: int, eval_problems: int) -> dict:
    """Train the three stages under ``out``; returns each stage's pass@1 and seconds."""
    dirs = {stage: out / stage for stage in ("pretrain", "sft", "grpo")}
    for run_dir in dirs.values():
        run_dir.mkdir(parents=True)
    seconds = {}
    started = time.perf_counter()
    train(
        compose_config(
            [*PRETRAIN, *COMMON, f"trainer.max_steps={pretrain_steps}", f"trainer.eval_every={pretrain_steps}"]
        ),
        dirs["pretrain"],
    )
    seconds["pretrain"] = time.perf_counter() - started
    started = time.perf_counter()
    sft = [
        *SFT,
        *COMMON,
        f"trainer.init_from={dirs['pretrain']}",
        f"trainer.max_steps={sft_steps}",
        f"trainer.eval_every={sft_steps}",
    ]
    train(compose_config(sft), dirs["sft"])
    seconds["sft"] = time.perf_counter() - started
    started = time.perf_counter()
    rl = [*GRPO, *COMMON, f"trainer.init_from={dirs['sft']}", f"trainer.max_steps={grpo_steps}"]
    grpo.run(compose_config([*rl, f"finetune.grpo.eval_problems={eval_problems}"]), dirs["grpo"])
    seconds["grpo"] = time.perf_counter() - started

    held_out = Addition(ArithmeticConfig()).problems("val", count=eval_problems)
    scores = {}
    for stage, run_dir in dirs.items():
        run = BaseRun.open(str(run_dir))
        prompter = Prompter.plain(run.tokenizer) if stage == "pretrain" else Prompter.chat(run.tokenizer)
        scores[stage] = pass_at_1(run.model(), prompter, held_out, max_new_tokens=6)
    return {"pass_at_1": scores, "seconds": seconds}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/arithmetic"), help="a new folder for the three runs")
    parser.add_argument("--pretrain-steps", type=int, default=800)
    parser.add_argument("--sft-steps", type=int, default=600)
    parser.add_argument("--grpo-steps", type=int, default=250)
    parser.add_argument("--eval-problems", type=int, default=500, help="held-out problems for pass@1")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (tiny models run fastest on one)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with reported():
        if args.out.exists() and any(args.out.iterdir()):
            raise GptlabError(f"--out '{args.out}' is not empty; give a new folder, so no run is overwritten.")
        result = run_stages(args.out, args.pretrain_steps, args.sft_steps, args.grpo_steps, args.eval_problems)
    print(f"\npass@1 on {args.eval_problems} held-out 2-digit additions (greedy):")
    print("| stage | steps | pass@1 | seconds |\n|---|---|---|---|")
    steps = {"pretrain": args.pretrain_steps, "sft": args.sft_steps, "grpo": args.grpo_steps}
    for stage, score in result["pass_at_1"].items():
        print(f"| {stage} | {steps[stage]} | {score:.3f} | {result['seconds'][stage]:.0f} |")


if __name__ == "__main__":
    main()
