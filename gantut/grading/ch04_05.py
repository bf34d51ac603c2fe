"""Checkers for chapters 04 (MD-GAN: simplex vertices, mixture likelihood) and 05 (one unrolled step)."""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .core import GradingError, _fmt, _graded, _ok, _unchanged, _wrap_error, check_callable, check_shape

__all__ = ["check_simplex_vertices", "check_mixture_likelihood", "check_unrolled_sgd_step"]


# --------------------------------------------------------------------------------------------
# chapter 04: the vertices of a regular simplex
# --------------------------------------------------------------------------------------------

_SIMPLEX = ("the d+1 vertices of a regular simplex in R^d as a (d+1)×d tensor, one vertex per row: centred on 0 "
            "(mean over the vertices = 0), unit norm, every pair √(2(d+1)/d) apart (dot products −1/d)")


def _buggy_norm(dim: int) -> float:
    """The number the reference code divides by in dimension ``dim``: the square root taken inside the
    accumulation, s ← √(s + x_i²), over the first centred column of [I | a·1]."""
    a = (1.0 - math.sqrt(1.0 + dim)) / dim
    col = [1.0] + [0.0] * (dim - 1)  # the first column of [I | a·1], before centring
    row_mean = (1.0 + a) / (dim + 1)  # every row of [I | a·1] has mean (1 + a)/(dim + 1)
    s = 0.0
    for x in col:
        s = math.sqrt(s + (x - row_mean) ** 2)
    return s


@_graded(_SIMPLEX)
def check_simplex_vertices(fn: Callable, name: str = "simplex_vertices") -> None:
    """``fn(d)`` must return the d+1 vertices of a regular simplex as a (d+1)×d tensor: centred on 0,
    unit norm, pairwise distance √(2(d+1)/d). Checked by these properties only (any rotation or
    construction passes), for d = 2, 3, 5 and 9; names the reference code's normalisation bug, the
    missing transpose, the missing centring or normalisation."""
    call = check_callable(fn, name)
    for d in (2, 3, 5, 9):
        mu = call(d)
        what = f"{name}({d})"
        if isinstance(mu, torch.Tensor) and mu.dim() == 2 and tuple(mu.shape) == (d, d + 1):
            raise GradingError(f"{what} has shape {tuple(mu.shape)}: that is the d×(d+1) matrix with one vertex per "
                               "COLUMN; return one vertex per row, shape (d+1, d): transpose it with .T.")
        if isinstance(mu, torch.Tensor) and mu.dim() == 2 and mu.shape[0] != d + 1 and mu.shape[0] == 10:
            raise GradingError(f"{what} has shape {tuple(mu.shape)}, the shape for d = 9: use the d argument "
                               f"(expected shape ({d + 1}, {d})).")
        check_shape(mu, (d + 1, d), what, hint="One row per vertex: d+1 rows of d coordinates.")
        mu = mu.detach().to(torch.float64)
        if not torch.isfinite(mu).all():
            raise GradingError(f"{what} contains NaN or inf values.")
        centroid = mu.mean(0)
        if centroid.norm() > 1e-5:
            raise GradingError(
                f"{what}: the vertices should be centred on 0 but their mean is "
                f"{[round(v, 4) for v in centroid.tolist()]}; subtract the mean over the vertices (the mean of "
                "each row of the d×(d+1) matrix, M − M.mean(dim=1, keepdim=True)) BEFORE normalising.")
        norms = mu.norm(dim=1)
        if not torch.allclose(norms, torch.ones_like(norms), atol=1e-5):
            n0 = norms[0].item()
            unnorm = math.sqrt(d / (d + 1))  # the centred columns before normalisation
            equal = bool(torch.allclose(norms, norms[0].expand_as(norms), atol=1e-6))
            if equal and abs(n0 - unnorm / _buggy_norm(d)) < 1e-4:
                hint = ("this is the reference code's bug: the square root is taken inside the loop that adds "
                        "up the squares. Take the norm once: divide by torch.linalg.norm of a vertex.")
            elif equal and abs(n0 - unnorm) < 1e-4:
                hint = ("you centred the vertices but did not divide them by their norm afterwards (normalise AFTER "
                        "centring: dividing first and then centring changes the norm again).")
            elif equal and abs(n0 - 1 / math.sqrt(d + 1)) < 1e-4:
                hint = ("you divided by the norm of the whole matrix; divide by the norm of one vertex "
                        "(they all have the same norm).")
            elif not equal:
                hint = ("the vertices have different norms, but a regular simplex centred on 0 has all its vertices "
                        "at the same distance from 0: subtract the mean over the vertices (M − M.mean(dim=1, "
                        "keepdim=True) for the d×(d+1) matrix [I_d | a·1]), not over the coordinates, then divide "
                        "by the norm of one vertex.")
            else:
                hint = "divide every vertex by its Euclidean norm (after centring, they all have the same one)."
            raise GradingError(f"{what}: the vertices should have norm 1, found "
                               f"{[round(v, 4) for v in norms.tolist()[:4]]}... — {hint}")
        dist = torch.cdist(mu, mu)[~torch.eye(d + 1, dtype=torch.bool)]
        target = math.sqrt(2 * (d + 1) / d)
        if not torch.allclose(dist, torch.full_like(dist, target), atol=1e-5):
            raise GradingError(
                f"{what}: all pairs of vertices should be {target:.4f} apart (a regular simplex), found "
                f"distances between {dist.min().item():.4f} and {dist.max().item():.4f}; start from "
                "[I_d | a·1] with a = (1 − √(1+d))/d, centre, then normalise.")
        _ok(f"{what}: {d + 1} unit vertices, centred, all {target:.4f} apart")


