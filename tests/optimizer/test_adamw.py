import torch

from gptlab import registry
from gptlab.model.gpt import GPTConfig
from gptlab.optimizer.adamw import AdamWConfig, build_adamw


def test_no_decay_on_norms_biases_and_embeddings_by_default():
    model = registry.build("model", GPTConfig(n_layer=1, n_head=2, d_model=16, block_size=8), vocab_size=11)
    decayed, plain = build_adamw(AdamWConfig(weight_decay=0.3), model).param_groups
    assert decayed["weight_decay"] == 0.3 and plain["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decayed["params"])
    embeddings = {id(model.token_embedding.weight), id(model.positions.embedding.weight)}
    assert embeddings <= {id(p) for p in plain["params"]}
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))
    all_decayed = build_adamw(AdamWConfig(decay_norms_and_biases=True, decay_embeddings=True), model).param_groups
    assert len(all_decayed) == 1


def test_one_step_matches_hand_computed_adamw():
    param = torch.nn.Parameter(torch.tensor([[1.0, -2.0]]))
    opt = build_adamw(AdamWConfig(lr=0.1, weight_decay=0.5, betas=[0.9, 0.99]), torch.nn.Linear(2, 1, bias=False))
    opt.param_groups[0]["params"] = [param]
    param.grad = torch.tensor([[0.5, 0.5]])
    opt.step()
    # first step: m_hat = g, v_hat = g^2 -> update = lr * sign(g); decay = lr * wd * p
    expected = torch.tensor([[1.0 * (1 - 0.05) - 0.1, -2.0 * (1 - 0.05) - 0.1]])
    assert torch.allclose(param.detach(), expected, atol=1e-6)
