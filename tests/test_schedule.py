import math

import pytest

from gptlab.errors import ConfigError
from gptlab.schedule import (
    InverseSqrtConfig,
    ScheduleConfig,
    WSDConfig,
    constant,
    cosine,
    inverse_sqrt,
    linear,
    warmup_stable_decay,
)


def test_warmup_then_shapes():
    cfg = ScheduleConfig(warmup_steps=10, min_lr_ratio=0.1)
    assert constant(cfg, 100)(0) == pytest.approx(0.1) and constant(cfg, 100)(50) == 1.0
    assert cosine(cfg, 100)(10) == pytest.approx(1.0) and cosine(cfg, 100)(100) == pytest.approx(0.1)
    assert cosine(cfg, 100)(55) == pytest.approx(0.55)
    assert linear(cfg, 100)(55) == pytest.approx(0.1 + 0.9 * 0.5)


def test_warmup_fraction_and_wsd():
    assert cosine(ScheduleConfig(warmup_fraction=0.1), 200)(9) == pytest.approx(0.5)
    wsd = warmup_stable_decay(WSDConfig(warmup_steps=5, decay_fraction=0.2), 100)
    assert wsd(50) == 1.0 and wsd(79) == 1.0 and wsd(90) == pytest.approx(0.5) and wsd(100) == 0.0


@pytest.mark.parametrize(
    "shape,at_half",  # factor halfway through the cooldown
    [("linear", 0.5), ("cosine", 0.5), ("sqrt", 1 - 0.5**0.5)],
)
def test_wsd_decay_shapes(shape, at_half):
    wsd = warmup_stable_decay(WSDConfig(warmup_steps=0, decay_fraction=0.5, decay_shape=shape), 100)
    assert wsd(49) == 1.0 and wsd(75) == pytest.approx(at_half) and wsd(100) == pytest.approx(0.0)


def test_wsd_decay_shape_cosine_differs_from_linear_off_center():
    cos = warmup_stable_decay(WSDConfig(decay_fraction=0.5, decay_shape="cosine"), 100)
    assert cos(60) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.2)))


def test_inverse_sqrt_with_and_without_cooldown():
    plain = inverse_sqrt(InverseSqrtConfig(warmup_steps=4, cooldown_fraction=0.0), 100)
    assert plain(0) == pytest.approx(0.25) and plain(3) == 1.0 and plain(15) == pytest.approx(0.5)
    cooled = inverse_sqrt(InverseSqrtConfig(warmup_steps=4, cooldown_fraction=0.5), 100)
    assert cooled(15) == pytest.approx(0.5) and cooled(99) == pytest.approx(0.2 * 0.02)
    assert cooled(100) == 0.0


def test_bad_schedule_values_fail_early():
    with pytest.raises(ConfigError, match="decay_shape"):
        WSDConfig(decay_shape="exp")
    with pytest.raises(ConfigError, match="cooldown_fraction"):
        InverseSqrtConfig(cooldown_fraction=1.5)


def test_schedule_plot_draws_every_schedule(tmp_path):
    from PIL import Image

    from gptlab.schedule_plot import plot_schedules

    out = plot_schedules(tmp_path / "schedules.png", max_steps=50)
    with Image.open(out) as image:
        assert image.size[0] > 400 and len(set(image.convert("RGB").getdata())) > 10