# --------------------------------------------------------------------------------------------
# chapter 04: the Gaussian mixture likelihood
# --------------------------------------------------------------------------------------------

_MIXTURE = ("L(e) = (1/K) Σ_k (2πσ²)^(−d/2) exp(−‖e − μ_k‖² / (2σ²)) for each row of e (N×d), K = len(mu), "
            "d = mu.shape[1], sigma2 = σ²: N values")


@_graded(_MIXTURE)
def check_mixture_likelihood(fn: Callable, name: str = "mixture_likelihood") -> None:
    """``fn(e, mu, sigma2)``: L(e) = Σ_k (1/K) N(e; μ_k, σ²I) for each row of e (N×d) -> N values.
    Cases: d = 2, 3 and 9 (so the constant (2πσ²)^(−d/2) must use d), N ≠ K, σ² = 0.25, 0.1, 0.3,
    float32 inputs; e and mu left unchanged."""
    call = check_callable(fn, name, hints={
        "must match the size of tensor": "Broadcast e (N×d) against mu (K×d) as e[:, None, :] − mu[None, :, :] "
                                         "(N×K×d), then sum the squares over d."})
    g = torch.Generator().manual_seed(4)
    tri = torch.tensor([[1.0, 0.0], [-0.5, math.sqrt(3) / 2], [-0.5, -math.sqrt(3) / 2]], dtype=torch.float64)
    cases = [
        (torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.3, -0.2]], dtype=torch.float64), tri, 0.25),
        (torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.3, -0.2]], dtype=torch.float64), tri, 0.1),
        (0.6 * torch.randn(5, 3, generator=g, dtype=torch.float64), 0.5 * torch.randn(4, 3, generator=g,
                                                                                       dtype=torch.float64), 0.3),
        (0.4 * torch.randn(7, 9, generator=g, dtype=torch.float64), 0.3 * torch.randn(10, 9, generator=g,
                                                                                       dtype=torch.float64), 0.25),
        (torch.tensor([[0.2, 0.1], [-0.4, 0.7], [0.9, -0.1], [0.0, -0.8]]), tri.float(), 0.25),
    ]
    for e, mu, s2 in cases:
        N, d = e.shape
        K = mu.shape[0]
        what = f"{name}(e of shape {tuple(e.shape)}, mu of shape {tuple(mu.shape)}, sigma2={s2})"
        ec, muc = e.clone(), mu.clone()
        got = call(ec, muc, s2)
        _unchanged(what, {"e": (ec, e), "mu": (muc, mu)})
        if isinstance(got, torch.Tensor) and got.shape == (N, 1):
            got = got.reshape(N)
        if isinstance(got, torch.Tensor) and got.dim() == 1 and got.shape[0] == K and K != N:
            raise GradingError(f"{what} returned {K} values (one per component); it should return one value per "
                               f"row of e ({N}): average over the K components (dim=1 of the N×K matrix).")
        check_shape(got, (N,), what, hint="One likelihood per row of e.")
        e64, mu64 = e.double(), mu.double()
        sq = ((e64[:, None, :] - mu64[None, :, :]) ** 2).sum(-1)  # N×K squared distances
        norm = (2 * math.pi * s2) ** (-d / 2)
        expected = (norm * torch.exp(-sq / (2 * s2))).mean(1)
        got64 = got.detach().double().cpu()
        tol = dict(rtol=1e-5, atol=1e-10) if got.dtype == torch.float64 else dict(rtol=1e-4, atol=1e-7)
        if torch.isfinite(got64).all() and torch.allclose(got64, expected, **tol):
            _ok(f"{name}: d = {d}, K = {K}, N = {N}, sigma2 = {s2}: {[round(v, 5) for v in got64.tolist()[:4]]}")
            continue
        wrong = [
            (expected * K, "sum instead of average over the K components (forgot the weights 1/K)"),
            (expected / norm, "no normalising constant (2πσ²)^(−d/2)"),
            (expected / norm * (2 * math.pi * s2) ** -1.0,
             "the constant (2πσ²)^(−d/2) with d fixed at 2: use d = mu.shape[1] (or e.shape[1])"),
            (expected / norm * (2 * math.pi * s2) ** -0.5, "the one-dimensional constant (2πσ²)^(−1/2): in d "
                                                          "dimensions it is (2πσ²)^(−d/2)"),
            (expected / norm * (2 * math.pi * math.sqrt(s2)) ** (-d / 2), "σ used where σ² belongs in the constant "
                                                                          "(2πσ²)^(−d/2): sigma2 is already σ²"),
            ((norm * torch.exp(-sq / (2 * math.sqrt(s2)))).mean(1), "σ used where σ² belongs in the exponent: "
                                                                    "sigma2 is already the variance σ²"),
            ((norm * torch.exp(-sq / s2)).mean(1), "exp(−‖e−μ‖²/σ²) without the factor 2: the exponent is "
                                                   "−‖e − μ‖²/(2σ²)"),
            ((norm * torch.exp(-sq.sqrt() / (2 * s2))).mean(1), "the distance is not squared: the exponent uses "
                                                                "‖e − μ‖² (torch.cdist(e, mu) ** 2)"),
            (expected.log(), "you returned log L(e); return the likelihood L(e) itself (torch.exp of the "
                             "log-sum-exp)"),
            (((2 * math.pi * s2 ** 2) ** (-d / 2) * torch.exp(-sq / (2 * s2 ** 2))).mean(1),
             "sigma2 was squared again: it is already the variance σ²"),
        ]
        if N == K:  # row-by-row mistakes only fit when e and mu have the same number of rows
            wrong += [
                ((norm * torch.exp(-sq / (2 * s2))).mean(0), "averaged over the rows of e (dim=0) instead of over "
                                                             "the K components (dim=1)"),
                (norm * torch.exp(-((e64 - mu64) ** 2).sum(1) / (2 * s2)),
                 "you paired row i of e with centre i only (e − mu); compare every row of e with every centre, "
                 "e[:, None, :] − mu[None, :, :] (N×K×d), and average over the K components"),
            ]
        for value, why in wrong:
            if torch.isfinite(got64).all() and torch.allclose(got64, value, rtol=1e-4, atol=1e-10):
                raise GradingError(f"{what}: expected {[round(v, 6) for v in expected.tolist()]}, got "
                                   f"{[round(v, 6) for v in got64.tolist()]}: {why}.")
        raise GradingError(f"{what}: expected {[round(v, 6) for v in expected.tolist()]}, got "
                           f"{[round(v, 6) for v in got64.tolist()]}. Expected {_MIXTURE}.")


