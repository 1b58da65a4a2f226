"""``gptlab-export RUN_DIR OUT_DIR [--overwrite]``: a training run as a Hugging Face model folder.

gptlab-export outputs/2026-11-30/12-00-00 exports/my-llama
python -c "from transformers import AutoModelForCausalLM; AutoModelForCausalLM.from_pretrained('exports/my-llama')"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gptlab.errors import reported
from gptlab.hf.folder import to_hf
from gptlab.hf.init import load_run


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gptlab-export", description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path, help="a training run's output folder (or a checkpoint file)")
    parser.add_argument("out_dir", type=Path, help="the Hugging Face model folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace out_dir if it exists")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best", help="preferred checkpoint")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with reported():
        run = load_run(args.run_dir, args.checkpoint)
        out = to_hf(run.model, run.tokenizer, args.out_dir, overwrite=args.overwrite)
    architecture = json.loads((out / "config.json").read_text())["architectures"][0]
    print(f"exported {args.run_dir} as {architecture} to {out}")


if __name__ == "__main__":
    main()
