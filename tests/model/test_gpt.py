import torch

from gptlab import registry
from gptlab.model.gpt import GPTConfig


def _model(**kw):
    torch.manual_seed(0)
    return registry.build(
        "model", GPTConfig(**{"n_layer": 2, "n_head": 2, "d_model": 16, "block_size": 12, **kw}), vocab_size=13
    )


def test_parameter_count_matches_formula():
    model = _model()
    d, v, t, layers = 16, 13, 12, 2
    per_block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d)
    assert model.num_parameters() == v * d + t * d + layers * per_block + 2 * d
    assert model.head.weight is model.token_embedding.weight


def test_no_future_token_leaks():
    model = _model().eval()
    idx = torch.randint(13, (1, 12))
    changed = idx.clone()
    changed[0, 7] = (idx[0, 7] + 1) % 13
    a, b = model(idx).logits, model(changed).logits
    assert torch.allclose(a[:, :7], b[:, :7], atol=1e-6)
    assert not torch.allclose(a[:, 7:], b[:, 7:])
