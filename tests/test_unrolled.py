"""Unrolled GAN: the differentiable optimiser steps, K = 0 is the plain step, and second- vs
first-order gradients on a case derived by hand."""
import copy

import pytest
import torch
from torch import nn

from gantut import gan, losses, nets, unrolled


def _pair(seed=0):
    torch.manual_seed(seed)
    return nets.mlp2d_G(z_dim=2, hidden=16), nets.mlp2d_D(hidden=16)


def test_adam_step_matches_torch_optim_adam():
    torch.manual_seed(0)
    D = nets.mlp2d_D(hidden=8)
    opt = torch.optim.Adam(D.parameters(), lr=1e-2, betas=(0.5, 0.9), eps=1e-8)
    x, y = torch.randn(16, 2), torch.randn(16, 2)
    for _ in range(3):  # give it non-trivial moments first
        opt.zero_grad()
        losses.d_loss_minimax(D(x), D(y)).backward()
        opt.step()
    theta = unrolled.unroll(D, opt, losses.d_loss_minimax, x, y, K=2, create_graph=False)
    for _ in range(2):
        opt.zero_grad()
        losses.d_loss_minimax(D(x), D(y)).backward()
        opt.step()
    for k, p in D.named_parameters():
        assert torch.allclose(theta[k], p, atol=1e-6), k


def test_unroll_leaves_D_and_its_optimiser_untouched():
    torch.manual_seed(0)
    D = nets.mlp2d_D(hidden=8)
    opt = torch.optim.Adam(D.parameters(), lr=1e-2)
    before = copy.deepcopy(D.state_dict())
    unrolled.unroll(D, opt, losses.d_loss_minimax, torch.randn(8, 2), torch.randn(8, 2), K=3, create_graph=True)
    assert all(torch.equal(before[k], v) for k, v in D.state_dict().items())
    assert len(opt.state) == 0


@pytest.mark.parametrize("r1_gamma", [0.0, 1.0])
@pytest.mark.parametrize("order", ["first", "second"])
def test_K0_is_the_plain_gan_step(order, r1_gamma):
    """K = 0 is GANStep's update, with R1 (chapter 06) on D's ordinary update as well as without."""
    G1, D1 = _pair()
    G2, D2 = copy.deepcopy(G1), copy.deepcopy(D1)
    mk = lambda G, D: (torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999)),
                       torch.optim.Adam(D.parameters(), 1e-4, betas=(0.5, 0.999)))
    plain = gan.GANStep(G1, D1, *mk(G1, D1), z_dim=2, loss="minimax", r1_gamma=r1_gamma)
    unr = unrolled.UnrolledStep(G2, D2, *mk(G2, D2), z_dim=2, K=0, order=order, loss="minimax", r1_gamma=r1_gamma)
    x = torch.randn(32, 2)
    for _ in range(3):
        torch.manual_seed(1)
        plain(x)
        torch.manual_seed(1)
        unr(x)
    for (k, a), b in zip(G1.state_dict().items(), G2.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), k
    for (k, a), b in zip(D1.state_dict().items(), D2.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), k
    if r1_gamma:  # and the penalty did change D: the same update without R1 gives other weights
        G3, D3 = _pair()
        bare = gan.GANStep(G3, D3, *mk(G3, D3), z_dim=2, loss="minimax")
        for _ in range(3):
            torch.manual_seed(1)
            bare(x)
        assert not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(D1.state_dict().values(), D3.state_dict().values()))


class Const(nn.Module):
    """G(z) = g for every z: a generator with one parameter."""

    def __init__(self, g):
        super().__init__()
        self.g = nn.Parameter(torch.tensor([[g]]))

    def forward(self, z):
        return self.g.expand(len(z), 1)


