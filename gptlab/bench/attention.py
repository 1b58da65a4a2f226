"""The attention kernels' speed on a CUDA GPU, to check what ``model.attention=auto`` picks.

Two tables, each a median over timed repeats after warm-up:

1. the kernel alone, forward + backward, bfloat16, 12 heads of 64 (the 124M preset's shape), a
   fixed number of tokens per batch at several sequence lengths: milliseconds and TFLOP/s
   (causal attention: 2 matrix products of T^2/2 entries each way, backward 2.5x the forward);
2. a whole training step of a preset (``--model``, default ``gpt2_small``; bf16 autocast, AdamW)
   with each kernel.

``sdpa`` is gptlab's kernel (cuDNN backend first); ``sdpa-torch`` the same call in torch's own
backend order (its flash backend first).

    python -m gptlab.bench.attention                     # on a machine with a CUDA GPU
    python -m gptlab.bench.attention --seq 1024 4096 --step-shapes 8x1024 2x4096
"""

from __future__ import annotations

import argparse
import statistics

import torch

from gptlab import registry
from gptlab.model.attention import SdpaAttention
from gptlab.model.gpt import GPTConfig

KERNELS = ("sdpa", "sdpa-torch", "flex", "flash", "flash4", "math")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gptlab.bench.attention", description=__doc__.split("\n")[0])
    parser.add_argument("--seq", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192])
    parser.add_argument("--tokens", type=int, default=32768, help="tokens per attention batch (batch = tokens / seq)")
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--math-max-seq", type=int, default=2048, help="longest sequence timed with the math kernel")
    parser.add_argument("--model", default="gpt2_small", help="model preset of the training-step table")
    parser.add_argument(
        "--step-shapes",
        nargs="+",
        default=["16x1024", "8x2048", "4x4096"],
        help="batch x sequence of the training steps",
    )
    parser.add_argument("--repeats", type=int, default=20)
    return parser.parse_args(argv)


def build_kernel(name: str):
    """The kernel called ``name`` here, or the reason it cannot run."""
    target = registry.lookup("attention", "sdpa" if name == "sdpa-torch" else name).target
    reason = target.unavailable()
    if reason:
        return None, reason
    kernel = target(target.features, check_available=False)
    if name == "sdpa-torch":
        kernel.cuda_backends = None
    return kernel, ""


def median_ms(run, repeats: int, warmup: int = 3) -> float:
    """Median milliseconds of ``run()``, timed with CUDA events."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def time_kernel(kernel, batch: int, heads: int, seq: int, head_dim: int, repeats: int) -> float:
    """Median ms of forward + backward on fresh random bf16 q, k, v."""
    shape = (batch, heads, seq, head_dim)
    q, k, v = (torch.randn(shape, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    grad = torch.randn(shape, device="cuda", dtype=torch.bfloat16)

    def run():
        kernel(q, k, v).backward(grad)

    return median_ms(run, repeats)


def preset(name: str, overrides: list[str]) -> GPTConfig:
    """The typed model config of ``model=<name>`` with ``overrides``, composed as gptlab-train does."""
    from gptlab.config import compose_config, typed_component

    return typed_component("model", compose_config([f"model={name}", *overrides]).model)


def time_training_step(kernel: str, model_name: str, batch: int, seq: int, repeats: int) -> float:
    """Median ms of one training step (forward, backward, AdamW) of ``model=<model_name>`` with ``kernel``."""
    attention = "sdpa" if kernel == "sdpa-torch" else kernel
    cfg = preset(model_name, [f"model.attention={attention}", f"model.block_size={seq}"])
    torch.manual_seed(0)
    model = registry.build("model", cfg, vocab_size=50304).cuda()
    if kernel == "sdpa-torch":
        for block in model.blocks:
            block.attn.kernel.cuda_backends = None
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    idx = torch.randint(50304, (batch, seq + 1), device="cuda")

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(idx[:, :-1], idx[:, 1:]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return median_ms(step, repeats)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA GPU")
    import gptlab.components  # noqa: F401  (registers the kernels)

    print(f"{torch.cuda.get_device_name()} | torch {torch.__version__}")
    kernels, skipped = {}, {}
    for name in KERNELS:
        kernel, reason = build_kernel(name)
        if kernel is None:
            skipped[name] = reason
        else:
            kernels[name] = kernel
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")

    print(f"\nattention alone: forward + backward, bf16, {args.heads} heads x {args.head_dim}, {args.tokens} tokens")
    rows = []
    for seq in args.seq:
        batch = max(1, args.tokens // seq)
        flops = 3.5 * 2 * 2 * batch * args.heads * seq * seq * args.head_dim / 2  # causal: half the scores
        row = {"seq": seq}
        for name, kernel in kernels.items():
            if name == "math" and seq > args.math_max_seq:
                continue
            ms = time_kernel(kernel, batch, args.heads, seq, args.head_dim, args.repeats)
            row[name] = (ms, flops / ms / 1e9)
        rows.append(row)
    header = f"{'seq':>6} " + " ".join(f"{name:>19}" for name in kernels)
    print(header + "\n" + " " * 7 + " ".join(f"{'ms  TFLOP/s':>19}" for _ in kernels))
    for row in rows:
        cells = [f"{row[n][0]:9.3f} {row[n][1]:7.1f}  " if n in row else f"{'-':>19}" for n in kernels]
        print(f"{row['seq']:>6} " + " ".join(cells))

    for shape in args.step_shapes:
        batch, seq = (int(n) for n in shape.split("x"))
        print(f"\nmodel={args.model} training step: bf16 autocast, AdamW, batch {batch} x {seq}")
        steps = {}
        for name in kernels:
            if name != "math":
                steps[name] = time_training_step(name, args.model, batch, seq, args.repeats)
                torch.cuda.empty_cache()
        fastest = min(steps.values())
        for name, ms in steps.items():
            print(f"  {name:>10}: {ms:8.2f} ms  ({ms / fastest:.2f}x the fastest)")
        auto = preset(args.model, ["model.attention=auto", f"model.block_size={seq}"]).kernel()
        print(f"  model.attention=auto picks {type(auto).__name__} at block size {seq}")
    print(f"gptlab's sdpa backend order on CUDA: {', '.join(SdpaAttention.cuda_backends)}")


if __name__ == "__main__":
    main()
