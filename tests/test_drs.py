"""DRS (chapter 07; Azadi et al. 2019, arXiv:1810.06758): Eq. 8 on hand-computed values, percentiles on the 0-100 scale,
online max, calibration heads, the sampler, and the chapter 07 checker."""
import math

import pytest
import torch
from torch import nn

from gantut import drs, grading, nets
from gantut.data import TensorBatches
from gantut.grading import GradingError


def sigmoid(t):
    return 1 / (1 + math.exp(-t))


def test_max_logit_sample_has_F_minus_log_one_minus_exp_minus_eps():
    F = drs.f_hat(torch.tensor([3.0]), 3.0, epsilon=1e-8, gamma=0.0).item()
    assert F == pytest.approx(-math.log(1 - math.exp(-1e-8)), rel=1e-9)
    assert F == pytest.approx(18.4207, abs=1e-4)
    assert drs.f_hat(torch.tensor([0.0]), 0.0, epsilon=1e-6).item() == pytest.approx(13.8155, abs=1e-4)
    for gamma in (0.0, 10.0, 18.0, 25.0):
        p = drs.acceptance_probability(torch.tensor([3.0]), 3.0, 1e-8, gamma).item()
        assert p == pytest.approx(sigmoid(-math.log(-math.expm1(-1e-8)) - gamma), rel=1e-9)


def test_gamma_zero_gives_exact_rejection_sampling():
    logits = torch.tensor([-0.5, -2.0, -6.0], dtype=torch.float64)
    D_M, eps = 0.0, 1e-8
    p = drs.acceptance_probability(logits, D_M, eps, 0.0)
    delta = logits - D_M
    closed = torch.exp(delta) / (1 + torch.exp(delta) * (1 - math.exp(-eps)))
    assert torch.allclose(p, closed, rtol=1e-10)
    assert torch.allclose(p, torch.exp(delta), rtol=1e-6)  # ≈ (p_d/p_g)/M


def test_hand_value_off_the_max():
    # Δ = −1, ε = 1e-8, γ = 2: F = −1 − log(1 − e^{−1−1e-8}) − 2
    F = -1 - math.log(1 - math.exp(-1 - 1e-8)) - 2
    assert drs.f_hat(torch.tensor([1.0]), 2.0, 1e-8, 2.0).item() == pytest.approx(F, rel=1e-10)
    assert drs.acceptance_probability(torch.tensor([1.0]), 2.0, 1e-8, 2.0).item() == pytest.approx(sigmoid(F))


def test_f_hat_refuses_a_logit_above_the_max():
    with pytest.raises(ValueError, match="maximum logit"):
        drs.f_hat(torch.tensor([1.5]), 1.0)


def test_gamma_percentile_is_on_the_0_100_scale_and_warns_on_the_port_bug():
    F = torch.arange(101, dtype=torch.float64)  # 0..100
    assert drs.gamma_percentile(F, 95).item() == pytest.approx(95.0)
    assert drs.gamma_percentile(F, 50).item() == pytest.approx(50.0)
    with pytest.warns(UserWarning, match="80th"):
        assert drs.gamma_percentile(F, 0.8).item() == pytest.approx(0.8)
    with pytest.raises(ValueError, match="0-100"):
        drs.gamma_percentile(F, 950)


def test_shapes_and_dtypes_on_cpu():
    p = drs.acceptance_probability(torch.zeros(7, dtype=torch.float32) - 1, 0.0)
    assert p.shape == (7,) and p.dtype == torch.float64 and ((p > 0) & (p < 1)).all()


