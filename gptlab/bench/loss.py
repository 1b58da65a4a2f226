"""The next-token loss's speed on a CUDA GPU: forward + backward of ``model.loss_kernel`` torch (eager
and compiled) and triton (at several block widths and warp counts, and compiled), on bf16 logits of
gpt2_small's training step (64 x 1024 tokens, vocabulary 50304 by default); then the LM head and its
loss together (768-wide input): bf16, torchao's float8 layer with the Triton loss, and the fused float8
head of ``trainer.fp8_head`` (gptlab/model/float8_head.py). Median of timed repeats.

    python -m gptlab.bench.loss                         # on a machine with a CUDA GPU
    python -m gptlab.bench.loss --tokens 12288          # nanoGPT's batch 12
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

import torch

from gptlab.model.output import next_token_loss


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gptlab.bench.loss", description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=65536, help="rows of logits (batch x sequence)")
    parser.add_argument("--vocab", type=int, default=50304)
    parser.add_argument("--dim", type=int, default=768, help="the head's input width")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--blocks", type=int, nargs="+", default=[2048, 4096, 8192], help="triton block widths")
    parser.add_argument("--warps", type=int, nargs="+", default=[4, 8, 16], help="triton warps per program")
    return parser.parse_args(argv)


def milliseconds(loss_of: Callable[[torch.Tensor], torch.Tensor], logits: torch.Tensor, repeats: int) -> float:
    """Median CUDA time of loss_of(logits).backward() after three warm-up calls."""
    logits = logits.detach().clone().requires_grad_()
    for _ in range(3):
        loss_of(logits).backward()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        loss_of(logits).backward()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("python -m gptlab.bench.loss needs a CUDA GPU.")
    import gptlab.model.triton_cross_entropy as kernels

    torch.manual_seed(0)
    logits = (4 * torch.randn(args.tokens, args.vocab, device="cuda")).bfloat16()
    targets = torch.randint(args.vocab, (args.tokens,), device="cuda")

    def loss(kernel: str) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda x: next_token_loss(x, targets, kernel=kernel)

    rows = [("torch", "eager", milliseconds(loss("torch"), logits, args.repeats))]
    rows.append(("torch", "compiled", milliseconds(torch.compile(loss("torch")), logits, args.repeats)))
    kept = kernels.BLOCK, kernels.FORWARD_WARPS, kernels.BACKWARD_WARPS
    for block in args.blocks:
        for warps in args.warps:
            kernels.BLOCK, kernels.FORWARD_WARPS, kernels.BACKWARD_WARPS = block, warps, warps
            rows.append(("triton", f"block {block}, {warps} warps", milliseconds(loss("triton"), logits, args.repeats)))
    kernels.BLOCK, kernels.FORWARD_WARPS, kernels.BACKWARD_WARPS = kept
    rows.append(
        (
            "triton",
            f"compiled (block {kept[0]}, {kept[1]}/{kept[2]} warps)",
            milliseconds(torch.compile(loss("triton")), logits, args.repeats),
        )
    )
    print(f"{torch.cuda.get_device_name()} | torch {torch.__version__} | {args.tokens} x {args.vocab} bf16 logits")
    print("| loss_kernel | variant | forward + backward ms |\n|---|---|---:|")
    for kernel, variant, ms in rows:
        print(f"| {kernel} | {variant} | {ms:.2f} |")
    print(f"\nLM head + loss, {args.tokens} x {args.dim} -> {args.vocab}, compiled:")
    print("| head | forward + backward ms |\n|---|---:|")
    for name, ms in head_rows(args, targets):
        print(f"| {name} | {ms:.2f} |")


def head_rows(args: argparse.Namespace, targets: torch.Tensor) -> list[tuple[str, float]]:
    """Forward + backward of the head's matmul and the Triton loss: bf16, torchao float8, the fused float8 head."""
    import importlib.util

    from torch import nn
    from torch.nn import functional as F

    from gptlab.model.float8_head import float8_linear_cross_entropy

    x = torch.randn(args.tokens, args.dim, device="cuda").bfloat16()
    weight = nn.Parameter(torch.randn(args.vocab, args.dim, device="cuda") * 0.02)

    def bf16(x):
        return next_token_loss(F.linear(x, weight.bfloat16()), targets, kernel="triton")

    def fused(x):
        return float8_linear_cross_entropy(x, weight, targets)[1].mean()

    heads = [("bf16 matmul, Triton loss", bf16)]
    if importlib.util.find_spec("torchao") is not None:
        from torchao.float8 import Float8LinearConfig
        from torchao.float8.float8_linear import Float8Linear

        linear = nn.Linear(args.dim, args.vocab, bias=False, device="cuda")
        linear.weight = weight
        torchao_linear = Float8Linear.from_float(linear, config=Float8LinearConfig())
        heads.append(("torchao float8 layer, Triton loss", lambda x: next_token_loss(torchao_linear(x), targets)))
    heads.append(("fused float8 head (trainer.fp8_head)", fused))
    rows = []
    for name, head in heads:
        rows.append((name, milliseconds(torch.compile(head), x, args.repeats)))
        weight.grad = None
    return rows


if __name__ == "__main__":
    main()
