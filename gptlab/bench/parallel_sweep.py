"""Parallel sweep speed: the same sweep of tiny-model jobs run one at a time, then several at once.

Runs ``gptlab-train -m seed=0,...,N-1`` with Hydra's basic launcher (one job after another), then
with ``hydra/launcher=gpus`` (joblib processes, ``--jobs-per-gpu`` of them sharing each GPU), and
prints both wall times and their ratio. Tiny models leave a GPU mostly idle, so sharing it pays.

    python -m gptlab.bench.parallel_sweep                          # on a GPU: 8 jobs x 3000 steps, 8 sharing one GPU
    python -m gptlab.bench.parallel_sweep --jobs 2 --jobs-per-gpu 2 --steps 20   # CPU smoke check
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gptlab.sweep.status import read_status

TINY_MODEL = [
    "model.n_layer=2",
    "model.n_head=2",
    "model.d_model=64",
    "model.block_size=64",
    "trainer.batch_size=16",
    "trainer.eval_batches=4",
    "trainer.samples=0",
    "trainer.progress=false",
    "data=shakespeare",
    "data.plays=[macbeth]",
]


def run_sweep(sweep_dir: Path, jobs: int, steps: int, extra: list[str]) -> float:
    """Wall seconds of the whole sweep command, start to finish."""
    command = [
        sys.executable,
        "-m",
        "gptlab.train",
        "-m",
        *TINY_MODEL,
        f"trainer.max_steps={steps}",
        f"trainer.eval_every={steps}",
        f"seed={','.join(str(s) for s in range(jobs))}",
        f"hydra.sweep.dir={sweep_dir}",
        *extra,
    ]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"sweep failed ({' '.join(command)}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return wall


def mean_bpb(sweep_dir: Path, jobs: int) -> float:
    values = [read_status(sweep_dir / str(j)).get("metrics", {}).get("val_bpb", float("nan")) for j in range(jobs)]
    return sum(values) / len(values)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=8, help="jobs in the sweep (seeds)")
    parser.add_argument("--jobs-per-gpu", type=int, default=8, help="jobs sharing one GPU in the parallel sweep")
    parser.add_argument("--steps", type=int, default=3000, help="training steps per job")
    parser.add_argument("--gpus", default=None, help="GPU pool for the parallel sweep, e.g. [0]; default: every GPU")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per job (0: torch's default)")
    parser.add_argument("--out", type=Path, default=None, help="where the sweeps go (default: a temp dir)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="gptlab-parallel-"))
    common = [f"trainer.threads={args.threads}"]
    # untimed: builds the token cache and warms the file cache, so neither sweep pays for it
    run_sweep(out / "warmup", 1, 1, common)
    sequential = run_sweep(out / "sequential", args.jobs, args.steps, common)
    pool = [f"sweep.gpus={args.gpus}"] if args.gpus else []
    parallel_args = [*common, "hydra/launcher=gpus", f"sweep.jobs_per_gpu={args.jobs_per_gpu}", *pool]
    parallel = run_sweep(out / "parallel", args.jobs, args.steps, parallel_args)

    table = Table(title=f"{args.jobs} jobs x {args.steps} steps ({out})")
    for column in ("launcher", "wall s", "mean final val bpb"):
        table.add_column(column, justify="right")
    table.add_row("one at a time (basic)", f"{sequential:.1f}", f"{mean_bpb(out / 'sequential', args.jobs):.4f}")
    table.add_row(
        f"gpus, {args.jobs_per_gpu} per GPU", f"{parallel:.1f}", f"{mean_bpb(out / 'parallel', args.jobs):.4f}"
    )
    console = Console()
    console.print(table)
    console.print(f"speed-up (sequential / parallel wall time): {sequential / parallel:.2f}x")


if __name__ == "__main__":
    main()