class _Const(nn.Module):
    """G(z) = z[:, :2] (a standard normal in 2D); D̃(x) = −‖x‖² (larger near 0)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, z):
        return z[:, :2] + 0 * self.w


def test_sampler_updates_the_max_online_and_counts_draws():
    G = _Const()
    logit = lambda x: -(x ** 2).sum(1)  # noqa: E731
    s = drs.DRS(G, logit, z_dim=2, gamma_q=None, gamma=0.0, burn_in=10, batch_size=500)
    s.D_M = -5.0  # a poor burn-in: the first batch has larger logits and must raise it
    res = s.sample(300, generator=torch.Generator().manual_seed(0))
    assert len(res.accepted) == 300 and res.accepted.shape == (300, 2)
    assert res.D_M_start == -5.0 and res.D_M_end > -0.01  # max of −‖x‖² over ≥ 500 normal draws
    assert res.n_drawn >= 300 and res.acceptance_rate == pytest.approx(300 / res.n_drawn)
    # exact rejection with p ∝ exp(−‖x‖²) turns N(0, I) into N(0, I/3): variance per coordinate 1/3
    assert res.accepted.var(0).mean().item() == pytest.approx(1 / 3, abs=0.08)
    assert res.rejected is not None and len(res.rejected) <= 64


def test_per_batch_gamma_is_the_95th_percentile_of_F():
    s = drs.DRS(_Const(), lambda x: x[:, 0], 2, gamma_q=95.0)
    logits = torch.linspace(-10, 0, 101, dtype=torch.float64)
    p, gamma = s.accept_probs(logits)
    F0 = drs.f_hat(logits, 0.0, 1e-8, 0.0)
    assert s.D_M == 0.0 and gamma == pytest.approx(torch.quantile(F0, 0.95).item())
    assert torch.allclose(p, torch.sigmoid(F0 - gamma))
    assert (p >= 0.5).sum().item() == 6  # the top 5 % of F (and the percentile itself) get p >= 1/2


@pytest.mark.parametrize("head", [None, "features"])
def test_calibrate_learns_and_leaves_the_input_model_alone(head):
    torch.manual_seed(0)
    real = torch.randn(512, 2) + torch.tensor([2.0, 0.0])
    D = nets.mlp2d_D()
    before = [p.clone() for p in D.parameters()]
    model, losses = drs.calibrate(D, _Const(), TensorBatches(real, 128, generator=torch.Generator().manual_seed(0)),
                                  z_dim=2, steps=150, head=head, lr=1e-2)
    assert all(torch.equal(a, b) for a, b in zip(before, D.parameters()))  # D itself is untouched
    assert sum(losses[-20:]) / 20 < 2 * math.log(2) - 0.3  # tells N((2,0), I) from N(0, I) better than chance
    out = model(torch.zeros(5, 2))
    assert out.shape == (5,) and not out.requires_grad
    if head is not None:
        assert all(torch.equal(a, b) for a, b in zip(before, model.D.parameters()))  # frozen critic


def test_affine_head_recovers_the_log_density_ratio():
    # critic D(x) = x_0; p_d = N((2,0), I), p_g = N(0, I): log p_d/p_g = 2 x_0 − 2, so a = 2, b = −2
    torch.manual_seed(0)
    critic = nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[1.0, 0.0]]))
        critic.bias.zero_()
    real = torch.randn(4096, 2) + torch.tensor([2.0, 0.0])
    model, _ = drs.calibrate(critic, _Const(), TensorBatches(real, 512, generator=torch.Generator().manual_seed(0)),
                             z_dim=2, steps=400, head="affine", lr=5e-2)
    assert model.head.weight.item() == pytest.approx(2.0, abs=0.25)
    assert model.head.bias.item() == pytest.approx(-2.0, abs=0.3)


def test_squashed_rule_accepts_with_sigmoid_of_the_logit():
    s = drs.DRS(_Const(), lambda x: x[:, 0], 2, rule="squashed")
    p, gamma = s.accept_probs(torch.tensor([0.0, 2.0]))
    assert gamma == 0.0 and torch.allclose(p, torch.sigmoid(torch.tensor([0.0, 2.0], dtype=torch.float64)))
    res = s.sample(100, torch.Generator().manual_seed(0))
    assert len(res.accepted) == 100 and 0.3 < res.acceptance_rate < 0.7  # E σ(x_0), x_0 ~ N(0, 1): 1/2


def test_acceptance_checker_accepts_reference_and_names_mistakes():
    grading.check_acceptance_probability(lambda l, M, e, g: drs.acceptance_probability(l, M, e, g))
    with pytest.raises(GradingError, match="σ"):
        grading.check_acceptance_probability(lambda l, M, e, g: drs.f_hat(l, M, e, g))
    with pytest.raises(GradingError, match="term is missing"):
        grading.check_acceptance_probability(lambda l, M, e, g: torch.sigmoid(l - M - g))
    with pytest.raises(GradingError, match="sign of γ"):
        grading.check_acceptance_probability(lambda l, M, e, g: drs.acceptance_probability(l, M, e, -g))
    with pytest.raises(GradingError, match="not implemented"):
        def stub(l, M, e, g):
            raise NotImplementedError()
        grading.check_acceptance_probability(stub)


def test_calibration_heads_and_calibrate_work_on_32px_images():
    """DRS is not tied to 28 px: a features head on a 32 px DCGAN critic, and calibration through fit."""
    from gantut import nets
    from gantut.data import TensorBatches

    torch.manual_seed(0)
    D = nets.dcgan_D(img_size=32, channels=1, base=8, batchnorm=False)
    model = drs.CalibratedLogit(D, head="features")
    assert model(torch.randn(3, 1, 32, 32)).shape == (3,)
    G = nets.dcgan_G(z_dim=4, img_size=32, channels=1, base=8)
    real = torch.rand(64, 1, 32, 32) * 2 - 1
    cal, hist = drs.calibrate(D, G, TensorBatches(real, 16, generator=torch.Generator().manual_seed(0)), 4, 6,
                              head="affine", progress=False)
    assert len(hist) == 6 and all(math.isfinite(v) for v in hist)
    assert cal(torch.randn(2, 1, 32, 32)).shape == (2,)
