"""The graded-cell checkers pass the reference implementations and name the mistake in wrong ones."""
import math

import pytest
import torch
import torch.nn.functional as F

from gantut import grading as G
from gantut import losses as L


def fails_with(checker, fn, *fragments):
    with pytest.raises(G.GradingError) as info:
        checker(fn)
    msg = str(info.value)
    for fragment in fragments:
        assert fragment in msg, f"expected {fragment!r} in the message:\n{msg}"
    return msg


def stub(*args):
    raise NotImplementedError


# --- building blocks ---------------------------------------------------------------------------


def test_grading_error_is_an_assertion_error():
    assert issubclass(G.GradingError, AssertionError)


def test_check_close():
    assert G.check_close(torch.tensor(1.0), 1.0 + 1e-7, "x") is None
    assert G.check_close(torch.tensor([1.0, 2.0]), [1.0, 2.0], "v") is None
    with pytest.raises(G.GradingError, match=r"the loss: expected 2, got 3\. try harder"):
        G.check_close(3.0, 2.0, "the loss", hint="try harder")
    with pytest.raises(G.GradingError, match=r"expected shape \(2,\), got shape \(3,\)"):
        G.check_close(torch.zeros(3), torch.zeros(2), "v")
    with pytest.raises(G.GradingError, match="non-finite"):
        G.check_close(float("nan"), 0.0, "x")


def test_check_shape():
    G.check_shape(torch.zeros(4, 1, 28, 28), (None, 1, 28, 28), "images")
    with pytest.raises(G.GradingError, match=r"should have shape \(any, 1, 28, 28\), got \(4, 784\)"):
        G.check_shape(torch.zeros(4, 784), (None, 1, 28, 28), "images")
    with pytest.raises(G.GradingError, match="torch.Tensor"):
        G.check_shape([1, 2], (2,), "v")


def test_check_scalar():
    assert G.check_scalar(torch.tensor(2.5), "loss") == 2.5
    with pytest.raises(G.GradingError, match="Python number"):
        G.check_scalar(2.5, "loss")
    with pytest.raises(G.GradingError, match=r"shape \(4, 1\).*\.mean\(\)"):
        G.check_scalar(torch.zeros(4, 1), "loss")
    with pytest.raises(G.GradingError, match=r"shape \(1,\)"):
        G.check_scalar(torch.zeros(1), "loss")
    with pytest.raises(G.GradingError, match="not finite"):
        G.check_scalar(torch.tensor(float("inf")), "loss")


def test_check_callable():
    assert G.check_callable(lambda a: a + 1, "f")(1) == 2
    with pytest.raises(G.GradingError, match="you have not implemented my_loss yet"):
        G.check_callable(stub, "my_loss")(torch.zeros(2))
    with pytest.raises(G.GradingError, match="should be a function"):
        G.check_callable(3, "my_loss")
    with pytest.raises(G.GradingError, match=r"my_loss\(tensor\(2,\)\) raised ZeroDivisionError") as info:
        G.check_callable(lambda t: 1 / 0, "my_loss")(torch.zeros(2))
    assert isinstance(info.value.__cause__, ZeroDivisionError)


# --- D loss ------------------------------------------------------------------------------------


def test_check_d_loss_passes_the_reference(capsys):
    assert G.check_d_loss(L.d_loss_minimax) is None
    out = capsys.readouterr().out
    assert out.count("✓") == 3 and "2·ln 2 = 1.3863" in out


