"""The model preparation of gptlab/distributed/ on the CPU: activation checkpointing keeps the
gradients, the bf16 residual stream stays bf16 between blocks, one process needs no strategy, and the
knobs name their valid values."""

from __future__ import annotations

import pytest
import torch

from gptlab import registry
from gptlab.config import resolve
from gptlab.distributed.parallelize import parallelize
from gptlab.errors import ConfigError
from gptlab.world import World
from tests.helpers import MACBETH, TINY, compose_config


def _model_and_trainer_cfg(extra: list[str]):
    typed = resolve(compose_config([*TINY, *MACBETH, "model.n_layer=2", *extra]))
    torch.manual_seed(0)
    return registry.build("model", typed["model"], vocab_size=40), typed["trainer"]


def _grads(model, forward):
    idx = torch.randint(40, (2, 17), generator=torch.Generator().manual_seed(1))
    forward(idx[:, :-1], idx[:, 1:]).loss.backward()
    return [p.grad.clone() for p in model.parameters()]


def test_activation_checkpointing_gives_the_same_gradients():
    plain, cfg = _model_and_trainer_cfg([])
    recomputed, cfg_ac = _model_and_trainer_cfg(["trainer.activation_checkpointing=true"])
    prepared = parallelize(recomputed, cfg_ac, World.single("cpu"))
    assert prepared.compile == "none" and type(prepared.strategy).__name__ == "Strategy"  # auto on the CPU
    assert prepared.model.state_dict().keys() == plain.state_dict().keys()
    for a, b in zip(_grads(plain, plain), _grads(recomputed, prepared.forward)):
        torch.testing.assert_close(a, b)


def test_low_precision_residual_carries_bf16_between_blocks():
    plain, _ = _model_and_trainer_cfg(["trainer.dtype=bfloat16"])
    model, cfg = _model_and_trainer_cfg(["trainer.dtype=bfloat16", "trainer.low_precision_residual=true"])
    prepared = parallelize(model, cfg, World.single("cpu"))
    inputs = []
    model.blocks[1].register_forward_pre_hook(lambda module, args: inputs.append(args[0].dtype))
    idx = torch.randint(40, (2, 17), generator=torch.Generator().manual_seed(1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low, full = prepared.forward(idx[:, :-1], idx[:, 1:]).loss, plain(idx[:, :-1], idx[:, 1:]).loss
    assert inputs == [torch.bfloat16]
    torch.testing.assert_close(low.float(), full.float(), rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.compile=graph", "Unknown compile 'graph' at trainer.compile.*blocks, model, none"),
        ("trainer.strategy=zero", "Unknown strategy 'zero' at trainer.strategy.*ddp, fsdp, none"),
        ("trainer.compile_mode=fast", "trainer.compile_mode='fast' is not one of default, reduce-overhead"),
    ],
)
def test_bad_knob_values_name_the_valid_ones(override, message):
    with pytest.raises(ConfigError, match=message):
        resolve(compose_config([*TINY, override]))


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.low_precision_residual=true", "low_precision_residual=true needs bfloat16 autocast"),
        ("trainer.fp8_head=true", "trainer.fp8_head=true but"),
    ],
)
def test_precision_knobs_refuse_what_cannot_run_here(override, message):
    model, cfg = _model_and_trainer_cfg(["trainer.dtype=float32", override])
    with pytest.raises(ConfigError, match=message):
        parallelize(model, cfg, World.single("cpu"))


def test_a_strategy_for_several_processes_refuses_one_process():
    model, cfg = _model_and_trainer_cfg(["trainer.strategy=fsdp"])
    with pytest.raises(ConfigError, match="torchrun --nproc_per_node=2"):
        parallelize(model, cfg, World.single("cpu"))
