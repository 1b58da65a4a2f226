"""``gptlab-bench``: training speed of a preset on random tokens, through gptlab's own Trainer.

Each row builds the model from the preset (``--model``, default ``gpt2_small``: vocab 50304,
sequence 1024) as ``gptlab-train`` composes it, applies the fast path (``gptlab.distributed``),
and runs :class:`gptlab.trainer.loop.Trainer` on uniformly random tokens with fused AdamW, grad
clipping and a constant lr: ``--warmup`` steps (compile, autotuning, allocator), then ``--steps``
measured steps, read from the loop's own log record (tokens/s, step time, MFU, peak memory).
The grid is every combination of ``--batch``, ``--compile``, ``--attention`` and ``--fp8``.

``--nanogpt PATH/model.py`` also runs nanoGPT's model (same shape, no biases, its own fused AdamW
setup) through the same Trainer for each batch size and compile choice, for a ratio in one run.
``--nproc N`` runs each row under ``torchrun --nproc_per_node=N`` (``--strategy ddp|fsdp``, the
batch is per GPU) and prints the scaling against the one-GPU row.

    gptlab-bench --batch 12 32 --compile none model --nanogpt ~/nanoGPT/model.py
    gptlab-bench --batch 32 --fp8 off on --nproc 1 2 --strategy ddp fsdp
    gptlab-bench --batch 32 --profile            # top CUDA kernels of a few steps after the table
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

VOCAB = 50304
ROW_ENV = "GPTLAB_BENCH_ROW"  # the row a torchrun worker trains, as JSON
FP8_CHOICES = ("off", "on", "head", "head-only")  # float8 in: nothing, the blocks, blocks and head, the head
# kernel families of a profile, by a substring of the kernel's name (first match wins)
KERNEL_FAMILIES = (
    ("attention", ("cudnn", "flash", "fmha", "attention", "sdpa")),
    ("matmul", ("nvjet", "gemm", "cutlass", "xmma", "cublas", "wgmma")),
    ("cross-entropy", ("log_softmax", "nll_loss", "cross_entropy", "logsumexp")),
    ("layer norm", ("layer_norm", "rms_norm")),
    ("optimizer", ("multi_tensor", "adam", "foreach")),
    ("fused (triton)", ("triton",)),
)


@dataclass
class Row:
    model: str
    batch: int
    compile: str
    attention: str
    fp8: str
    nproc: int = 1
    strategy: str = "none"
    tokens_per_s: float = 0.0
    step_ms: float = 0.0
    mfu: float = 0.0
    memory_gib: float = 0.0
    error: str = ""
    label: str = ""  # --label: what else this invocation set (--mode, --set, an environment variable)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gptlab-bench", description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="gpt2_small", help="model preset (conf/model/)")
    parser.add_argument("--batch", type=int, nargs="+", default=[12, 32], help="sequences per step (per GPU)")
    parser.add_argument("--compile", nargs="+", default=["none", "model"], help="trainer.compile values")
    parser.add_argument("--mode", default="default", help="trainer.compile_mode")
    parser.add_argument("--attention", nargs="+", default=["auto"], help="model.attention kernels")
    parser.add_argument(
        "--fp8", nargs="+", default=["off"], choices=FP8_CHOICES, help="on: the blocks; head: blocks and head"
    )
    parser.add_argument("--set", nargs="*", default=[], help="extra overrides, e.g. model.loss_chunk_tokens=8192")
    parser.add_argument("--steps", type=int, default=20, help="measured steps")
    parser.add_argument("--warmup", type=int, default=20, help="steps before the measured ones (a multiple of --steps)")
    parser.add_argument("--nanogpt", help="path of nanoGPT's model.py: run its model the same way")
    parser.add_argument("--nproc", type=int, nargs="+", default=[1], help="GPUs per row (torchrun)")
    parser.add_argument("--strategy", nargs="+", default=["ddp"], help="trainer.strategy with --nproc > 1")
    parser.add_argument("--profile", action="store_true", help="print the top CUDA kernels of the first row")
    parser.add_argument("--trace", help="with --profile: also write the profiled steps as a Chrome trace (JSON) here")
    parser.add_argument("--json", help="append every row as a JSON line to this file")
    parser.add_argument("--label", default="", help="a note kept with every row (JSON and table), e.g. the --set used")
    parser.add_argument("--device", default="cuda", help="cuda; cpu only to smoke-test the bench itself")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # one row, inside torchrun; JSON row to this file
    return parser.parse_args(argv)


class NanoGPT(nn.Module):
    """nanoGPT's GPT behind gptlab's forward signature (its loss, its logits)."""

    def __init__(self, model_file: str, block_size: int):
        super().__init__()
        spec = importlib.util.spec_from_file_location("nanogpt_model", model_file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # torch.compile looks the module up by name
        spec.loader.exec_module(module)
        config = module.GPTConfig(block_size=block_size, vocab_size=VOCAB, dropout=0.0, bias=False)
        self.gpt = module.GPT(config)

    def forward(self, idx, targets=None):
        from gptlab.model.output import ModelOutput

        logits, loss = self.gpt(idx, None if targets is None else targets.contiguous())  # it views targets
        return ModelOutput(logits, loss)


class Collector:
    """A logger sink that keeps the records in memory."""

    def __init__(self):
        self.records: list[dict] = []

    def log(self, step: int, metrics: dict) -> None:
        self.records.append({"step": step, **metrics})

    def finish(self, exit_code: int = 0) -> None:
        pass


def overrides_for(row: Row, args: argparse.Namespace) -> list[str]:
    total = args.warmup + args.steps
    return [
        f"model={args.model}",
        "model.bias=false",
        f"model.attention={row.attention}",
        "optimizer=adamw",
        "schedule=constant",
        "schedule.warmup_steps=0",
        "logger=none",
        f"trainer.batch_size={row.batch}",
        f"trainer.max_steps={total + 1}",
        f"trainer.stop_at_step={total}",
        f"trainer.log_every={args.steps}",
        f"trainer.eval_every={total + 1}",
        "trainer.eval_batches=1",
        "trainer.progress=false",
        "trainer.samples=0",
        f"trainer.dtype={'bfloat16' if args.device == 'cuda' else 'float32'}",
        f"trainer.device={args.device}",
        f"trainer.compile={row.compile}",
        f"trainer.compile_mode={args.mode}",
        f"trainer.fp8={row.fp8 in ('on', 'head')}",
        f"trainer.fp8_head={row.fp8 in ('head', 'head-only')}",
        f"trainer.strategy={row.strategy if row.nproc > 1 else 'none'}",
        *args.set,
    ]


def build_trainer(row: Row, args: argparse.Namespace, run_dir: Path):
    """A Trainer for ``row``, built as gptlab.train builds one, on random tokens."""
    from gptlab import registry
    from gptlab.config import compose_config, prepare_registry, resolve
    from gptlab.data.cache import Shard
    from gptlab.data.loader import RandomWindowLoader
    from gptlab.distributed.launch import join_process_group
    from gptlab.distributed.parallelize import parallelize
    from gptlab.logger import SafeLoggers
    from gptlab.model import counting
    from gptlab.trainer.budget import resolve_budget
    from gptlab.trainer.loop import Trainer
    from gptlab.trainer.stages import token_segments
    from gptlab.world import World

    prepare_registry()
    typed = resolve(compose_config(overrides_for(row, args)))
    trainer_cfg, model_cfg = typed["trainer"], typed["model"]
    world = World.from_env(args.device)
    if world.world_size > 1:
        join_process_group()
    if world.device.type == "cuda" and world.device.index is not None:
        torch.cuda.set_device(world.device)
    torch.manual_seed(0)
    flops_per_token = counting.flops_per_token(model_cfg, VOCAB)  # the same shape for nanoGPT's model
    with world.device:
        if row.model == "nanoGPT":
            model = NanoGPT(args.nanogpt, model_cfg.block_size)
        else:
            model = registry.build("model", model_cfg, vocab_size=VOCAB)
    prepared = parallelize(model, trainer_cfg, world)
    if row.model == "nanoGPT":  # its own parameter groups, fused AdamW
        optimizer = model.gpt.configure_optimizers(0.1, 6e-4, (0.9, 0.95), world.device.type)
    else:
        optimizer = registry.build("optimizer", typed["optimizer"], model)
    segments = token_segments([], model_cfg.block_size, row.batch, 1)
    budget = resolve_budget(trainer_cfg.budget, trainer_cfg.max_steps, segments, 1, flops_per_token)
    tokens = np.random.default_rng(0).integers(0, VOCAB, size=4_000_000, dtype=np.uint16)
    loader = RandomWindowLoader(
        [Shard.of(tokens)],
        model_cfg.block_size,
        row.batch,
        0,
        world.device,
        rank=world.rank,
        world_size=world.world_size,
    )
    collector = Collector()
    trainer = Trainer(
        cfg=trainer_cfg,
        prepared=prepared,
        optimizer=optimizer,
        schedule_for=lambda max_steps: registry.build("schedule", typed["schedule"], max_steps),
        budget=budget,
        loader=loader,
        val_tokens=[tokens[:100_000]],
        token_bytes=torch.ones(VOCAB, dtype=torch.long),
        loggers=SafeLoggers([collector] if world.is_main else []),
        run_dir=run_dir,
        extra_state={},
    )
    return trainer, collector


def run_row(row: Row, args: argparse.Namespace, profile: bool = False) -> Row:
    """Train ``row`` in this process (one GPU, or one rank of torchrun) and fill in its figures."""
    with tempfile.TemporaryDirectory() as run_dir:  # the checkpoint the loop writes when it stops
        trainer, collector = build_trainer(row, args, Path(run_dir))
        trainer.fit()
        last = collector.records[-1] if collector.records else {}
        row.tokens_per_s, row.step_ms = last.get("tokens_per_s", 0.0), last.get("step_ms", 0.0)
        row.mfu, row.memory_gib = last.get("mfu", 0.0), last.get("peak_memory_gib", 0.0)
        if profile:
            print_profile(trainer, collector, trace=args.trace)
    torch._dynamo.reset()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return row


def kernel_family(name: str) -> str:
    lowered = name.lower()
    return next((family for family, keys in KERNEL_FAMILIES if any(key in lowered for key in keys)), "other")


def print_profile(trainer, collector: Collector, steps: int = 5, top: int = 30, trace: str | None = None) -> None:
    """The top CUDA kernels of ``steps`` more steps of the same Trainer (the copy of the checkpoint
    it writes when it stops, device to host, left out), and their time by family (matmul, attention,
    cross-entropy, optimizer, other fused kernels) against the wall time of a step."""
    from torch.profiler import ProfilerActivity, profile

    trainer.cfg.stop_at_step = trainer.state.step + steps
    trainer.state.max_steps = trainer.cfg.stop_at_step + 1
    trainer.cfg.log_every = steps  # one record of these steps' speed, before the checkpoint is written
    trainer.cfg.eval_every = trainer.state.max_steps + 1  # no evaluation inside the profile
    activities = [ProfilerActivity.CUDA] if torch.cuda.is_available() else [ProfilerActivity.CPU]
    with profile(activities=activities) as prof:
        trainer.fit()
    if trace:
        prof.export_chrome_trace(trace)
    step_ms = collector.records[-1].get("step_ms", 0.0) if collector.records else 0.0
    events = [e for e in prof.key_averages() if not e.key.startswith("Memcpy DtoH") and e.self_device_time_total > 0]
    events.sort(key=lambda e: e.self_device_time_total, reverse=True)
    total = sum(e.self_device_time_total for e in events)
    print(
        f"\nprofile: {steps} steps, {total / 1000 / steps:.1f} ms of kernels a step "
        f"in steps of {step_ms:.1f} ms (profiled); top CUDA kernels by self time:"
    )
    for event in events[:top]:
        share = event.self_device_time_total / max(total, 1)
        print(
            f"{event.self_device_time_total / 1000 / steps:8.2f} ms/step {share:6.1%} {event.count // steps:4d}x  "
            f"{kernel_family(event.key):<15}{event.key[:100]}"
        )
    families: dict[str, float] = {}
    for event in events:
        family = kernel_family(event.key)
        families[family] = families.get(family, 0.0) + event.self_device_time_total
    summary = ", ".join(
        f"{name} {t / 1000 / steps:.1f} ms" for name, t in sorted(families.items(), key=lambda x: -x[1])
    )
    print(f"by family, per step: {summary}")


def run_with_torchrun(row: Row, args: argparse.Namespace, argv: list[str]) -> Row:
    """One row under torchrun with ``row.nproc`` processes; rank 0 writes the row as JSON."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = out.name
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={row.nproc}",
        "-m", "gptlab.bench.gpu", *argv, "--worker", path,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1", ROW_ENV: json.dumps(asdict(row))}  # torchrun would read --nproc
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    text = Path(path).read_text() if Path(path).exists() else ""
    Path(path).unlink(missing_ok=True)
    if done.returncode or not text:
        row.error = (
            (done.stderr or done.stdout).strip().splitlines()[-1:][0] if (done.stderr or done.stdout) else "failed"
        )
        print(done.stdout[-2000:], done.stderr[-4000:], sep="\n")
        return row
    return Row(**json.loads(text))