# --------------------------------------------------------------------------------------------
# chapter 05: one differentiable SGD step of D
# --------------------------------------------------------------------------------------------

_UNROLLED = ("θ' = θ − lr·∂L/∂θ for every entry of params, with L = d_loss(D(real), D(fake)) evaluated at params "
             "(torch.func.functional_call(D, params, (x,))) and the gradient taken with create_graph=True; "
             "return a new dict with the same keys, leaving D and params unchanged")


def _bce(r: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return F.softplus(-r).mean() + F.softplus(f).mean()


def _wgan(r: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return f.mean() - r.mean()


@_graded(_UNROLLED)
def check_unrolled_sgd_step(fn: Callable, name: str = "unrolled_sgd_step") -> None:
    """``fn(D, params, real, fake, lr, d_loss)`` -> new params dict: one differentiable SGD step of D,
    θ' = θ − η ∂L_D/∂θ, computed with ``torch.func.functional_call`` and ``create_graph=True``.

    Checked on D(x) = w·x + b with the BCE loss (3 real, 2 fake: real and fake not swapped, the
    step goes down, every parameter moves, d w'/d fake through the step), with the WGAN loss at
    lr = 0.37 (w' = w − η(mean fake − mean real) by hand: the lr and d_loss arguments are used), on a
    2-layer MLP, and applied twice in a row (the second step starts from the first one's params,
    second-order path through both). D, params, real and fake must come back unchanged.
    """
    call = check_callable(fn, name)
    formula = _UNROLLED

    def step(D, params, real, fake, lr, d_loss):
        """The student's step, with the usual checks on what comes back."""
        saved = {k: v.detach().clone() for k, v in params.items()}
        keys = list(params)
        own = {k: p.detach().clone() for k, p in D.named_parameters()}
        rc, fc = real.detach().clone(), fake.detach().clone()
        new = call(D, params, real, fake, lr, d_loss)
        if any(not torch.equal(p.detach(), own[k]) for k, p in D.named_parameters()):
            raise GradingError(f"{name} changed D's own weights in place; return new tensors θ − η·g and leave D "
                               "alone (the unrolled D is thrown away).")
        if list(params) != keys or any(not torch.equal(params[k].detach(), saved[k]) for k in keys):
            raise GradingError(f"{name} changed the params dict it was given (in place or by assigning to it); "
                               "build and return a new dict {name: p − lr * g}.")
        _unchanged(name, {"real": (real, rc), "fake": (fake, fc)})
        if not isinstance(new, dict) or set(new) != set(keys):
            raise GradingError(f"{name} should return a dict with the same keys as params ({keys}), got "
                               f"{type(new).__name__} {list(new) if isinstance(new, dict) else ''}.")
        for k in keys:
            if not isinstance(new[k], torch.Tensor) or new[k].shape != params[k].shape:
                raise GradingError(f"{name}: new[{k!r}] should be a tensor of shape {tuple(params[k].shape)} like "
                                   f"params[{k!r}], got {_fmt(new[k])}.")
        return new

    def reference(D, params, real, fake, lr, d_loss):
        loss = d_loss(functional_call(D, params, (real,)), functional_call(D, params, (fake,)))
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
        return {k: p - lr * gk for (k, p), gk in zip(params.items(), grads)}

    def close(a, b, tol=1e-5):
        return all(torch.allclose(a[k].detach(), b[k].detach(), atol=tol, rtol=1e-4) for k in b)

    # 1. D(x) = w·x + b, BCE loss, 3 real and 2 fake samples
    D = nn.Linear(1, 1)
    with torch.no_grad():
        D.weight.fill_(0.5)
        D.bias.fill_(0.25)
    params = dict(D.named_parameters())
    real = torch.tensor([[1.0], [3.0], [2.0]])
    fake = torch.tensor([[0.0], [-1.0]], requires_grad=True)
    lr = 0.1
    new = step(D, params, real, fake, lr, _bce)
    want = reference(D, params, real, fake, lr, _bce)
    if not close(new, want):
        got_s = {k: round(v.detach().flatten()[0].item(), 5) for k, v in new.items()}
        want_s = {k: round(v.detach().flatten()[0].item(), 5) for k, v in want.items()}
        head = f"{name} on D(x) = w·x + b (w = 0.5, b = 0.25), BCE d_loss, lr = 0.1: got {got_s}, expected {want_s}"
        swapped = reference(D, params, fake, real, lr, _bce)
        ascent = {k: 2 * params[k] - want[k] for k in want}
        if close(new, swapped):
            raise GradingError(f"{head}: real and fake are swapped; the loss is d_loss(D(real), D(fake)).")
        if close(new, ascent):
            raise GradingError(f"{head}: you stepped up the gradient; D *minimises* its loss: θ − η·g.")
        moved = [k for k in want if not torch.allclose(new[k].detach(), params[k].detach())]
        if moved and len(moved) < len(want) and all(torch.allclose(new[k].detach(), want[k].detach(), atol=1e-5)
                                                    for k in moved):
            raise GradingError(f"{head}: only {moved} moved; update every entry of params.")
        if close(new, {k: params[k] - 2 * (params[k] - want[k]) for k in want}):
            raise GradingError(f"{head}: the step is twice too long; θ' = θ − lr·g.")
        raise GradingError(f"{head}. Expected {formula}.")
    w_new = new["weight"]
    if not w_new.requires_grad or w_new.grad_fn is None:
        raise GradingError(f"{name}: the new weight is not connected to the graph, so G cannot see how D reacts: "
                           "compute the gradient with torch.autograd.grad(..., create_graph=True) and do not "
                           "detach or use torch.no_grad().")
    try:
        (g,) = torch.autograd.grad(w_new.sum(), fake, allow_unused=True)
    except RuntimeError as err:
        raise _wrap_error(err, f"Differentiating the new weight returned by {name} w.r.t. the fakes") from None
    (g_want,) = torch.autograd.grad(want["weight"].sum(), fake)
    if g is None or torch.allclose(g, torch.zeros_like(g)):
        raise GradingError(f"{name}: the new weight does not depend on the fakes; use create_graph=True so that "
                           "second-order gradients flow back through the step.")
    if not torch.allclose(g, g_want, atol=1e-5, rtol=1e-4):
        raise GradingError(f"{name}: d w'/d fake = {g.flatten().tolist()}, expected {g_want.flatten().tolist()}: the "
                           "second-order path through the step is wrong. Expected " + formula + ".")
    _ok(f"{name}: D(x) = w·x + b with the BCE loss: w' = {w_new.item():.4f}, dw'/dfake = "
        f"{[round(v, 5) for v in g.flatten().tolist()]} (second-order path intact)")

    # 2. the WGAN loss at lr = 0.37, by hand: w' = w − η(mean fake − mean real), b' = b
    lr2 = 0.37
    fake2 = fake.detach()
    new = step(D, params, real, fake2, lr2, _wgan)
    w_hand = 0.5 - lr2 * (fake2.mean().item() - real.mean().item())
    got_w, got_b = new["weight"].detach().flatten()[0].item(), new["bias"].detach().flatten()[0].item()
    if abs(got_w - w_hand) > 1e-5 or abs(got_b - 0.25) > 1e-6:
        head = (f"{name} with d_loss = mean D(fake) − mean D(real) and lr = 0.37: got w' = {got_w:.5f}, b' = "
                f"{got_b:.5f}, expected w' = {w_hand:.5f} = w − lr·(mean fake − mean real), b' = 0.25")
        bce = reference(D, params, real, fake2, lr2, _bce)
        g_w = fake2.mean().item() - real.mean().item()
        if close(new, bce):
            raise GradingError(f"{head}: you used the BCE loss instead of the d_loss argument.")
        if abs(got_b - 0.25) < 1e-6 and abs(g_w) > 0 and abs(got_w - 0.5) > 1e-9:
            lr_used = (0.5 - got_w) / g_w
            if lr_used > 0:
                raise GradingError(f"{head}: that is a step with lr = {lr_used:.4g}; use the lr argument.")
        raise GradingError(f"{head}. Expected {formula}.")
    _ok(f"{name}: WGAN loss at lr = 0.37 gives w' = {w_hand:.4f} (the lr and d_loss arguments are used)")

    # 3. a two-layer D, 5 real and 3 fake 2-d samples; then two steps in a row
    g = torch.Generator().manual_seed(0)
    D2 = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    with torch.no_grad():
        for p in D2.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.7)
    p0 = dict(D2.named_parameters())
    x = torch.randn(5, 2, generator=g)
    y = torch.randn(3, 2, generator=g).requires_grad_(True)
    got = step(D2, p0, x, y, 0.05, _bce)
    want = reference(D2, p0, x, y, 0.05, _bce)
    for k in want:
        if not torch.allclose(got[k].detach(), want[k].detach(), atol=1e-5, rtol=1e-4):
            raise GradingError(f"{name} on a 2-layer MLP, parameter {k!r}: expected {_fmt(want[k])}, got "
                               f"{_fmt(got[k])}. Expected {formula}.")
    _ok(f"{name} on a 2-layer MLP (5 real, 3 fake) matches θ − η∇θ L_D")
    got2 = step(D2, got, x, y, 0.05, _bce)
    want2 = reference(D2, want, x, y, 0.05, _bce)
    if not close(got2, want2):
        from_start = reference(D2, p0, x, y, 0.05, _bce)
        if close(got2, from_start):
            raise GradingError(f"{name}: a second step from the first step's params gave the first step again: "
                               "evaluate D at the params you are given, functional_call(D, params, (x,)), not D(x) "
                               "with D's own weights.")
        raise GradingError(f"{name}: two steps in a row (the second from the first one's params) do not match "
                           f"θ'' = θ' − η∇L(θ'). Expected {formula}.")
    try:
        (gy,) = torch.autograd.grad(sum(v.sum() for v in got2.values()), y, allow_unused=True)
    except RuntimeError as err:
        raise _wrap_error(err, f"Differentiating two steps of {name} w.r.t. the fakes") from None
    (gy_want,) = torch.autograd.grad(sum(v.sum() for v in want2.values()), y)
    if gy is None or not torch.allclose(gy, gy_want, atol=1e-5, rtol=1e-4):
        raise GradingError(f"{name}: after two steps, the gradient w.r.t. the fakes is {_fmt(gy)}, expected "
                           f"{_fmt(gy_want)}: keep create_graph=True so that G sees through every unrolled step.")
    _ok(f"{name}: two steps in a row match, with the second-order path through both")
