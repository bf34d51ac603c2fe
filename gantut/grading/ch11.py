"""Chapter 11's checkers: seed 000's orthogonal latent pairs (Algorithm 1) and the LFM term R."""
from __future__ import annotations

from typing import Callable

import torch

from .core import GradingError, _collect, _graded, _input_grads, _list, _ok, _requires_grad_check, _run_cases, \
    check_callable, check_scalar

__all__ = ["check_orthogonal_pair_batch", "check_pair_dot"]

_PAIRS = ("a B × d batch whose rows i and i + B/2 are an orthogonal pair (n₁, n₂): n₁, n₂ ~ N(0, I), "
          "n₂[d−1] = −(Σ_{j<d−1} n₁[j]·n₂[j]) / n₁[d−1], the pair kept only when |n₂[d−1]| <= T")
_R = "R = (2/B)·Σ_{i<B/2} f_i · f_{i+B/2}: the mean over the B/2 pairs of the dot product over the d features"


def _cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = a.double(), b.double()
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)


@_graded(_PAIRS)
def check_orthogonal_pair_batch(fn: Callable, name: str = "orthogonal_pair_batch") -> None:
    """Check ``fn(B, d, T)`` (global RNG) -> B × d: rows i and i + B/2 orthogonal (naming pairs in adjacent rows,
    the sign of the solved coordinate, antipodal pairs), |row[d−1]| <= T on the second half (naming no rejection,
    or the test on n₁'s coordinate), the other coordinates standard normal (naming rand for randn), pairs not
    repeated, and the global random stream used (two calls differ)."""
    call = check_callable(fn, name)
    B, d, T = 256, 50, 1.0
    what = f"{name}({B}, {d}, T={T:g})"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        z = call(B, d, T)
        z_again = call(B, d, T)
    if not isinstance(z, torch.Tensor) or tuple(z.shape) != (B, d):
        raise GradingError(f"{what} should return a {B} × {d} tensor, got "
                           f"{tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__}: B/2 pairs, "
                           "the first members in rows 0 … B/2 − 1 and their partners in rows B/2 … B − 1.")
    if not torch.isfinite(z).all():
        raise GradingError(f"{what} contains inf or nan: a pair whose n₁[d−1] is 0 cannot be solved; draw again.")
    h = B // 2
    top, bottom = z[:h], z[h:]
    cos = _cos(top, bottom)
    if cos.abs().max() > 1e-4:
        if _cos(z[0::2], z[1::2]).abs().max() < 1e-4:
            raise GradingError(f"{what}: your pairs sit in adjacent rows (2i, 2i + 1). Seed 000 puts pair i at rows i "
                               f"and i + B/2 (torch.cat([n1, n2])), which is where LFM's R looks for them.")
        if torch.allclose(cos, torch.full_like(cos, -1.0), atol=1e-5):
            raise GradingError(f"{what}: the partner is −n₁ (antipodal pairs, the older code). Algorithm 1 draws n₂ "
                               f"independently and solves its last coordinate so that n₁·n₂ = 0.")
        n1, n2 = top.double(), bottom.double()
        flipped = n2.clone()
        flipped[:, -1] = -flipped[:, -1]
        if ((n1 * flipped).sum(1).abs() / (n1.norm(dim=1) * n2.norm(dim=1))).max() < 1e-4:
            raise GradingError(f"{what}: the sign of the solved coordinate is wrong, so n₁·n₂ = 2·Σ_{{j<d−1}} n₁[j]·n₂[j]. "
                               f"n₂[d−1] = −(Σ_{{j<d−1}} n₁[j]·n₂[j]) / n₁[d−1].")
        raise GradingError(f"{what}: rows i and i + B/2 are not orthogonal (largest |cos| {cos.abs().max().item():.3g}). "
                           f"Expected {_PAIRS}.")
    _ok(f"{name}: rows i and i + B/2 are orthogonal pairs")
    if bottom[:, -1].abs().max() > T + 1e-6:
        if top[:, -1].abs().max() <= T + 1e-6:
            raise GradingError(f"{what}: you tested n₁[d−1]; the rejection is on the solved coordinate, |n₂[d−1]| <= T "
                               f"(largest |n₂[d−1]| here {bottom[:, -1].abs().max().item():.3g}).")
        raise GradingError(f"{what}: some |n₂[d−1]| reach {bottom[:, -1].abs().max().item():.3g} > T = {T:g}. Reject "
                           f"those pairs and draw again until B/2 pairs pass (about 1 in 10 does).")
    if (top[1:] - top[:1]).abs().max() < 1e-6:
        raise GradingError(f"{what}: every pair is the same. Draw a fresh pair for each of the B/2 rows.")
    body = torch.cat([top[:, :-1], bottom[:, :-1]])
    if abs(body.mean().item()) > 0.05 or abs(body.std().item() - 1.0) > 0.05:
        raise GradingError(f"{what}: the free coordinates have mean {body.mean().item():.3f} and std "
                           f"{body.std().item():.3f}; N(0, I) gives 0 and 1. Draw them with torch.randn, not torch.rand.")
    if not isinstance(z_again, torch.Tensor) or tuple(z_again.shape) != (B, d) or torch.equal(z, z_again):
        raise GradingError(f"{name}: two calls returned the same batch; draw from torch's global random stream "
                           f"(torch.randn) and do not reseed inside the function.")
    _ok(f"{name}: |n₂[d−1]| <= T, the free coordinates N(0, 1), fresh pairs on every call")


