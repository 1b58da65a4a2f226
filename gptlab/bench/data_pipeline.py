"""The data pipeline's speed: tokenization MB/s (gptlab-prepare) and loader batches/s.

Tokenizes the data of a run config into a fresh cache (so it really tokenizes), then times the
training loader at a given batch and block size and shows its time per batch as a share of a
training step (``--step-ms``, e.g. the step time measured for the 124M preset on a GPU).

    make bench-data                                              # tinyshakespeare, char, CPU
    make bench-data ARGS="--tokenizer bpe --workers 2 --step-ms 100"
    python -m gptlab.bench.data_pipeline --device cuda --batch-size 32 --block-size 1024 --step-ms 120 \\
        data=jsonl data.path='corpus/*.jsonl'
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import torch

from gptlab.data.cache import load
from gptlab.data.loader import RandomWindowLoader
from gptlab.prepare import prepare_from_overrides


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gptlab.bench.data_pipeline", description=__doc__.split("\n")[0])
    parser.add_argument(
        "overrides", nargs="*", help="config overrides, as for gptlab-train (default: data=text on --data)"
    )
    parser.add_argument("--data", default="../shared/data/tinyshakespeare.txt", help="text file when no data= override")
    parser.add_argument("--tokenizer", default="char", help="tokenizer option (char, byte, bpe, tiktoken, hf)")
    parser.add_argument("--workers", type=int, default=1, help="tokenizer processes (data.workers)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--block-size", type=int, default=1024)
    parser.add_argument("--batches", type=int, default=200, help="loader batches to time")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--step-ms", type=float, default=0.0, help="a training step's time, to show the loader's share")
    return parser.parse_args(argv)


def time_loader(loader: RandomWindowLoader, batches: int, device: torch.device) -> float:
    """Seconds per batch, after a few warm-up batches; waits for the copies to the device."""
    for _ in range(5):
        loader.next_batch()
    started = time.perf_counter()
    for _ in range(batches):
        x, y = loader.next_batch()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / batches


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    overrides = list(args.overrides)
    if not any(o.startswith("data=") for o in overrides):
        overrides += ["data=text", f"data.path={Path(args.data).resolve()}"]
    overrides += [f"tokenizer={args.tokenizer}", f"data.workers={args.workers}"]
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as cache:
        directory = prepare_from_overrides([*overrides, f"cache_dir={cache}"])
        meta = json.loads((directory / "meta.json").read_text())
        mb = meta["text_bytes"] / 1e6
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        print(
            f"tokenization: {mb:.1f} MB in {meta['seconds']:.2f} s = {mb / meta['seconds']:.2f} MB/s "
            f"({args.workers} processes); peak memory of this process so far {peak_mb:.0f} MB"
        )
        splits = load(directory)
        for doc_mask in (False, True):
            loader = RandomWindowLoader(splits.train, args.block_size, args.batch_size, 0, device, doc_mask=doc_mask)
            seconds = time_loader(loader, args.batches, device)
            share = f", {100 * seconds * 1e3 / args.step_ms:.2f}% of a {args.step_ms:g} ms step" if args.step_ms else ""
            print(
                f"loader{' (doc_mask)' if doc_mask else ''}: batch {args.batch_size} x {args.block_size} on {device}: "
                f"{1 / seconds:,.0f} batches/s, {seconds * 1e3:.3f} ms per batch{share}"
            )


if __name__ == "__main__":
    main()
