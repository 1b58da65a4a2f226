import pytest
import torch

from gptlab import registry
from gptlab.model.gpt import GPTConfig
from gptlab.optimizer.muon import NEWTON_SCHULZ_COEFFICIENTS, MuonConfig, build_muon, newton_schulz
from gptlab.optimizer.soap import SOAPConfig, build_soap


def tiny_gpt():
    return registry.build("model", GPTConfig(n_layer=1, n_head=2, d_model=8, block_size=8), vocab_size=7)


def scalar_newton_schulz(value: float, norm: float, steps: int) -> float:
    """The iteration acts on each singular value alone: s <- a s + b s^3 + c s^5 from s / |M|_F."""
    a, b, c = NEWTON_SCHULZ_COEFFICIENTS
    s = value / norm
    for _ in range(steps):
        s = a * s + b * s**3 + c * s**5
    return s


def test_newton_schulz_on_a_diagonal_matrix_matches_the_scalar_iteration():
    matrix = torch.diag(torch.tensor([3.0, 1.0]))
    norm = 10**0.5
    expected = torch.diag(torch.tensor([scalar_newton_schulz(3.0, norm, 5), scalar_newton_schulz(1.0, norm, 5)]))
    assert torch.allclose(newton_schulz(matrix, 5), expected, atol=1e-5)
    # five steps put every singular value near 1, as Muon wants
    assert ((expected.diagonal() > 0.6) & (expected.diagonal() < 1.25)).all()


def test_newton_schulz_orthogonalizes_tall_and_wide_matrices():
    torch.manual_seed(0)
    for shape in ((12, 4), (4, 12)):
        singular_values = torch.linalg.svdvals(newton_schulz(torch.randn(shape), 10))
        assert ((singular_values > 0.6) & (singular_values < 1.25)).all()


def test_muon_first_step_by_hand_and_adam_for_the_rest():
    model = tiny_gpt()
    opt = build_muon(MuonConfig(lr=0.1, momentum=0.5, nesterov=False, embedding_lr=0.01, vector_lr=0.02), model)
    roles = {g["role"]: g for g in opt.param_groups}
    assert roles["matrix"]["lr"] == 0.1 and roles["embedding"]["lr"] == 0.01 and roles["vector"]["lr"] == 0.02
    weight = model.blocks[0].attn.proj.weight  # 8 x 8: scale sqrt(max(1, 8/8)) = 1
    before = weight.detach().clone()
    grad = torch.diag(torch.tensor([3.0, 1.0, 0, 0, 0, 0, 0, 0]))
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    weight.grad = grad
    gain = model.blocks[0].attn_norm.weight
    gain.grad = torch.full_like(gain, -2.0)
    opt.step()
    norm = 10**0.5
    expected = torch.zeros(8)
    expected[:2] = torch.tensor([scalar_newton_schulz(3.0, norm, 5), scalar_newton_schulz(1.0, norm, 5)])
    assert torch.allclose(before - weight.detach(), 0.1 * torch.diag(expected), atol=1e-5)
    # the norm gain takes Adam's first step: lr * sign(g)
    assert torch.allclose(gain.detach(), torch.full_like(gain, 1.0 + 0.02), atol=1e-6)


def test_muon_scales_tall_updates():
    model = tiny_gpt()
    opt = build_muon(MuonConfig(lr=1.0, momentum=0.0, nesterov=False), model)
    up = model.blocks[0].mlp.up.weight  # 32 x 8: tall, scale sqrt(32 / 8) = 2
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    up.grad = torch.randn_like(up)
    before = up.detach().clone()
    opt.step()
    singular_values = torch.linalg.svdvals(before - up.detach())
    assert ((singular_values > 2 * 0.6) & (singular_values < 2 * 1.25)).all()


def test_soap_first_step_of_a_rank_one_gradient_is_its_singular_pair():
    """Step one: bases from G G^T and G^T G, Adam on the rotated gradient -> sign in that basis."""
    model = tiny_gpt().double()  # float64: the rotated gradient's zeros stay far below eps
    opt = build_soap(SOAPConfig(lr=0.1, weight_decay=0.0), model)
    weight = model.blocks[0].attn.proj.weight
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    torch.manual_seed(0)
    u, v = (torch.nn.functional.normalize(torch.randn(8, dtype=torch.float64), dim=0) for _ in range(2))
    weight.grad = 5.0 * torch.outer(u, v)
    before = weight.detach().clone()
    opt.step()
    assert torch.allclose(before - weight.detach(), 0.1 * torch.outer(u, v), atol=1e-4)


@pytest.mark.parametrize("name", ["adamw", "sgd", "lion", "muon", "soap"])
def test_every_optimizer_trains_the_default_model(name, tmp_path):
    """A real run through the entrypoint's pipeline: the default model (2 x 96; shorter windows and
    batches to keep it quick) learns with each optimizer's defaults."""
    from gptlab.logger.jsonl import read_metrics
    from gptlab.train import train
    from tests.helpers import MACBETH, compose_config

    shape = ["model.block_size=32", "trainer.batch_size=8", "trainer.eval_batches=2", "trainer.progress=false"]
    overrides = [*shape, *MACBETH, f"optimizer={name}", "trainer.max_steps=60", "trainer.log_every=1"]
    train(compose_config(overrides), tmp_path)
    losses = [r["train_loss"] for r in read_metrics(tmp_path / "metrics.jsonl")]
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < first - 0.3, (name, losses)
