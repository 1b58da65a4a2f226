"""Speed metrics: the peak table by GPU name, the meter's record and its one-line description."""

from __future__ import annotations

import pytest
import torch

from gptlab.trainer import speed


@pytest.mark.parametrize(
    "name, peak",
    [
        ("NVIDIA H200", 989e12),
        ("NVIDIA H100 80GB HBM3", 989e12),
        ("NVIDIA H100 PCIe", 756e12),
        ("NVIDIA A100-SXM4-80GB", 312e12),
        ("NVIDIA GeForce GTX 1080", None),
    ],
)
def test_peak_flops_by_gpu_name(name, peak, monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    assert speed.peak_flops(torch.device("cuda")) == peak


def test_no_peak_off_cuda():
    assert speed.peak_flops(torch.device("cpu")) is None


def test_meter_records_global_tokens_and_step_time_but_no_mfu_on_the_cpu():
    meter = speed.SpeedMeter(torch.device("cpu"), flops_per_token=1000, world_size=2)
    meter.restart()
    for _ in range(4):
        meter.count(256)
    record = meter.record()
    assert record["tokens_per_s"] > 0 and record["step_ms"] > 0
    assert "mfu" not in record and "peak_memory_gib" not in record
    assert record["tokens_per_s"] == pytest.approx(2 * 4 * 256 / (4 * record["step_ms"] / 1000), rel=1e-6)


def test_description_names_the_bf16_peak_for_fp8():
    record = {"tokens_per_s": 512_000.0, "step_ms": 64.0, "mfu": 0.441, "peak_memory_gib": 20.5}
    assert speed.describe(record) == "512,000 tok/s | 64.0 ms/step | MFU 44.1% | 20.5 GiB"
    assert "MFU 44.1% of the bf16 peak" in speed.describe(record, fp8=True)
