"""Decode speed of the generation engine: tokens/s with and without the KV cache, and against
Hugging Face ``transformers`` ``LlamaForCausalLM.generate()`` on a model of the same shape.

The gptlab model has random weights of the ``--model`` preset's shape (``llama_like``: RMSNorm, RoPE,
SwiGLU, GQA, untied head, no biases); the transformers model is its export (:func:`gptlab.hf.to_transformers`),
the same function with the same weights. Both decode the same random prompt greedily for the same
number of new tokens at batch 1 on the CPU (the end token is never honoured), and tokens/s is new
tokens over wall time, prefill included. gptlab keeps its context at the preset's ``block_size``
(sliding past it); transformers attends to the whole sequence.

    python -m gptlab.bench.generate                 # make bench-generate
    python -m gptlab.bench.generate --tokens 64 256 --no-uncached-above 256
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from gptlab import registry
from gptlab.inference.decoder import CachedDecoder, UncachedDecoder
from gptlab.inference.engine import Engine
from gptlab.inference.sampling import SamplingParams


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gptlab.bench.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="llama_like", help="model preset (conf/model/)")
    parser.add_argument("--tokens", type=int, nargs="+", default=[64, 256, 1024], help="new tokens per run")
    parser.add_argument("--prompt-tokens", type=int, default=16)
    parser.add_argument("--vocab", type=int, default=4096, help="vocabulary size (the bpe tokenizer's default)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="cached and transformers runs per cell; the fastest counts"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1: batch-1 decoding gains little from more)"
    )
    parser.add_argument("--no-uncached-above", type=int, default=0, help="skip uncached runs past this many tokens")
    parser.add_argument("--no-transformers", action="store_true")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile'd decode step")
    return parser.parse_args(argv)


def seconds(run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def engine_run(decoder, prompt: list[int], new_tokens: int) -> Callable[[], None]:
    engine = Engine(decoder, decode=lambda ids: "")
    params = SamplingParams(max_tokens=new_tokens, temperature=0)

    def run() -> None:
        for _ in engine.tokens(prompt, params):
            pass

    return run


def llama_twin(model, max_positions: int):
    """The ``LlamaForCausalLM`` equal to gptlab's ``model`` (the Hugging Face export, in memory), with room
    for ``max_positions`` positions."""
    from gptlab.hf.folder import to_transformers

    return to_transformers(model, max_position_embeddings=max_positions).eval()


def hf_run(model, prompt: list[int], new_tokens: int) -> Callable[[], None]:
    ids = torch.tensor([prompt])

    def run() -> None:
        with torch.inference_mode():
            out = model.generate(
                ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, pad_token_id=0
            )
        assert out.size(1) == len(prompt) + new_tokens

    return run


def main(argv: list[str] | None = None) -> None:
    from gptlab.bench.attention import preset

    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = preset(args.model, ["model.attention=sdpa"])
    torch.manual_seed(0)
    model = registry.build("model", cfg, vocab_size=args.vocab).eval()
    prompt = torch.randint(args.vocab, (args.prompt_tokens,), generator=torch.Generator().manual_seed(0)).tolist()
    twin = None if args.no_transformers else llama_twin(model, args.prompt_tokens + max(args.tokens))
    print(
        f"model={args.model}: {model.num_parameters() / 1e6:.1f}M parameters, block_size {cfg.block_size}, "
        f"vocab {args.vocab}, prompt {args.prompt_tokens} tokens, batch 1, greedy, "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}"
    )
    for warm in (engine_run(CachedDecoder(model), prompt, 8), engine_run(UncachedDecoder(model), prompt, 8)):
        warm()
    if twin is not None:
        hf_run(twin, prompt, 8)()
    compiled = None
    if not args.no_compile:
        compiled = CachedDecoder(model, compile=True)
        start = time.perf_counter()
        engine_run(compiled, prompt, 8)()  # compiles the decode step once (dynamic shapes)
        print(f"torch.compile of the decode step: {time.perf_counter() - start:.0f} s, once", flush=True)
    rows = []
    for new in args.tokens:
        # the cached engine and transformers take turns, so a busy machine slows both alike; the fastest run counts
        cached_run = engine_run(CachedDecoder(model), prompt, new)
        hf_turn = None if twin is None else hf_run(twin, prompt, new)
        compiled_run = engine_run(compiled, prompt, new) if compiled else None
        cached = hf = fused = float("inf")
        for _ in range(args.repeats):
            cached = min(cached, seconds(cached_run))
            fused = min(fused, seconds(compiled_run)) if compiled_run else float("nan")
            hf = min(hf, seconds(hf_turn)) if hf_turn else float("nan")
        skip_uncached = args.no_uncached_above and new > args.no_uncached_above
        uncached = float("nan") if skip_uncached else seconds(engine_run(UncachedDecoder(model), prompt, new))
        rows.append((new, new / cached, new / fused, new / uncached, new / hf))
        print(f"{new} new tokens: " + ", ".join(f"{v:,.1f}" for v in rows[-1][1:]) + " tok/s", flush=True)
    print()
    print(table(rows))


def table(rows: list[tuple[float, ...]]) -> str:
    """The README's markdown table: (new tokens, cached, compiled, uncached, transformers) tokens/s per row."""
    lines = [
        "| new tokens | gptlab cached | gptlab cached + compile | gptlab uncached | transformers generate() "
        "| cached / uncached | cached / transformers | cached + compile / transformers |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for new, cached, compiled, uncached, hf in rows:
        lines.append(
            f"| {new} | {cached:,.1f} | {compiled:,.1f} | {uncached:,.1f} | {hf:,.1f} | {cached / uncached:.1f}x "
            f"| {cached / hf:.2f}x | {compiled / hf:.2f}x |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
