"""``gptlab-sample RUN_DIR``: sample text from a trained run's best (or last) checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

from gptlab.errors import GptlabError, reported


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gptlab-sample", description=__doc__)
    parser.add_argument("run_dir", type=Path, help="a training run's output folder")
    parser.add_argument("--prompt", default="", help="text to continue (default: a newline)")
    parser.add_argument("--max-new-tokens", type=int, default=200)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int, default=40, help="0 samples from the whole vocabulary")
    parser.add_argument("--num-samples", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best", help="preferred checkpoint")
    parser.add_argument("--device", default="auto")
    return parser.parse_args(argv)


def sample(args: argparse.Namespace) -> list[str]:
    if args.temperature <= 0 or args.max_new_tokens < 0 or args.top_k < 0 or args.num_samples < 1:
        raise GptlabError("--temperature must be > 0, --max-new-tokens and --top-k >= 0, --num-samples >= 1.")
    from gptlab.api import load  # torch: imported once there is something to sample (not for --help)
    from gptlab.config import prepare_registry
    from gptlab.generate import sample_texts

    prepare_registry()  # plugins: a run may use a component registered outside gptlab
    run = load(args.run_dir, device=args.device, checkpoint=args.checkpoint)
    device = next(run.model.parameters()).device
    return sample_texts(
        run.model,
        run.tokenizer,
        prompt=args.prompt,
        count=args.num_samples,
        max_new_tokens=args.max_new_tokens,
        block_size=run.model.block_size,
        temperature=args.temperature,
        top_k=args.top_k or None,
        seed=args.seed,
        device=device,
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with reported():
        texts = sample(args)
    print(("\n" + "-" * 40 + "\n").join(texts))


if __name__ == "__main__":
    main()