def _dot_mistakes(f: torch.Tensor) -> list[tuple[float, str]]:
    h = len(f) // 2
    R = (f[:h] * f[h:]).sum(1).mean().item()
    return [
        ((f[0::2] * f[1::2]).sum(1).mean().item(),
         "You paired adjacent rows (2i, 2i + 1). The pairs are rows i and i + B/2: f[:B//2] with f[B//2:]."),
        ((f[:h] * f[h:]).sum(0).mean().item(),
         "The dot product runs over the wrong axis: sum over the d features (dim=1), then average over the pairs."),
        ((f[:h] * f[h:]).mean().item(),
         "That is the mean over pairs *and* features, i.e. R/d: sum over the features (a dot product), mean over pairs."),
        ((f[:h] * f[h:]).sum().item(), "That is the sum over the pairs; R is their mean (divide by B/2)."),
        (abs(R), "You took |R|, the reference code's cooperative form. The paper's R is signed; the sign is the "
                 "players' business (D maximises it, G minimises it)."),
        (-R, "The sign is flipped: R = +mean of f_i · f_{i+B/2}."),
        (abs(R) / 2, "That is the reference code's |Σ f_i·f_{i+B/2}| / (B/2) / 2; the paper's R is the signed mean dot."),
        ((f[:h] @ f[h:].T).mean().item(), "You averaged the dot products of all B/2 × B/2 combinations; R uses only "
                                          "the matched pairs (i, i + B/2)."),
    ]


@_graded(_R)
def check_pair_dot(fn: Callable, name: str = "pair_dot") -> None:
    """Check ``fn(f)`` = (2/B)Σ f_i·f_{i+B/2} on hand batches (B 4 and 6, d 2 and 4, negative R), naming adjacent
    pairs, the wrong axis, R/d, the sum, |R|, −R, the code's |R|/2 and all combinations; the gradient f_{i±B/2}/(B/2);
    the input unchanged."""
    call = check_callable(fn, name)
    what = f"{name}(f)"
    inputs = [torch.tensor([[1.0, 1.0], [2.0, 0.0], [3.0, 1.0], [1.0, 1.0]]),          # R = (4 + 2) / 2 = 3
              torch.tensor([[0.5, -0.2, 0.1, 0.4], [0.3, 0.4, -0.6, 0.2], [-0.7, 0.2, 0.9, -0.1],   # d = 4 != B/2,
                            [-0.4, 0.1, 0.3, 0.5], [-0.2, -0.8, 0.5, -0.3], [0.6, -0.3, 0.2, 0.1]]),  # R = -0.347
              torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])]          # orthogonal pairs: R = 0
    cases = [(f"{what} for f={[_list(r) for r in x]}", (x[:len(x) // 2] * x[len(x) // 2:]).sum(1).mean().item(),
              _dot_mistakes(x)) for x in inputs]
    _run_cases(cases, _collect(call, what, [(x.clone(),) for x in inputs]), f"Expected {_R}.")
    _ok(f"{name}: the mean dot product of rows i and i + B/2 on three hand batches (R = 3, negative, 0)")

    f = inputs[1].clone().requires_grad_(True)
    out = call(f)
    check_scalar(out, what)
    _requires_grad_check(out, what, "do not call .item(), .detach() or NumPy inside it: G and D learn through R.")
    (g,) = _input_grads(out, [f], what)
    h = len(f) // 2
    want = torch.cat([f.detach()[h:], f.detach()[:h]]) / h
    if not torch.allclose(g, want, atol=1e-5):
        raise GradingError(f"{what}: dR/df is {[_list(r) for r in g]}; expected f_(i ± B/2) / (B/2) = "
                           f"{[_list(r) for r in want]}. Part of R is cut from the graph.")
    _ok(f"{name}: the gradient of R reaches every feature (f_(i ± B/2) / (B/2))")