def test_check_d_loss_passes_a_bce_with_logits_solution():
    def d_loss(real, fake):
        return (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    G.check_d_loss(d_loss)


def test_check_d_loss_messages():
    fails_with(G.check_d_loss, stub, "you have not implemented d_loss yet")
    fails_with(G.check_d_loss, lambda r, f: L.d_loss_minimax(f, r), "swapped")
    fails_with(G.check_d_loss, lambda r, f: F.softplus(-r).sum() + F.softplus(f).sum(), "sum over the batch")
    fails_with(G.check_d_loss, lambda r, f: -L.d_loss_minimax(r, f), "sign is wrong")
    # logits used as probabilities: log(0) at logits 0
    fails_with(G.check_d_loss, lambda r, f: -torch.log(r).mean() - torch.log(1 - f).mean(),
               "not probabilities", "binary_cross_entropy_with_logits")
    # ... or through binary_cross_entropy, which clamps log(0) at -100
    fails_with(G.check_d_loss,
               lambda r, f: F.binary_cross_entropy(r, torch.ones_like(r)) + F.binary_cross_entropy(f, torch.zeros_like(f)),
               "treated the logits as probabilities")
    # one BCE over the concatenated batch averages the two terms
    fails_with(G.check_d_loss,
               lambda r, f: F.binary_cross_entropy_with_logits(torch.cat([r, f]), torch.cat([torch.ones_like(r), torch.zeros_like(f)])),
               "half the expected value", "SUM")
    fails_with(G.check_d_loss,
               lambda r, f: L.d_loss_minimax(torch.sigmoid(r), torch.sigmoid(f)), "applied σ twice")
    fails_with(G.check_d_loss, lambda r, f: F.softplus(-r).mean(), "Only the real term")
    fails_with(G.check_d_loss, lambda r, f: F.softplus(-r).mean() - F.softplus(f).mean(), "fake term has the wrong sign")
    fails_with(G.check_d_loss, lambda r, f: L.d_loss_minimax(r, f).item(), "Python number")
    fails_with(G.check_d_loss, lambda r, f: F.softplus(-r) + F.softplus(f), "0-d tensor", ".mean()")
    fails_with(G.check_d_loss, lambda r, f: L.d_loss_minimax(r, f).detach(), "no gradient")


def test_check_d_loss_stability():
    def naive(r, f):
        return -torch.log(torch.sigmoid(r)).mean() - torch.log(1 - torch.sigmoid(f)).mean()
    msg = fails_with(G.check_d_loss, naive, "overflows", "softplus")
    assert "real=[-200, 3]" in msg
    # the same function is accepted when the notebook does not ask for stability
    G.check_d_loss(naive, stable=False)


def test_check_callable_hints_at_logits_when_bce_crashes():
    # binary_cross_entropy refuses negative inputs; the message points to the logits version
    call = G.check_callable(lambda r: F.binary_cross_entropy(r, torch.ones_like(r)), "d_loss")
    with pytest.raises(G.GradingError, match="binary_cross_entropy_with_logits"):
        call(torch.tensor([-1.0]))


# --- G loss ------------------------------------------------------------------------------------


def test_check_g_loss_passes_the_reference(capsys):
    assert G.check_g_loss_nonsaturating(L.g_loss_nonsaturating) is None
    assert capsys.readouterr().out.count("✓") == 3


def test_check_g_loss_messages():
    fails_with(G.check_g_loss_nonsaturating, stub, "you have not implemented g_loss yet")
    fails_with(G.check_g_loss_nonsaturating, L.g_loss_saturating, "saturating loss")
    fails_with(G.check_g_loss_nonsaturating,
               lambda f: F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)), "label 0")
    fails_with(G.check_g_loss_nonsaturating, lambda f: F.softplus(-f).sum(), "sum over the batch")
    fails_with(G.check_g_loss_nonsaturating, lambda f: -L.g_loss_nonsaturating(f), "sign is wrong")
    fails_with(G.check_g_loss_nonsaturating, lambda f: -torch.log(f).mean(), "not probabilities")
    fails_with(G.check_g_loss_nonsaturating, lambda f: -torch.log(torch.sigmoid(f)).mean(), "overflows")


# --- gradient penalty --------------------------------------------------------------------------


def _grad(D, x_hat, reduce="sum", create_graph=True):
    x_hat = x_hat.detach().requires_grad_(True)
    out = D(x_hat)
    out = out.sum() if reduce == "sum" else out.mean()
    return torch.autograd.grad(out, x_hat, create_graph=create_graph)[0]


def _interp(real, fake, alpha_shape="sample", dist="rand"):
    N = real.shape[0]
    shape = {"sample": (N,) + (1,) * (real.dim() - 1), "batch": (1,) * real.dim(), "pixel": real.shape}[alpha_shape]
    alpha = torch.rand(shape) if dist == "rand" else torch.randn(shape)
    return alpha * real + (1 - alpha) * fake


def gp_variant(norm="flat", squared=False, lam=1.0, reduce="sum", create_graph=True, alpha_shape="sample",
               dist="rand", at=None, square=True, one_sided=False):
    def gp(D, real, fake):
        x_hat = {None: None, "real": real, "fake": fake}[at]
        if x_hat is None:
            x_hat = _interp(real, fake, alpha_shape, dist)
        g = _grad(D, x_hat, reduce, create_graph)
        n = g.flatten(1).norm(2, dim=1) if norm == "flat" else g.norm(2, dim=1)
        if squared:
            n = n ** 2
        d = n - 1
        if one_sided:
            d = d.clamp(min=0)
        return lam * ((d ** 2) if square else d).mean()
    return gp


