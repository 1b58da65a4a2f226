import pytest

from gptlab.schedule import ScheduleConfig, WSDConfig, constant, cosine, linear, warmup_stable_decay


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
