"""Losses and penalties on hand-derivable values (chapters 02, 03, 06, 08, 09; the papers are in docs/references.md)."""
import math

import pytest
import torch
from torch import nn

from gantut import losses as L

LN2 = math.log(2.0)


def softplus(t: float) -> float:
    return math.log1p(math.exp(t))


class Linear(nn.Module):
    """D(x) = wᵀ flatten(x) + b: gradient w everywhere."""

    def __init__(self, w, b=0.0):
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(w, dtype=torch.float32).flatten())
        self.b = nn.Parameter(torch.tensor(float(b)))

    def forward(self, x):
        return (x.flatten(1) @ self.w + self.b).unsqueeze(1)


def constant_critic(x):
    return torch.full((x.shape[0], 1), 3.0)


# --- minimax / non-saturating ------------------------------------------------------------------


def test_minimax_d_loss_at_zero_logits_is_2ln2():
    z = torch.zeros(8, 1)
    assert L.d_loss_minimax(z, z).item() == pytest.approx(2 * LN2)


def test_minimax_d_loss_asymmetric_by_hand():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    want = (softplus(-2.0) + softplus(1.0)) / 2 + (softplus(0.5) + softplus(-3.0)) / 2
    assert L.d_loss_minimax(real, fake).item() == pytest.approx(want, rel=1e-6)


def test_minimax_is_stable_at_huge_logits():
    # −log σ(−200) − log(1 − σ(200)) = 200 + 200; the naive formula gives inf.
    got = L.d_loss_minimax(torch.tensor([-200.0]), torch.tensor([200.0]))
    assert got.item() == pytest.approx(400.0)
    assert L.d_loss_minimax(torch.tensor([200.0]), torch.tensor([-200.0])).item() == pytest.approx(0.0, abs=1e-6)


def test_generator_losses_at_known_logits():
    # σ(0) = ½: saturating log ½ = −ln 2, non-saturating −log ½ = ln 2.
    z = torch.zeros(4)
    assert L.g_loss_saturating(z).item() == pytest.approx(-LN2)
    assert L.g_loss_nonsaturating(z).item() == pytest.approx(LN2)
    # D̃ = ln 3 → σ = 3/4: saturating log(1/4), non-saturating −log(3/4).
    t = torch.full((3,), math.log(3.0))
    assert L.g_loss_saturating(t).item() == pytest.approx(math.log(0.25), rel=1e-6)
    assert L.g_loss_nonsaturating(t).item() == pytest.approx(-math.log(0.75), rel=1e-6)
    assert L.g_loss_nonsat is L.g_loss_nonsaturating


def test_saturating_gradient_vanishes_where_nonsaturating_does_not():
    t = torch.tensor([-10.0], requires_grad=True)
    (g_sat,) = torch.autograd.grad(L.g_loss_saturating(t), t)
    (g_ns,) = torch.autograd.grad(L.g_loss_nonsaturating(t), t)
    assert abs(g_sat.item()) < 1e-4  # −σ(−10) ≈ −4.5e-5
    assert g_ns.item() == pytest.approx(-1.0, abs=1e-4)  # −σ(10)


# --- WGAN, hinge -------------------------------------------------------------------------------


def test_wgan_losses_on_constants():
    real, fake = torch.full((5, 1), 2.0), torch.full((5, 1), -1.0)
    assert L.d_loss_wgan(real, fake).item() == pytest.approx(-3.0)
    assert L.g_loss_wgan(fake).item() == pytest.approx(1.0)


def test_clip_weights_clamps_every_parameter():
    m = nn.Linear(3, 2)
    with torch.no_grad():
        m.weight.copy_(torch.tensor([[0.5, -0.5, 0.001], [0.02, -0.003, -2.0]]))
        m.bias.fill_(1.0)
    L.clip_weights(m, c=0.01)
    assert m.weight.tolist()[0] == pytest.approx([0.01, -0.01, 0.001])
    assert m.weight.tolist()[1] == pytest.approx([0.01, -0.003, -0.01])
    assert m.bias.tolist() == pytest.approx([0.01, 0.01])


def test_hinge_at_margins():
    # reals at +1 and fakes at −1 are exactly on the margin: zero loss.
    assert L.d_loss_hinge(torch.ones(4), -torch.ones(4)).item() == 0.0
    # D = 0 everywhere: relu(1) + relu(1) = 2.
    assert L.d_loss_hinge(torch.zeros(4), torch.zeros(4)).item() == pytest.approx(2.0)
    # beyond the margin no further credit; inside it linear.
    assert L.d_loss_hinge(torch.tensor([3.0, 0.5]), torch.tensor([-5.0, 0.0])).item() == pytest.approx(0.25 + 0.5)
    assert L.g_loss_hinge(torch.tensor([1.0, 3.0])).item() == pytest.approx(-2.0)


