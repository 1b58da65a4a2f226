"""gptlab: config-driven experiments with small GPT-style language models."""

__version__ = "0.1.0"
