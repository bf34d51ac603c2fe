"""Checkers for chapters 04 (MD-GAN: simplex vertices, mixture likelihood) and 05 (one unrolled step)."""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from ..mdgan import simplex_vertices
from .core import GradingError, _ok, check_callable, check_close, check_shape

__all__ = ["check_simplex_vertices", "check_mixture_likelihood", "check_unrolled_sgd_step"]


def check_simplex_vertices(fn: Callable, name: str = "simplex_vertices") -> None:
    """``fn(d)`` must return the d+1 vertices of a regular simplex as a (d+1)×d tensor: unit norm,
    centred on 0, pairwise distance √(2(d+1)/d). Names the reference code's normalisation bug."""
    call = check_callable(fn, name)
    for d in (2, 3, 9):
        mu = call(d)
        check_shape(mu, (d + 1, d), f"{name}({d})")
        mu = mu.detach().to(torch.float64)
        if not torch.isfinite(mu).all():
            raise GradingError(f"{name}({d}) contains NaN or inf values.")
        centroid = mu.mean(0)
        if centroid.norm() > 1e-5:
            raise GradingError(
                f"{name}({d}): the vertices should be centred on 0 but their mean is {centroid.tolist()}; "
                "subtract the mean over the vertices (the mean of each row of the d×(d+1) matrix).")
        norms = mu.norm(dim=1)
        if not torch.allclose(norms, torch.ones_like(norms), atol=1e-5):
            n0 = norms[0].item()
            buggy = simplex_vertices(d, reference_bug=True).norm(dim=1)[0].item()
            unnorm = math.sqrt(d / (d + 1))  # the centred columns before normalisation
            if abs(n0 - buggy) < 1e-4:
                hint = ("this is the reference code's bug: the square root is taken inside the loop that adds "
                        "up the squares. Take the norm once: divide by torch.linalg.norm of a vertex.")
            elif abs(n0 - unnorm) < 1e-4:
                hint = "you centred the vertices but did not divide them by their norm."
            else:
                hint = "divide every vertex by its Euclidean norm (they all have the same one)."
            raise GradingError(f"{name}({d}): the vertices should have norm 1, found {norms.tolist()[:4]}... — {hint}")
        dist = torch.cdist(mu, mu)[~torch.eye(d + 1, dtype=torch.bool)]
        target = math.sqrt(2 * (d + 1) / d)
        if not torch.allclose(dist, torch.full_like(dist, target), atol=1e-5):
            raise GradingError(
                f"{name}({d}): all pairs of vertices should be {target:.4f} apart (a regular simplex), found "
                f"distances between {dist.min().item():.4f} and {dist.max().item():.4f}; start from "
                "[I_d | a·1] with a = (1 − √(1+d))/d.")
        _ok(f"{name}({d}): {d + 1} unit vertices, centred, all {target:.4f} apart")


def check_mixture_likelihood(fn: Callable, name: str = "mixture_likelihood") -> None:
    """``fn(e, mu, sigma2)``: L(e) = Σ_k (1/K) N(e; μ_k, σ²I) for each row of e (N×d) -> N values."""
    call = check_callable(fn, name)
    mu = torch.tensor([[1.0, 0.0], [-0.5, math.sqrt(3) / 2], [-0.5, -math.sqrt(3) / 2]], dtype=torch.float64)
    e = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.3, -0.2]], dtype=torch.float64)
    for sigma2 in (0.25, 0.1):
        got = call(e, mu, sigma2)
        check_shape(got, (3,), f"{name}(e of shape (3, 2), mu, {sigma2})")
        sq = ((e[:, None, :] - mu[None]) ** 2).sum(-1)
        norm = (2 * math.pi * sigma2) ** -1.0  # (2πσ²)^(−d/2) with d = 2
        expected = (norm * torch.exp(-sq / (2 * sigma2))).mean(1)
        got64 = got.detach().to(torch.float64)
        wrong = {
            "sum instead of average over the K components (forgot the weights 1/K)": expected * 3,
            "no normalising constant (2πσ²)^(−d/2)": expected / norm,
            "σ used where σ² belongs in the exponent": (norm * torch.exp(-sq / (2 * math.sqrt(sigma2)))).mean(1),
            "exp(−‖e−μ‖²/σ²) without the factor 2": (norm * torch.exp(-sq / sigma2)).mean(1),
        }
        for what, value in wrong.items():
            if torch.allclose(got64, value, rtol=1e-4, atol=1e-8):
                raise GradingError(f"{name}: expected {expected.tolist()}, got {got64.tolist()}: {what}.")
        check_close(got64, expected, f"{name}(e, mu, sigma2={sigma2})",
                    "L(e) = (1/K) Σ_k (2πσ²)^(−d/2) exp(−‖e − μ_k‖² / (2σ²)).", atol=1e-8, rtol=1e-5)
        _ok(f"{name} with sigma2={sigma2}: {[round(v, 5) for v in got64.tolist()]}")


