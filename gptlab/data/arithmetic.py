"""A synthetic task with checkable answers: addition of two zero-padded numbers, ``"07+45="`` -> ``"52"``.

With ``data.reverse=true`` (the default) the sum is written least significant digit first,
``"07+45="`` -> ``"25"``, so each answer digit depends only on digits already seen and a carry: small
transformers learn addition far faster so (Lee et al. 2023, "Teaching Arithmetic to Small
Transformers", arXiv:2307.03381).

It ships with gptlab so the whole post-training pipeline (pretrain -> SFT -> GRPO, and its pass@1)
runs offline in minutes on a CPU. A fixed tenth of all problems (by a hash of the problem) is held
out: it is the validation split of every stage and never trained on. Pretraining documents are
``"07+45=52"``; fine-tuning reads the same problems as (question, answer) pairs.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from gptlab.data.source import DataConfig, DocumentSource
from gptlab.errors import ConfigError
from gptlab.registry import register

HELD_OUT_PERCENT = 10


@dataclass
class ArithmeticConfig(DataConfig):
    name: str = "arithmetic"
    digits: int = 2  # digits of each operand (zero-padded, so all prompts have one length)
    problems: int = 20000  # training problems drawn (with repeats) from the non-held-out ones
    seed: int = 0
    reverse: bool = True  # write the sum least significant digit first

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.digits <= 9 or self.problems < 1:
            raise ConfigError(f"data.digits={self.digits} must lie in 1..9 and data.problems={self.problems} be >= 1.")


def is_held_out(a: int, b: int) -> bool:
    """Whether ``a + b`` belongs to the held-out problems (the same set in every stage and run)."""
    return zlib.crc32(f"{a}+{b}".encode()) % 100 < HELD_OUT_PERCENT


@register("data", "arithmetic", ArithmeticConfig)
class Addition(DocumentSource):
    """Addition problems ``a+b=`` with their sums; a fixed tenth of the problems is held out."""

    def __init__(self, cfg: ArithmeticConfig):
        self.cfg = cfg

    def describe(self) -> str:
        return f"arithmetic ({self.cfg.digits}-digit addition{', sums reversed' * self.cfg.reverse})"

    def fingerprint(self) -> str:
        c = self.cfg
        return (
            f"arithmetic:digits={c.digits};problems={c.problems};seed={c.seed};reverse={c.reverse};val={c.val_fraction}"
        )

    def question(self, a: int, b: int) -> str:
        return f"{a:0{self.cfg.digits}d}+{b:0{self.cfg.digits}d}="

    def answer(self, total: int) -> str:
        return str(total)[::-1] if self.cfg.reverse else str(total)

    def problems(self, split: str, count: int | None = None, seed: int | None = None) -> list[tuple[str, str]]:
        """``count`` (question, answer) pairs of ``split``: train never draws a held-out problem, val only
        held-out ones. Train defaults to ``data.problems``, val to ``val_fraction`` of it."""
        if count is None:
            count = self.cfg.problems if split == "train" else max(1, round(self.cfg.problems * self.cfg.val_fraction))
        rng = random.Random(f"{self.cfg.seed if seed is None else seed}:{split}")
        top, held_out, pairs = 10**self.cfg.digits, split == "val", []
        while len(pairs) < count:
            a, b = rng.randrange(top), rng.randrange(top)
            if is_held_out(a, b) == held_out:
                pairs.append((self.question(a, b), self.answer(a + b)))
        return pairs

    def split_pairs(self) -> Iterator[tuple[str, str, str]]:
        for split in ("train", "val"):
            for question, answer in self.problems(split):
                yield split, question, answer

    def conversations(self) -> Iterator[tuple[str, list[dict[str, str]]]]:
        """(split, messages): the question from the user, the sum from the assistant (fine-tuning)."""
        for split, question, answer in self.split_pairs():
            yield split, [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]

    def split_documents(self) -> Iterator[tuple[str, str]]:
        return ((split, question + answer) for split, question, answer in self.split_pairs())
