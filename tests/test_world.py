"""The world of a run: one process, or what torchrun describes."""

from __future__ import annotations

import pytest
import torch

from gptlab.errors import ConfigError
from gptlab.world import World


def test_one_process_is_the_main_one():
    world = World.single("cpu")
    assert (world.rank, world.world_size, world.is_main, world.device) == (0, 1, True, torch.device("cpu"))
    world.barrier()  # no process group: nothing to wait for


def test_torchruns_environment_gives_rank_and_size():
    world = World.from_env("cpu", {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert (world.rank, world.world_size, world.local_rank, world.is_main) == (3, 4, 1, False)
    assert World.from_env("cpu", {}) == World.single("cpu")


@pytest.mark.parametrize("env", [{"RANK": "4", "WORLD_SIZE": "4"}, {"RANK": "x"}])
def test_an_impossible_environment_is_a_clear_error(env):
    with pytest.raises(ConfigError, match="RANK"):
        World.from_env("cpu", env)
