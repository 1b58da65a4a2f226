"""``gptlab-export RUN_DIR OUT_DIR [--overwrite]``: a training run as a Hugging Face model folder.

gptlab-export outputs/2026-11-30/12-00-00 exports/my-llama
python -c "from transformers import AutoModelForCausalLM; AutoModelForCausalLM.from_pretrained('exports/my-llama')"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gptlab.errors import GptlabError, report
from gptlab.hf.folder import Pretrained, to_hf


def load_run(path: Path, checkpoint_name: str = "best") -> Pretrained:
    """The model (on the CPU), tokenizer and config of a run dir or checkpoint file."""
    import gptlab

    if hasattr(gptlab, "load"):  # the library loader (gptlab/api.py)
        model, tokenizer, config = gptlab.load(path, device="cpu", checkpoint=checkpoint_name)
        return Pretrained(model, tokenizer, config)
    from gptlab import registry
    from gptlab.config import prepare_registry
    from gptlab.tokenizer import tokenizer_from_state
    from gptlab.trainer import checkpoint

    prepare_registry()
    path = Path(path)
    file = path if path.is_file() else checkpoint.find(path, prefer=f"{checkpoint_name}.pt")
    state = checkpoint.load(file)
    tokenizer = tokenizer_from_state(state["tokenizer"])
    model = registry.build("model", state["config"]["model"], vocab_size=tokenizer.vocab_size)
    model.load_state_dict(state["model"])
    return Pretrained(model.eval(), tokenizer, model.cfg)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gptlab-export", description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path, help="a training run's output folder (or a checkpoint file)")
    parser.add_argument("out_dir", type=Path, help="the Hugging Face model folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace out_dir if it exists")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best", help="preferred checkpoint")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        run = load_run(args.run_dir, args.checkpoint)
        out = to_hf(run.model, run.tokenizer, args.out_dir, overwrite=args.overwrite)
    except GptlabError as error:
        report(error)
        raise SystemExit(2) from None
    architecture = json.loads((out / "config.json").read_text())["architectures"][0]
    print(f"exported {args.run_dir} as {architecture} to {out}")


if __name__ == "__main__":
    main()
