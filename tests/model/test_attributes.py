"""gptlab/model/attributes.py: class attributes that read what nn.Module holds, whoever wrote it."""

from __future__ import annotations

import torch
from torch import nn

from gptlab import registry
from gptlab.model.attributes import Linear
from gptlab.model.gpt import GPTConfig


def tiny_llama() -> nn.Module:
    cfg = GPTConfig(
        n_layer=1, n_head=2, n_kv_head=1, d_model=16, block_size=8, norm="rmsnorm", pos="rope", mlp="swiglu", bias=False
    )
    return registry.build("model", cfg, vocab_size=11)


def test_submodules_and_parameters_follow_every_way_nn_module_changes_them():
    model = tiny_llama()
    attn = model.blocks[0].attn
    assert attn.qkv is attn._modules["qkv"] and isinstance(attn.qkv, Linear) and attn.qkv.bias is None
    swapped = Linear(16, 32, bias=False)
    attn.qkv = swapped  # a module swap (as LoRA's injection does)
    assert attn.qkv is swapped
    norm = model.blocks[0].attn_norm
    norm.weight = nn.Parameter(torch.full((16,), 2.0))
    assert torch.equal(norm.weight, torch.full((16,), 2.0))
    state = {k: torch.zeros_like(v) for k, v in model.state_dict().items()}
    model.load_state_dict(state, assign=True)  # new Parameter objects in _parameters
    assert norm.weight is norm._parameters["weight"] and not norm.weight.any()
    model.to(torch.float64)
    assert model.blocks[0].mlp.up.weight.dtype == torch.float64 and norm.weight.dtype == torch.float64
    del norm.weight
    assert not hasattr(norm, "weight")


def test_a_model_with_them_trains_and_compiles_without_graph_breaks():
    torch.manual_seed(0)
    model = tiny_llama()
    idx = torch.randint(11, (2, 8))
    explained = torch._dynamo.explain(model)(idx, idx)
    assert explained.graph_break_count == 0
    loss = model(idx, idx).loss
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