def test_check_gradient_penalty_passes_the_reference_and_keeps_the_rng(capsys):
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    assert G.check_gradient_penalty(L.gradient_penalty) is None
    assert torch.equal(torch.rand(3), before)  # the checker used its own RNG state
    assert capsys.readouterr().out.count("✓") == 4
    G.check_gradient_penalty(gp_variant())  # a student's correct version, written differently


def test_check_gradient_penalty_messages():
    check = G.check_gradient_penalty
    fails_with(check, stub, "you have not implemented gradient_penalty yet")
    msg = fails_with(check, gp_variant(norm="dim1"), "0.25", "‖∇D‖ = ‖w‖ = 1", "dim=1")
    assert "it should be 0" in msg
    fails_with(check, gp_variant(squared=True), "squared norm")
    fails_with(check, gp_variant(lam=10.0), "WITHOUT λ")
    fails_with(check, gp_variant(reduce="mean"), "D(x̂).mean()")
    fails_with(check, gp_variant(square=False), "Square the difference")
    fails_with(check, gp_variant(one_sided=True), "one-sided")
    fails_with(check, gp_variant(create_graph=False), "create_graph=True")
    fails_with(check, gp_variant(alpha_shape="batch"), "same α")
    fails_with(check, gp_variant(alpha_shape="pixel"), "separate α for every pixel")
    fails_with(check, gp_variant(dist="randn"), "outside [0, 1]")
    fails_with(check, gp_variant(at="real"), "at the real data")
    fails_with(check, lambda D, real, fake: gp_variant()(D, real, fake).unsqueeze(0), "0-d tensor")


# --- R1 ----------------------------------------------------------------------------------------


def r1_variant(half=True, square=True, gp_form=False, reduce="sum", create_graph=True, fixed_gamma=None):
    def r1(D, real, gamma):
        gamma = fixed_gamma if fixed_gamma is not None else gamma
        g = _grad(D, real, reduce, create_graph).flatten(1)
        n2 = g.pow(2).sum(1)
        if not square:
            n2 = n2.sqrt()
        if gp_form:
            n2 = (n2.sqrt() - 1) ** 2
        return (gamma / 2 if half else gamma) * n2.mean()
    return r1


def test_check_r1_passes_the_reference(capsys):
    assert G.check_r1(L.r1_penalty) is None
    assert capsys.readouterr().out.count("✓") == 4
    G.check_r1(r1_variant())


def test_check_r1_messages():
    fails_with(G.check_r1, stub, "you have not implemented r1_penalty yet")
    msg = fails_with(G.check_r1, r1_variant(half=False), "omitted the ½", "γ = 20")
    assert "returned 90" in msg and "should be 45" in msg
    fails_with(G.check_r1, r1_variant(square=False), "its square")
    fails_with(G.check_r1, r1_variant(gp_form=True), "WGAN-GP form")
    fails_with(G.check_r1, r1_variant(reduce="mean"), "D(x).mean()")
    fails_with(G.check_r1, r1_variant(create_graph=False), "create_graph=True")
    fails_with(G.check_r1, r1_variant(fixed_gamma=10.0), "gamma argument")

    def at_zero(D, real, gamma):
        return L.r1_penalty(D, torch.zeros_like(real), gamma)
    fails_with(G.check_r1, at_zero, "D(x) = ½‖x‖²", "not taken at the real data")

    def summed(D, real, gamma):
        return real.shape[0] * L.r1_penalty(D, real, gamma)
    fails_with(G.check_r1, summed, "sum over the batch")



def test_check_gradient_penalty_explains_crashes():
    def alpha_2d(D, real, fake):  # α of shape (N, 1) does not broadcast over N×1×2×2 images
        alpha = torch.rand(real.shape[0], 1)
        return gp_variant()(D, alpha * real + (1 - alpha) * fake, fake)
    fails_with(G.check_gradient_penalty, alpha_2d, "raised RuntimeError", "torch.rand(N, 1, 1, 1)")

    def no_requires_grad(D, real, fake):
        x_hat = 0.5 * real + 0.5 * fake
        g = torch.autograd.grad(D(x_hat).sum(), x_hat)[0]
        return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
    fails_with(G.check_gradient_penalty, no_requires_grad, "requires_grad_(True)")
