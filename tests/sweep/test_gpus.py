"""GPU assignment of parallel sweep jobs."""

from __future__ import annotations

from collections import Counter

import pytest

from gptlab.errors import ConfigError
from gptlab.sweep.config import SweepConfig
from gptlab.sweep.gpus import gpu_for_job, parallel_slots, visible_gpus


def test_each_wave_puts_jobs_per_gpu_on_every_gpu():
    pool, per_gpu = [2, 5, 7], 4
    slots = parallel_slots(pool, per_gpu)
    assert slots == 12
    for wave in range(3):
        gpus = [gpu_for_job(n, pool, per_gpu) for n in range(wave * slots, (wave + 1) * slots)]
        assert Counter(gpus) == {2: 4, 5: 4, 7: 4}
    # job k + slots takes over the GPU of job k
    assert all(gpu_for_job(k, pool, per_gpu) == gpu_for_job(k + slots, pool, per_gpu) for k in range(40))
    assert [gpu_for_job(n, [0], 1) for n in range(3)] == [0, 0, 0]


def test_the_default_pool_is_every_visible_gpu():
    assert parallel_slots(None, 3) == 3 * max(len(visible_gpus()), 1)  # no GPU: 3 CPU jobs at once


@pytest.mark.parametrize("kwargs, key", [({"jobs_per_gpu": 0}, "jobs_per_gpu"), ({"gpus": []}, "sweep.gpus")])
def test_bad_settings_name_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        SweepConfig(**kwargs)