def check_unrolled_sgd_step(fn: Callable, name: str = "unrolled_sgd_step") -> None:
    """``fn(D, params, real, fake, lr, d_loss)`` -> new params dict: one differentiable SGD step of D,
    θ' = θ − η ∂L_D/∂θ, computed with ``torch.func.functional_call`` and ``create_graph=True``.

    Checked on D(x) = w·x with the WGAN loss L_D = mean D(fake) − mean D(real), where
    w' = w − η(mean fake − mean real) and dw'/d fake = −η/N for every fake sample.
    """
    call = check_callable(fn, name)
    D = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        D.weight.fill_(0.5)
    params = {k: p for k, p in D.named_parameters()}
    real = torch.tensor([[1.0], [3.0]])
    fake = torch.tensor([[0.0], [1.0]], requires_grad=True)
    lr = 0.1

    def wgan(r, f):
        return f.mean() - r.mean()

    new = call(D, params, real, fake, lr, wgan)
    if not isinstance(new, dict) or set(new) != {"weight"}:
        raise GradingError(f"{name} should return a dict with the same keys as params ({list(params)}), "
                           f"got {type(new).__name__} {list(new) if isinstance(new, dict) else ''}.")
    w_new = new["weight"]
    if D.weight.item() != 0.5:
        raise GradingError(f"{name} changed D's own weights in place; return new tensors θ − η·g and leave D alone "
                           "(the unrolled D is thrown away).")
    expected = 0.5 - lr * (0.5 - 2.0)  # 0.65
    if abs(w_new.item() - (0.5 + lr * (0.5 - 2.0))) < 1e-6:
        raise GradingError(f"{name}: w' = {w_new.item():.4f}, expected {expected:.4f}: you stepped up the gradient; "
                           "D *minimises* its loss: θ − η·g.")
    check_close(w_new, torch.tensor([[expected]]), f"{name}: the new weight",
                "one SGD step: θ' = θ − lr · ∂d_loss/∂θ, with d_loss on D's outputs for real and fake.")
    if not w_new.requires_grad or w_new.grad_fn is None:
        raise GradingError(f"{name}: the new weight is not connected to the graph, so G cannot see how D reacts: "
                           "compute the gradient with torch.autograd.grad(..., create_graph=True) and do not "
                           "detach or use torch.no_grad().")
    (g,) = torch.autograd.grad(w_new.sum(), fake, allow_unused=True)
    if g is None or torch.allclose(g, torch.zeros_like(g)):
        raise GradingError(f"{name}: the new weight does not depend on the fakes; use create_graph=True so that "
                           "second-order gradients flow back through the step.")
    check_close(g, torch.full_like(fake, -lr / 2), f"{name}: d w'/d fake",
                "each fake sample moves w' by −lr/N through the gradient of the loss.")
    _ok(f"{name}: w' = {w_new.item():.4f} and dw'/dfake = {g.flatten().tolist()} (second-order path intact)")
    # a two-layer D: the result must match a reference step
    torch.manual_seed(0)
    D2 = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    p2 = dict(D2.named_parameters())
    x, y = torch.randn(5, 2), torch.randn(5, 2)

    def bce(r, f):
        return nn.functional.softplus(-r).mean() + nn.functional.softplus(f).mean()

    got = call(D2, p2, x, y, 0.05, bce)
    loss = bce(D2(x), D2(y))
    grads = torch.autograd.grad(loss, list(p2.values()))
    for (k, p), gk in zip(p2.items(), grads):
        check_close(got[k], p - 0.05 * gk, f"{name} on an MLP, parameter {k!r}")
    _ok(f"{name} on a 2-layer MLP with the BCE loss matches θ − η∇θ L_D")
