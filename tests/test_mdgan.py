"""MD-GAN: the simplex, the mixture likelihood, λ, the losses and one step (hand-derivable values)."""
import math

import pytest
import torch

from gantut import mdgan


@pytest.mark.parametrize("d", [1, 2, 3, 9, 16])
def test_simplex_vertices_are_unit_norm_equidistant_and_centred(d):
    mu = mdgan.simplex_vertices(d)
    assert mu.shape == (d + 1, d)
    assert torch.allclose(mu.norm(dim=1), torch.ones(d + 1, dtype=mu.dtype), atol=1e-12)
    dist = torch.cdist(mu, mu)
    off = dist[~torch.eye(d + 1, dtype=torch.bool)]
    assert torch.allclose(off, torch.full_like(off, math.sqrt(2 * (d + 1) / d)), atol=1e-12)
    assert torch.allclose(mu.sum(0), torch.zeros(d, dtype=mu.dtype), atol=1e-12)
    # unit vectors with mean 0: every pairwise cosine is -1/d
    gram = mu @ mu.T
    assert torch.allclose(gram[0, 1:], torch.full((d,), -1.0 / d, dtype=mu.dtype), atol=1e-12)


def test_reference_code_normalisation_bug_is_reproduced():
    bad = mdgan.simplex_vertices(9, reference_bug=True)
    assert bad.norm(dim=1)[0].item() == pytest.approx(0.9436, abs=1e-4)
    assert (bad[0] - bad[1]).norm().item() == pytest.approx(1.4066, abs=1e-4)
    assert mdgan.simplex_vertices(2, reference_bug=True).norm(dim=1)[0].item() == pytest.approx(0.894, abs=1e-3)


def test_mixture_likelihood_of_one_component_is_the_gaussian_density():
    mu = torch.zeros(1, 3, dtype=torch.float64)
    e = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0]], dtype=torch.float64)
    L = mdgan.mixture_likelihood(e, mu, sigma2=0.25)
    peak = (2 * math.pi * 0.25) ** -1.5
    assert L[0].item() == pytest.approx(peak)
    assert L[1].item() == pytest.approx(peak * math.exp(-0.25 / 0.5))