def test_second_order_gradient_matches_the_hand_derivation():
    """D(x) = w·x (WGAN critic), G(z) = g, one real point x, SGD with rate η, K = 1.

    D's loss is L_D = w·g − w·x, so w¹ = w − η(g − x). G minimises f₁ = −L_D(w¹) = w¹(x − g):
      first order:  ∂f/∂g at fixed w¹            = −w¹               = −(w + η(x − g))
      second order: adds ∂f/∂w¹ · dw¹/dg = (x − g)(−η)  ->  −w − 2η(x − g).
    With w = 0.5, x = 1, g = 0, η = 0.1: −0.6 (first) and −0.7 (second).
    """
    grads = {}
    for order in ("first", "second"):
        G = Const(0.0)
        D = nn.Linear(1, 1, bias=False)
        with torch.no_grad():
            D.weight.fill_(0.5)
        step = unrolled.UnrolledStep(G, D, torch.optim.SGD(G.parameters(), lr=0.0),
                                     torch.optim.SGD(D.parameters(), lr=0.1), z_dim=1, K=1, order=order,
                                     loss="wgan")
        step.g_step(torch.ones(1, 1))
        grads[order] = G.g.grad.item()
    assert grads["first"] == pytest.approx(-0.6)
    assert grads["second"] == pytest.approx(-0.7)


def test_second_order_differs_from_first_order_on_an_mlp_and_costs_more_graph():
    G, D = _pair(3)
    g = {}
    for order in ("first", "second"):
        Gc, Dc = copy.deepcopy(G), copy.deepcopy(D)
        step = unrolled.UnrolledStep(Gc, Dc, torch.optim.Adam(Gc.parameters()), torch.optim.Adam(Dc.parameters(), 1e-2),
                                     z_dim=2, K=3, order=order)
        torch.manual_seed(0)
        step.d_step(torch.randn(64, 2))
        torch.manual_seed(1)
        step.g_step(torch.randn(64, 2))
        g[order] = torch.cat([p.grad.flatten() for p in Gc.parameters()])
        assert all(p.grad is None for p in Dc.parameters())  # D's grads from G's backward are cleared
    assert not torch.allclose(g["first"], g["second"], atol=1e-6)
    cos = torch.nn.functional.cosine_similarity(g["first"], g["second"], dim=0)
    assert cos > 0  # the correction term changes the direction, it does not reverse it here


def test_unrolled_step_runs_with_adam_and_reports_losses():
    G, D = _pair()
    step = unrolled.UnrolledStep(G, D, torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-4),
                                 z_dim=2, K=2)
    out = step(torch.randn(32, 2))
    assert set(out) == {"loss_D", "loss_G"} and torch.isfinite(out["loss_G"])


def test_bad_arguments_name_the_fix():
    G, D = _pair()
    with pytest.raises(ValueError, match="K"):
        unrolled.UnrolledStep(G, D, None, None, 2, K=-1)
    with pytest.raises(ValueError, match="first"):
        unrolled.UnrolledStep(G, D, None, None, 2, order="third")
    with pytest.raises(ValueError, match="Adam or SGD"):
        unrolled.unroll(D, torch.optim.RMSprop(D.parameters()), losses.d_loss_minimax, torch.randn(2, 2),
                        torch.randn(2, 2), 1, False)


def test_unroll_leaves_a_batchnorm_D_untouched():
    """dcgan_D(28) has BatchNorm: unrolling runs it in train mode on copies of its buffers, so every
    parameter, buffer (running mean/var, batch count) and optimiser state of D is unchanged."""
    from gantut import losses, nets

    torch.manual_seed(0)
    D = nets.dcgan_D(28, 1, 8)
    opt = torch.optim.Adam(D.parameters(), 1e-3)
    real, fake = torch.randn(6, 1, 28, 28), torch.randn(6, 1, 28, 28)
    buffers = {k: b.clone() for k, b in D.named_buffers()}
    params = {k: p.clone() for k, p in D.named_parameters()}
    assert buffers, "the test needs a D with buffers"
    for order in ("first", "second"):
        theta = unrolled.unroll(D, opt, losses.d_loss_minimax, real, fake, K=2, create_graph=order == "second")
        assert all(torch.equal(b, buffers[k]) for k, b in D.named_buffers())
        assert all(torch.equal(p, params[k]) for k, p in D.named_parameters())
        assert not opt.state
        # the unrolled copies did move: BatchNorm statistics of the unrolled passes are in theta
        moved = [k for k in buffers if "running_mean" in k and not torch.equal(theta[k], buffers[k])]
        assert moved