# --- least squares -----------------------------------------------------------------------------


def test_ls_zero_at_targets():
    a, b, c = -1.0, 1.0, 0.0
    assert L.d_loss_ls(torch.full((3,), b), torch.full((3,), a), a=a, b=b).item() == 0.0
    assert L.g_loss_ls(torch.full((3,), c), c=c).item() == 0.0
    # default a = 0, b = 1: D = ½ for both gives ½·¼ + ½·¼ = ¼
    assert L.d_loss_ls(torch.full((2,), 0.5), torch.full((2,), 0.5)).item() == pytest.approx(0.25)
    assert L.g_loss_ls(torch.zeros(2)).item() == pytest.approx(0.5)


def test_ls_optimum_minimises_the_pointwise_loss():
    # Pointwise: p_d·½(D − b)² + p_g·½(D − a)² is minimised at D* = (b p_d + a p_g)/(p_d + p_g).
    p_d, p_g, a, b = 0.7, 0.2, 0.3, 1.0
    d_star = L.d_star_ls(p_d, p_g, a=a, b=b)
    assert d_star == pytest.approx((0.7 + 0.06) / 0.9)
    grid = torch.linspace(-1, 2, 30001)
    pointwise = p_d * 0.5 * (grid - b) ** 2 + p_g * 0.5 * (grid - a) ** 2
    assert grid[pointwise.argmin()].item() == pytest.approx(d_star, abs=1e-4)
    # alpha regularisation: the optimum at p_g = p_d is (1 + α)/2 (chapter 09)
    assert L.d_star_ls(1.0, 1.0, a=0.5, b=1.0) == pytest.approx(0.75)


# --- gradient penalty --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gp_of_unit_norm_linear_critic_is_zero_and_norm_two_is_one(seed):
    g = torch.Generator().manual_seed(seed)
    real, fake = torch.randn(6, 1, 2, 2, generator=g), torch.randn(6, 1, 2, 2, generator=g)
    w1 = torch.full((4,), 0.5)  # ‖w‖ = 1
    assert L.gradient_penalty(Linear(w1), real, fake, generator=g).item() == pytest.approx(0.0, abs=1e-10)
    gp2 = L.gradient_penalty(Linear(2 * w1), real, fake, generator=g)
    assert gp2.item() == pytest.approx(1.0, rel=1e-6)
    assert (10 * gp2).item() == pytest.approx(10.0, rel=1e-6)  # with λ = 10


def test_gp_of_zero_gradient_critic_is_one():
    real, fake = torch.randn(4, 3), torch.randn(4, 3)
    assert L.gradient_penalty(constant_critic, real, fake).item() == pytest.approx(1.0)
    zero_w = Linear(torch.zeros(3), b=1.0)
    gp = L.gradient_penalty(zero_w, real, fake)
    assert gp.item() == pytest.approx(1.0)
    gp.backward()
    assert torch.isfinite(zero_w.w.grad).all()


def test_gp_norm_is_per_sample_over_all_dims():
    # D(x) = ½‖x‖²: ∇ = x̂. With real = fake = x, x̂ = x for every α; per-sample norms 3 and 1.
    x = torch.zeros(2, 1, 3, 3)
    x[0, 0, 0, :] = torch.tensor([1.0, 2.0, 2.0])  # ‖·‖ = 3
    x[1, 0, 2, 2] = 1.0  # ‖·‖ = 1
    def D(v):
        return 0.5 * v.flatten(1).pow(2).sum(1, keepdim=True)
    assert L.gradient_penalty(D, x, x.clone()).item() == pytest.approx(((3 - 1) ** 2 + 0) / 2)


def test_gp_draws_one_alpha_per_sample():
    seen = {}

    def spy(v):
        seen["x_hat"] = v.detach().clone()
        return v.flatten(1).sum(1, keepdim=True)

    real, fake = torch.ones(64, 1, 2, 2), torch.zeros(64, 1, 2, 2)
    L.gradient_penalty(spy, real, fake, generator=torch.Generator().manual_seed(0))
    x_hat = seen["x_hat"]  # = α per sample, constant over the sample's pixels
    per_sample = x_hat.flatten(1)
    assert torch.allclose(per_sample, per_sample[:, :1].expand_as(per_sample))
    assert ((per_sample >= 0) & (per_sample <= 1)).all()
    assert per_sample[:, 0].unique().numel() == 64


