"""The divergence guard: a non-finite loss stops the run (last checkpoint intact) or skips the step."""

from dataclasses import dataclass

import pytest
import torch

from gptlab import registry
from gptlab.model.gpt import GPT, GPTConfig
from gptlab.train import train
from gptlab.trainer import checkpoint
from gptlab.trainer.loop import Divergence
from tests.helpers import MACBETH, TINY, compose_config


@dataclass
class PoisonedConfig(GPTConfig):
    name: str = "poisoned_gpt"
    poison_from_call: int = 7  # forward calls from this one on return NaN (while training)
    poison_calls: int = 1000


@registry.register("model", "poisoned_gpt", PoisonedConfig)
class PoisonedGPT(GPT):
    """A GPT whose training forward passes return a NaN loss in a chosen window of calls."""

    calls = 0

    def forward(self, idx, targets=None):
        out = super().forward(idx, targets)
        if self.training:
            self.calls += 1
            if self.cfg.poison_from_call <= self.calls < self.cfg.poison_from_call + self.cfg.poison_calls:
                out.loss = out.loss * torch.nan
        return out


@pytest.fixture(params=["muon", "adamw"])
def poisoned(request, tmp_path):
    """muon: the host checks every step; adamw (fused): the device drops the step, the log step stops."""
    from gptlab.config import CONFIG_DIR

    registry.expose_unconfigured(str(CONFIG_DIR))
    overrides = [*TINY, *MACBETH, "model=poisoned_gpt", *TINY[:4], "trainer.eval_every=5", "trainer.max_steps=20"]
    return [*overrides, f"optimizer={request.param}"]


def test_nonfinite_loss_stops_and_keeps_the_last_good_checkpoint(poisoned, tmp_path):
    with pytest.raises(Divergence, match="diverged.*step 7.*trainer.on_nonfinite=skip"):
        train(compose_config(poisoned), tmp_path)
    state = checkpoint.load(checkpoint.checkpoint_path(tmp_path))
    assert state["step"] == 5 and all(torch.isfinite(t).all() for t in state["model"].values())


def test_skip_mode_drops_bad_steps_and_finishes(poisoned, tmp_path):
    overrides = [*poisoned, "trainer.on_nonfinite=skip", "model.poison_calls=3", "trainer.samples=0"]
    train(compose_config(overrides), tmp_path)
    state = checkpoint.load(checkpoint.checkpoint_path(tmp_path))
    assert state["step"] == 20 and state["skipped_steps"] == 3
    assert all(torch.isfinite(t).all() for t in state["model"].values())


def test_skip_mode_still_stops_after_too_many_bad_steps_in_a_row(poisoned, tmp_path):
    overrides = [*poisoned, "trainer.on_nonfinite=skip", "trainer.max_skipped_steps=2"]
    with pytest.raises(Divergence, match="max_skipped_steps=2"):
        train(compose_config(overrides), tmp_path)
