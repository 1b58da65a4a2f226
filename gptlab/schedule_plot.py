"""Plot every registered schedule's lr multiplier over a run (the figure in the README).

python -m gptlab.schedule_plot [--out experiments/figures/schedules.png] [--steps 1000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gptlab import registry
from gptlab.config import prepare_registry


def plot_schedules(out: Path, max_steps: int = 1000, warmup_fraction: float = 0.05) -> Path:
    """Draw each registered schedule (with its config's defaults and a shared warmup) into ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prepare_registry()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    steps = range(max_steps + 1)
    for name in registry.names("schedule"):
        entry = registry.lookup("schedule", name)
        cfg = entry.config(name=name)
        cfg.warmup_steps, cfg.warmup_fraction = 0, warmup_fraction
        schedule = entry.target(cfg, max_steps)
        ax.plot(steps, [schedule(step) for step in steps], label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("lr / peak lr")
    ax.set_title(f"gptlab schedules ({max_steps} steps, {warmup_fraction:.0%} warmup, defaults otherwise)")
    ax.grid(alpha=0.3)
    ax.legend()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("experiments/figures/schedules.png"))
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    print(f"wrote {plot_schedules(args.out, args.steps)}")


if __name__ == "__main__":
    main()
