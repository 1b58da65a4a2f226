"""gptlab: config-driven experiments with small GPT-style language models."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``gptlab.load``, ``gptlab.train`` and ``gptlab.LoadedRun``, imported on first use (``import gptlab`` stays light)."""
    if name in ("load", "train", "LoadedRun"):
        from gptlab import api

        return getattr(api, name)
    raise AttributeError(f"module 'gptlab' has no attribute '{name}'")
