"""``gptlab-eval RUN_DIR [overrides]``: validation loss and bits per byte of a saved model, on any data.

    gptlab-eval outputs/2026-11-30/12-00-00                                   # the run's own validation split
    gptlab-eval outputs/... data=text data.path=other.txt --json             # another source, JSON out
    gptlab-eval outputs/... data.plays=[hamlet] --batches 64 --checkpoint last

The tokenizer is the run's own (fitted when it trained), never fitted again; the data keys are the
run's, changed by the overrides (``data=NAME`` starts from that option's defaults). The validation
split is tokenized in memory, documents framed by the tokenizer's BOS/EOS as in training.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf

from gptlab import registry
from gptlab.api import load
from gptlab.config import compose_config, prepare_registry, typed_component
from gptlab.data.prepare import PieceAssembler
from gptlab.errors import ConfigError, GptlabError, reported
from gptlab.trainer.evaluate import evaluate


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="gptlab-eval", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("run_dir", type=Path, help="a training run's folder, or a checkpoint file")
    parser.add_argument("overrides", nargs="*", help="data overrides, e.g. data=text data.path=file.txt")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best", help="which checkpoint of a run dir")
    parser.add_argument("--batches", type=int, default=0, help="batches of windows (default: the run's eval_batches)")
    parser.add_argument("--batch-size", type=int, default=0, help="windows per batch (default: the run's)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return parser.parse_args(argv)


def data_config(run_config: dict[str, Any], overrides: list[str]) -> Any:
    """The run's data config with ``overrides`` applied (``data=NAME`` takes that option's defaults first)."""
    bad = [o for o in overrides if not o.startswith("data") or "=" not in o]
    if bad:
        raise ConfigError(
            f"gptlab-eval takes data overrides only (data=NAME, data.KEY=VALUE); got {bad}. The model and its "
            f"tokenizer come from the run."
        )
    choice = [o for o in overrides if o.split("=", 1)[0] == "data"]
    node = compose_config(choice).data if choice else OmegaConf.create(run_config["data"])
    dotted = [o[len("data.") :] for o in overrides if o.startswith("data.")]
    if dotted:
        try:
            node = OmegaConf.merge(node, OmegaConf.from_dotlist(dotted))
        except Exception as error:
            raise ConfigError(f"Invalid data override ({error}).") from None
    return typed_component("data", node)


def validation_tokens(source, tokenizer) -> np.ndarray:
    """The source's validation split as one array of ids, documents framed as training frames them."""
    assemble = PieceAssembler(tokenizer, source.cfg.max_doc_tokens, np.dtype(np.int64))
    pieces = [assemble(piece, tokenizer.encode(piece.text)) for piece in source.pieces() if piece.split == "val"]
    if not pieces:
        raise GptlabError(f"{source.describe()} has no validation documents; try a larger data.val_fraction.")
    return np.concatenate(pieces)


def evaluate_run(args: argparse.Namespace) -> dict[str, Any]:
    prepare_registry()
    run = load(args.run_dir, device=args.device, checkpoint=args.checkpoint)
    trainer = run.run_config.get("trainer", {})
    source = registry.build("data", data_config(run.run_config, args.overrides))
    tokens = validation_tokens(source, run.tokenizer)
    block_size = run.model.block_size
    if len(tokens) <= block_size:
        raise GptlabError(
            f"The validation split of {source.describe()} has {len(tokens)} tokens, not more than the model's "
            f"context of {block_size}. Give more text or a larger data.val_fraction."
        )
    device = next(run.model.parameters()).device
    metrics = evaluate(
        run.model,
        tokens,
        torch.as_tensor(run.tokenizer.token_byte_lengths()),
        block_size,
        args.batch_size or trainer.get("batch_size", 16),
        args.batches or trainer.get("eval_batches", 16),
        device,
        torch.autocast(device.type, enabled=False),
    )
    return {"checkpoint": str(run.path), "step": run.step, "data": source.describe(), "tokens": len(tokens), **metrics}


def print_table(result: dict[str, Any]) -> None:
    from rich.table import Table

    from gptlab.console import output_console

    table = Table(title=f"gptlab-eval: {result['checkpoint']} (step {result['step']})")
    for column in ("data", "val tokens", "val loss", "val bpb"):
        table.add_column(column, overflow="fold")
    table.add_row(result["data"], f"{result['tokens']:,}", f"{result['val_loss']:.4f}", f"{result['val_bpb']:.4f}")
    output_console().print(table)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    with reported():
        result = evaluate_run(args)
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