def test_mixture_likelihood_is_the_average_of_the_components():
    mu = mdgan.simplex_vertices(2)
    e = torch.randn(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    by_hand = sum(torch.exp(-((e - m) ** 2).sum(1) / (2 * 0.25)) for m in mu) / 3 / (2 * math.pi * 0.25)
    assert torch.allclose(mdgan.mixture_likelihood(e, mu, 0.25), by_hand)


@pytest.mark.parametrize("bug,expected", [(False, 0.017737), (True, 0.022087)])
def test_lambda_at_the_centroid_for_d9(bug, expected):
    m = mdgan.SimplexMixture(9, 0.25, reference_bug=bug)
    assert m.lam == pytest.approx(expected, abs=5e-7)
    assert m.argmax.norm().item() < 1e-6  # the maximum is the centroid (chapter 04)


def test_lambda_is_the_maximum_of_the_likelihood():
    g = torch.Generator().manual_seed(1)
    for d, sigma2 in [(9, 0.25), (2, 0.25), (2, 0.05), (3, 0.1)]:
        m = mdgan.SimplexMixture(d, sigma2)
        e = torch.cat([m.mu, 1.5 * torch.randn(20000, d, generator=g, dtype=torch.float64),
                       m.argmax + 1e-3 * torch.randn(200, d, generator=g, dtype=torch.float64)])
        L = m.likelihood(e)
        assert L.max().item() <= m.lam * (1 + 1e-9)
        # and it is attained: the gradient of L vanishes at the argmax
        x = m.argmax.clone().unsqueeze(0).requires_grad_(True)
        (grad,) = torch.autograd.grad(m.likelihood(x).sum(), x)
        assert grad.norm().item() < 1e-7 * max(m.lam, 1.0) * 1e3


def test_small_sigma_moves_the_maximum_to_the_vertices():
    # with σ² small the components separate and each vertex is a (global) maximum
    m = mdgan.SimplexMixture(2, 0.05)
    assert m.lam > mdgan.mixture_likelihood(torch.zeros(1, 2, dtype=torch.float64), m.mu, 0.05).item()
    assert min((m.argmax - v).norm().item() for v in m.mu) < 0.05


def test_losses_with_eps_inside_the_logs():
    lam, eps = 0.02, 1e-8
    L_real = torch.tensor([0.01, 0.02])
    L_fake = torch.tensor([0.0, 0.02])
    expected_D = -(0.5 * (math.log(eps + 0.01) + math.log(eps + 0.02))
                   + 0.5 * (math.log(eps + 0.02) + math.log(eps + 0.0)))
    assert mdgan.d_loss_mdgan(L_real, L_fake, lam).item() == pytest.approx(expected_D, rel=1e-6)
    assert mdgan.g_loss_mdgan(L_fake, lam).item() == pytest.approx(0.5 * (math.log(0.02 + eps) + math.log(eps)),
                                                                    rel=1e-6)
    # G reaches its minimum log ε when its embeddings sit at the maximum of L
    assert mdgan.g_loss_mdgan(torch.tensor([lam]), lam).item() == pytest.approx(math.log(eps))


def test_uniform_prior_maps_normal_to_uniform():
    from gantut.priors import UniformPrior
    u = UniformPrior(1).sample(200000, generator=torch.Generator().manual_seed(0))
    assert u.min() >= -1 and u.max() <= 1
    assert u.mean().item() == pytest.approx(0.0, abs=0.01)
    assert u.var().item() == pytest.approx(1 / 3, abs=0.01)  # Var U[-1, 1] = 1/3


def test_mdgan_step_trains_and_reports_the_likelihoods():
    torch.manual_seed(0)
    G, D = mdgan.mdgan2d_G(), mdgan.mdgan2d_D(d=9)
    assert G(torch.randn(4, 2)).abs().max() <= 6
    assert D(torch.randn(4, 2)).shape == (4, 9) and D(torch.randn(4, 2)).abs().max() < 2.5
    step = mdgan.MDGANStep(G, D, torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999)),
                           torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999)), z_dim=2)
    x = torch.randn(64, 2)
    first = step(x)
    for _ in range(30):
        out = step(x)
    assert set(out) >= {"loss_D", "loss_G", "L_real", "L_fake", "lam"}
    assert out["loss_D"] < first["loss_D"]  # D learns to separate the fixed batch from fakes
    assert 0 <= out["L_real"] <= step.mixture.lam


def test_mdgan_step_names_the_fix_for_a_wrong_embedding_size():
    G, D = mdgan.mdgan2d_G(), mdgan.mdgan2d_D(d=4)
    step = mdgan.MDGANStep(G, D, torch.optim.Adam(G.parameters()), torch.optim.Adam(D.parameters()), 2)
    with pytest.raises(ValueError, match="out_dim=9"):
        step(torch.randn(8, 2))


def test_saturating_g_loss_vanishes_in_the_tails_and_the_nonsaturating_one_does_not():
    m = mdgan.SimplexMixture(9, 0.25)
    far = (3.0 * m.mu[:1]).clone().requires_grad_(True)  # 2 units beyond a vertex: L ~ exp(-8)·(peak)
    (g_sat,) = torch.autograd.grad(mdgan.g_loss_mdgan(m.likelihood(far), m.lam), far)
    far2 = far.detach().clone().requires_grad_(True)
    (g_ns,) = torch.autograd.grad(
        mdgan.g_loss_mdgan_nonsaturating(mdgan.mixture_log_likelihood(far2, m.mu, 0.25)), far2)
    # -log L near one component is ‖e − μ‖²/2σ² + const: gradient (e − μ)/σ² = 2μ/0.25, norm 8
    assert g_ns.norm().item() == pytest.approx(8.0, rel=1e-3)
    assert g_sat.norm().item() < 1e-3 * g_ns.norm().item()


def test_log_likelihood_is_finite_where_the_likelihood_underflows():
    mu = mdgan.simplex_vertices(9).float()
    e = torch.full((1, 9), 50.0)
    assert mdgan.mixture_likelihood(e, mu).item() == 0.0
    assert torch.isfinite(mdgan.mixture_log_likelihood(e, mu))


def test_mdgan_step_rejects_unknown_g_loss():
    G, D = mdgan.mdgan2d_G(), mdgan.mdgan2d_D()
    with pytest.raises(ValueError, match="saturating"):
        mdgan.MDGANStep(G, D, None, None, 2, g_loss="hinge")
