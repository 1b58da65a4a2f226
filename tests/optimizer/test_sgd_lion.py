import pytest
import torch

from gptlab.optimizer.lion import LionConfig, build_lion
from gptlab.optimizer.sgd import SGDConfig, build_sgd
from tests.optimizer.test_adamw import one_parameter_model


@pytest.mark.parametrize("nesterov,expected", [(False, [1.0 - 0.1 * 1.0, 1.0 - 0.1 * 1.9]), (True, [0.81, 0.539])])
def test_sgd_two_steps_by_hand(nesterov, expected):
    model = one_parameter_model([[1.0]])
    opt = build_sgd(SGDConfig(lr=0.1, momentum=0.9, nesterov=nesterov, weight_decay=0.0), model)
    weights = []
    for _ in range(2):
        model.weight.grad = torch.tensor([[1.0]])
        opt.step()
        weights.append(model.weight.item())
    # heavy ball: buf = 1 then 1.9; steps 0.1 and 0.19 -> 0.9, 0.71
    # Nesterov: update = g + 0.9 * buf = 1.9 then 1 + 0.9 * 1.9 = 2.71 -> 0.81, 0.539
    if not nesterov:
        expected = [0.9, 0.71]
    assert weights == pytest.approx(expected, abs=1e-6)


def test_lion_two_steps_by_hand():
    model = one_parameter_model([[1.0, -1.0]])
    opt = build_lion(LionConfig(lr=0.1, betas=[0.9, 0.99], weight_decay=0.5), model)
    model.weight.grad = torch.tensor([[2.0, 3.0]])
    opt.step()
    # update = sign(0.1 * g) = [+1, +1]; decay 0.1 * 0.5 = 5%: [0.95 - 0.1, -0.95 - 0.1]
    assert torch.allclose(model.weight.detach(), torch.tensor([[0.85, -1.05]]), atol=1e-6)
    # m = 0.01 * g = [0.02, 0.03]; next c = 0.9 * m + 0.1 * g' with g' = [-1, -1]: [-0.082, -0.073] -> sign -1
    model.weight.grad = torch.tensor([[-1.0, -1.0]])
    opt.step()
    assert torch.allclose(model.weight.detach(), torch.tensor([[0.85 * 0.95 + 0.1, -1.05 * 0.95 + 0.1]]), atol=1e-6)
