"""The default ``make train`` recipe on a text file (tinyshakespeare, char level, nanoGPT split).

Times the real command from start to finish (imports, tokenization, training, evaluation,
sampling) and prints wall time, training tokens/s and the final validation loss. With
``--reference`` it also runs nanoGPT's CPU recipe (4 layers, 4 heads, 128 dims, block 64,
batch 12, 2000 iterations, lr 1e-3) through gptlab on the same machine, for a side-by-side.

    make bench-cpu                       # the default recipe
    make bench-cpu ARGS=--reference      # plus nanoGPT's CPU recipe
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gptlab.data.bundled import TINYSHAKESPEARE
from gptlab.logger.jsonl import read_metrics

NANOGPT_CPU_RECIPE = [
    "model.n_layer=4",
    "model.n_head=4",
    "model.d_model=128",
    "model.block_size=64",
    "model.bias=false",
    "trainer.batch_size=12",
    "trainer.max_steps=2000",
    "trainer.eval_every=250",
    "trainer.eval_batches=20",
    "optimizer.lr=1e-3",
    "optimizer.betas=[0.9,0.99]",
    "optimizer.weight_decay=0.1",
    "optimizer.decay_embeddings=true",
    "schedule=cosine",
    "schedule.warmup_steps=100",
    "schedule.min_lr_ratio=0.1",
]


def run_recipe(name: str, data: Path, overrides: list[str], out: Path) -> dict:
    run_dir = out / name
    command = [
        sys.executable,
        "-m",
        "gptlab.train",
        "data=text",
        f"data.path={data}",
        "trainer.progress=false",
        f"hydra.run.dir={run_dir}",
        *overrides,
    ]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "WANDB_MODE": "disabled"})
    wall = time.perf_counter() - start
    if result.returncode:
        sys.exit(f"{name} failed:\n{result.stdout}\n{result.stderr}")
    records = read_metrics(run_dir / "metrics.jsonl")
    evals = [r for r in records if "val_loss" in r]
    return {
        "recipe": name,
        "wall_s": wall,
        "steps": records[-1]["step"],
        "tokens": records[-1]["tokens"],
        "tokens_per_s": statistics.median(r["tokens_per_s"] for r in records),
        "val_loss": evals[-1]["val_loss"],
        "val_bpb": evals[-1]["val_bpb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=TINYSHAKESPEARE)
    parser.add_argument("--reference", action="store_true", help="also run nanoGPT's CPU recipe")
    parser.add_argument("overrides", nargs="*", help="extra overrides for the default recipe")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"--data {args.data} is not a file; pass the tinyshakespeare text file.")
    with tempfile.TemporaryDirectory() as out:
        rows = [run_recipe("gptlab default", args.data.resolve(), args.overrides, Path(out))]
        if args.reference:
            rows.append(run_recipe("nanoGPT CPU recipe", args.data.resolve(), NANOGPT_CPU_RECIPE, Path(out)))
    table = Table(title=f"CPU recipe on {args.data.name} ({os.cpu_count()} cores)")
    for column in ("recipe", "wall s", "steps", "tokens", "median tok/s", "val loss", "val bpb"):
        table.add_column(column, justify="left" if column == "recipe" else "right")
    for r in rows:
        table.add_row(
            r["recipe"],
            f"{r['wall_s']:.1f}",
            str(r["steps"]),
            f"{r['tokens']:,}",
            f"{r['tokens_per_s']:,.0f}",
            f"{r['val_loss']:.4f}",
            f"{r['val_bpb']:.4f}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
