import torch

from gptlab import registry
from gptlab.model.gpt import GPTConfig
from gptlab.optimizer.adamw import AdamW, AdamWConfig, build_adamw


def one_parameter_model(values) -> torch.nn.Module:
    model = torch.nn.Module()
    model.weight = torch.nn.Parameter(torch.tensor(values))
    return model


def test_decay_only_on_matrices_by_default():
    model = registry.build("model", GPTConfig(n_layer=1, n_head=2, d_model=16, block_size=8), vocab_size=11)
    groups = {g["role"]: g for g in build_adamw(AdamWConfig(weight_decay=0.3), model).param_groups}
    assert groups["matrix"]["weight_decay"] == 0.3
    assert groups["vector"]["weight_decay"] == groups["embedding"]["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in groups["matrix"]["params"])
    embeddings = {id(model.token_embedding.weight), id(model.positions.embedding.weight)}
    assert embeddings == {id(p) for p in groups["embedding"]["params"]}
    assert sum(len(g["params"]) for g in groups.values()) == len(list(model.parameters()))
    everything = build_adamw(AdamWConfig(weight_decay=0.3, decay_norms_and_biases=True, decay_embeddings=True), model)
    assert all(g["weight_decay"] == 0.3 for g in everything.param_groups)


def test_lr_multipliers_per_role():
    model = registry.build("model", GPTConfig(n_layer=1, n_head=2, d_model=16, block_size=8), vocab_size=11)
    cfg = AdamWConfig(lr=0.01, lr_multipliers={"embedding": 3.0, "vector": 0.5})
    lrs = {g["role"]: g["lr"] for g in build_adamw(cfg, model).param_groups}
    assert lrs == {"matrix": 0.01, "embedding": 0.03, "vector": 0.005}


def test_one_step_matches_hand_computed_adamw():
    model = one_parameter_model([[1.0, -2.0]])
    opt = build_adamw(AdamWConfig(lr=0.1, weight_decay=0.5, betas=[0.9, 0.99]), model)
    assert isinstance(opt, torch.optim.AdamW)  # plain options take torch's (fused) kernel
    model.weight.grad = torch.tensor([[0.5, 0.5]])
    opt.step()
    # first step: m_hat = g, v_hat = g^2 -> update = lr * sign(g); decay = lr * wd * p
    expected = torch.tensor([[1.0 * (1 - 0.05) - 0.1, -2.0 * (1 - 0.05) - 0.1]])
    assert torch.allclose(model.weight.detach(), expected, atol=1e-6)


def test_gptlab_adamw_matches_torch_over_several_steps():
    torch.manual_seed(0)
    ours, theirs = one_parameter_model(torch.randn(4, 3).tolist()), one_parameter_model(torch.zeros(4, 3).tolist())
    theirs.weight.data.copy_(ours.weight.data)
    cfg = dict(lr=0.05, weight_decay=0.2, betas=[0.8, 0.95])
    mine = AdamW(build_adamw(AdamWConfig(**cfg), ours).param_groups, AdamWConfig(**cfg), betas=(0.8, 0.95), eps=1e-8)
    reference = build_adamw(AdamWConfig(**cfg), theirs)
    for _ in range(5):
        grad = torch.randn(4, 3)
        for model, opt in ((ours, mine), (theirs, reference)):
            model.weight.grad = grad.clone()
            opt.step()
    assert torch.allclose(ours.weight, theirs.weight, atol=1e-6)


def test_cautious_decay_skips_coordinates_the_update_pushes_away_from_zero():
    model = one_parameter_model([[1.0, 1.0]])
    opt = build_adamw(AdamWConfig(lr=0.1, weight_decay=0.5, cautious_weight_decay=True), model)
    model.weight.grad = torch.tensor([[0.5, -0.5]])  # update +1 (shrinks p) and -1 (grows p)
    opt.step()
    # coordinate 0: decayed and stepped: 1 * (1 - 0.05) - 0.1; coordinate 1: only stepped: 1 + 0.1
    assert torch.allclose(model.weight.detach(), torch.tensor([[0.85, 1.1]]), atol=1e-6)


def test_decay_scaled_by_schedule_not_by_lr():
    model = one_parameter_model([[2.0]])
    opt = build_adamw(AdamWConfig(lr=0.1, weight_decay=0.5, weight_decay_scaling="schedule"), model)
    opt.param_groups[0]["lr"] = 0.05  # the schedule's multiplier is 0.5 this step
    model.weight.grad = torch.tensor([[1.0]])
    opt.step()
    # decay = (lr_t / lr_peak) * wd = 0.25 of the weight; Adam's first step moves by lr_t
    assert torch.allclose(model.weight.detach(), torch.tensor([[2.0 * 0.75 - 0.05]]), atol=1e-6)


def test_lr_scale_multiplies_every_role():
    from gptlab.optimizer.muon import MuonConfig, build_muon

    model = registry.build("model", GPTConfig(n_layer=1, n_head=2, d_model=16, block_size=8), vocab_size=11)
    cfg = MuonConfig(lr=0.02, embedding_lr=0.01, vector_lr=0.004, lr_scale=0.5, lr_multipliers={"vector": 2.0})
    lrs = {g["role"]: g["lr"] for g in build_muon(cfg, model).param_groups}
    assert lrs == {"matrix": 0.01, "embedding": 0.005, "vector": 0.004}