def print_table(rows: list[Row]) -> None:
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    print(f"\n{device} | torch {torch.__version__} | MFU against the bf16 dense peak")
    header = f"{'model':<11}{'gpus':>5} {'strategy':<9}{'batch':>6} {'compile':<8}{'attention':<10}{'fp8':<5}"
    print(header + f"{'tok/s':>12}{'ms/step':>9}{'MFU':>7}{'GiB':>7}{'scaling':>9}")
    single = {}
    for row in rows:
        if row.nproc == 1 and not row.error:
            single[(row.model, row.batch, row.compile, row.attention, row.fp8)] = row.tokens_per_s
    for row in rows:
        start = f"{row.model:<11}{row.nproc:>5} {row.strategy:<9}{row.batch:>6} {row.compile:<8}{row.attention:<10}{row.fp8:<5}"
        if row.error:
            print(start + f"  failed: {row.error[:80]}")
            continue
        base = single.get((row.model, row.batch, row.compile, row.attention, row.fp8))
        scaling = f"{row.tokens_per_s / (base * row.nproc):8.1%}" if base and row.nproc > 1 else ""
        print(
            start + f"{row.tokens_per_s:>12,.0f}{row.step_ms:>9.1f}{100 * row.mfu:>6.1f}%{row.memory_gib:>7.1f}"
            f"{scaling:>9}  {row.label}"
        )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gptlab-bench needs a CUDA GPU")
    if args.warmup % args.steps:
        raise SystemExit(f"--warmup={args.warmup} must be a multiple of --steps={args.steps}")
    if args.worker:  # one row inside torchrun
        row = run_row(Row(**json.loads(os.environ[ROW_ENV])), args)
        if int(os.environ.get("RANK", "0")) == 0:
            Path(args.worker).write_text(json.dumps(asdict(row)))
        torch.distributed.destroy_process_group()
        return
    base = [a for a in argv if a not in ("--profile",)]
    rows = []
    grid = itertools.product(args.nproc, args.batch, args.compile, args.attention, args.fp8)
    for nproc, batch, compile_, attention, fp8 in grid:
        strategies = args.strategy if nproc > 1 else ["none"]
        for strategy in strategies:
            row = Row(args.model, batch, compile_, attention, fp8, nproc, strategy, label=args.label)
            try:
                row = (
                    run_with_torchrun(row, args, _without_grid(base))
                    if nproc > 1
                    else run_row(row, args, args.profile and not rows)
                )
            except Exception as error:  # one failing row (out of memory, a missing kernel) leaves the others
                row.error = f"{type(error).__name__}: {error}".splitlines()[0]
                torch._dynamo.reset()
                torch.cuda.empty_cache()
            rows.append(row)
            print(json.dumps(asdict(row)), flush=True)
        if args.nanogpt and nproc == 1 and attention == args.attention[0] and fp8 == args.fp8[0]:
            row = Row("nanoGPT", batch, compile_, "sdpa", "off", label=args.label)
            try:
                row = run_row(row, args)
            except Exception as error:
                row.error = f"{type(error).__name__}: {error}".splitlines()[0]
            rows.append(row)
            print(json.dumps(asdict(row)), flush=True)
    if args.json:
        with open(args.json, "a", encoding="utf-8") as file:
            for row in rows:
                file.write(json.dumps(asdict(row)) + "\n")
    print_table(rows)


def _without_grid(argv: list[str]) -> list[str]:
    """The command line less the grid options, which each torchrun row sets itself."""
    grid = {"--batch", "--compile", "--attention", "--fp8", "--nproc", "--strategy", "--json", "--nanogpt", "--label"}
    kept, skipping = [], False
    for arg in argv:
        if arg.startswith("--"):
            skipping = arg in grid
        if not skipping:
            kept.append(arg)
    return kept


if __name__ == "__main__":
    main()