def test_gp_is_reproducible_with_a_generator():
    D = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    real, fake = torch.randn(5, 3), torch.randn(5, 3)
    a = L.gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(7))
    b = L.gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(7))
    assert a.item() == b.item()


def test_gp_trains_the_critic():
    D = Linear(torch.tensor([2.0, 0.0]))
    gp = L.gradient_penalty(D, torch.randn(3, 2), torch.randn(3, 2))
    assert gp.dim() == 0 and gp.dtype == torch.float32 and gp.requires_grad
    gp.backward()
    # d/dw (‖w‖ − 1)² = 2(‖w‖ − 1) w/‖w‖ = 2·1·(1, 0)
    assert D.w.grad.tolist() == pytest.approx([2.0, 0.0])


def test_gp_rejects_mismatched_batches():
    with pytest.raises(ValueError, match="same shape"):
        L.gradient_penalty(constant_critic, torch.zeros(4, 2), torch.zeros(3, 2))


# --- R1 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", [1.0, 10.0])
def test_r1_of_linear_critic_is_half_gamma_w_squared(gamma):
    w = torch.tensor([1.0, 2.0, 2.0, 0.0])  # ‖w‖² = 9
    D = Linear(w)
    r1 = L.r1_penalty(D, torch.randn(5, 1, 2, 2), gamma)
    assert r1.item() == pytest.approx(gamma / 2 * 9.0, rel=1e-6)
    assert r1.dim() == 0 and r1.requires_grad
    r1.backward()  # d/dw (γ/2)‖w‖² = γ w
    assert D.w.grad.tolist() == pytest.approx((gamma * w).tolist())


def test_r1_of_constant_critic_is_zero():
    assert L.r1_penalty(constant_critic, torch.randn(3, 2), gamma=10.0).item() == 0.0
    D = Linear(torch.zeros(2), b=5.0)
    assert L.r1_penalty(D, torch.randn(3, 2), gamma=10.0).item() == 0.0


def test_r1_is_evaluated_at_the_real_data():
    # D(x) = ½‖x‖²: ∇ = x, so R1 = (γ/2)·mean_i ‖x_i‖² = (2/2)·(4 + 0)/2 = 2
    x = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    def D(v):
        return 0.5 * v.pow(2).sum(1, keepdim=True)
    assert L.r1_penalty(D, x, gamma=2.0).item() == pytest.approx(2.0)


# --- alpha ramp --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["linear", "smoothstep"])
def test_alpha_ramp_endpoints_and_monotone(kind):
    start, length, amax = 100, 50, 0.5
    values = [L.alpha_ramp(s, start, length, amax, kind) for s in range(0, 200)]
    assert values[0] == 0.0 and values[100] == 0.0
    assert values[150] == pytest.approx(amax) and values[199] == pytest.approx(amax)
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert L.alpha_ramp(125, start, length, amax, kind) == pytest.approx(0.25)  # midpoint, both kinds


def test_alpha_ramp_shapes():
    assert L.alpha_ramp(110, 100, 40, 1.0, "linear") == pytest.approx(0.25)
    assert L.alpha_ramp(110, 100, 40, 1.0, "smoothstep") == pytest.approx(3 / 16 - 2 / 64)
    assert L.alpha_ramp(99, 100, 40, 0.3, "step") == 0.0
    assert L.alpha_ramp(100, 100, 40, 0.3, "step") == pytest.approx(0.3)
    assert L.alpha_ramp(100, 100, 0, 0.9) == pytest.approx(0.9)
    with pytest.raises(ValueError, match="kind"):
        L.alpha_ramp(0, 0, 1, 1.0, "cosine")


def test_losses_return_scalars_and_keep_dtype():
    r, f = torch.randn(4, 1, dtype=torch.float64), torch.randn(4, 1, dtype=torch.float64)
    for out in [
        L.d_loss_minimax(r, f), L.g_loss_saturating(f), L.g_loss_nonsaturating(f),
        L.d_loss_wgan(r, f), L.g_loss_wgan(f), L.d_loss_hinge(r, f), L.g_loss_hinge(f),
        L.d_loss_ls(r, f), L.g_loss_ls(f),
    ]:
        assert out.shape == () and out.dtype == torch.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_penalties_on_cuda_with_a_cpu_generator():
    D = Linear(torch.full((4,), 1.0)).cuda()  # ‖w‖ = 2
    real, fake = torch.randn(6, 1, 2, 2, device="cuda"), torch.randn(6, 1, 2, 2, device="cuda")
    gp = L.gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(0))
    assert gp.device.type == "cuda" and gp.item() == pytest.approx(1.0, rel=1e-5)
    assert L.r1_penalty(D, real, gamma=10.0).item() == pytest.approx(20.0, rel=1e-5)
