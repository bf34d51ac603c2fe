"""Checkers for chapters 01 (the 2D mode metrics) and 02 (the course generator with BatchNorm).

The loss exercises of chapter 01 use :func:`gantut.grading.check_d_loss` and
:func:`gantut.grading.check_g_loss_nonsaturating` from ``core``.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from .core import GradingError, _ok, check_callable

__all__ = ["check_mode_stats", "check_course_G_bn"]


# --------------------------------------------------------------------------------------------
# chapter 01: modes captured, high-quality fraction, reverse KL
# --------------------------------------------------------------------------------------------

def _reference_mode_stats(x: torch.Tensor, mu: torch.Tensor, sigma: float, n_std: float = 3.0):
    """The VEEGAN/PacGAN protocol, as in :func:`gantut.metrics.mode_metrics` (kept here in plain torch)."""
    d = torch.cdist(x.double(), mu.double())
    d_min, k = d.min(1)
    hq = d_min < n_std * sigma
    counts = torch.bincount(k[hq], minlength=len(mu)).double()
    if counts.sum() == 0:
        return 0, 0.0, math.nan
    p = counts / counts.sum()
    rkl = float(torch.special.xlogy(p, p * len(mu)).sum())
    return int((counts > 0).sum()), float(hq.double().mean()), rkl


def _kl_uniform(counts: torch.Tensor, K: int) -> float:
    p = counts.double() / counts.sum()
    return float(torch.special.xlogy(p, p * K).sum())


def _ring(K: int = 8) -> torch.Tensor:
    t = 2 * math.pi * torch.arange(K, dtype=torch.float64) / K
    return torch.stack([t.cos(), t.sin()], 1)


def _mode_cases():
    """(description, x, mu, sigma, expected (modes, hq, rkl), [(wrong (modes, hq, rkl), hint)])."""
    mu, s = _ring(8), 0.01
    ex = torch.tensor([1.0, 0.0], dtype=torch.float64)
    cases = []
    # 1. two points exactly on each of the 8 centres
    x = mu.repeat(2, 1)
    cases.append(("16 points, two on each of the 8 ring centres", x, mu, s, [
        ((8, 100.0, 0.0), "HQ is a fraction in [0, 1], not a percentage.")]))
    # 2. everything on one mode: one mode, all HQ, reverse KL = ln 8
    x = mu[3].repeat(10, 1)
    cases.append(("10 points on centre 3 (total collapse)", x, mu, s, [
        ((1, 1.0, 0.0), "The reverse KL compares the histogram with the uniform distribution over ALL K modes "
                        "(K = len(mu)), not over the captured ones: one mode out of 8 gives ln 8."),
        ((1, 1.0, -math.log(8)), "KL(p ‖ U) = Σ p_k ln(p_k / (1/K)) = Σ p_k ln(K p_k) ≥ 0: check the sign.")]))
    # 3. the 3σ boundary: 2 points at 2.9σ from centre 0 (HQ), 2 at 3.1σ from centre 1 (not HQ)
    x = torch.stack([mu[0] + 2.9 * s * ex, mu[0] - 2.9 * s * ex, mu[1] + 3.1 * s * ex, mu[1] - 3.1 * s * ex])
    cases.append(("2 points 2.9σ from centre 0, 2 points 3.1σ from centre 1", x, mu, s, [
        ((2, 0.5, math.log(8)), "A mode is captured only if it is the nearest mode of at least one HIGH-QUALITY "
                                "sample: count modes over the HQ samples only."),
        ((2, 0.5, math.log(4)), "Count captured modes and the histogram over the HQ samples only."),
        ((1, 50.0, math.log(8)), "HQ is a fraction in [0, 1], not a percentage."),
        ((2, 1.0, math.log(4)), "A sample is HQ when its distance to the nearest centre is < n_std·σ = 3σ; 3.1σ is not.")]))
    # 4. Euclidean distance, not per-coordinate: (2.5σ, 2.5σ) is 3.54σ away
    off = torch.tensor([2.5 * s, 2.5 * s], dtype=torch.float64)
    x = torch.stack([mu[2] + off, mu[2], mu[5]])
    cases.append(("one point 2.5σ off in both coordinates of centre 2 (3.54σ away), one on centre 2, one on 5",
                   x, mu, s, [
                       ((2, 1.0, _kl_uniform(torch.tensor([0, 0, 2, 0, 0, 1, 0, 0]), 8)), "Use the Euclidean distance ‖x − μ_k‖ < 3σ, not a test on each "
                                               "coordinate separately (the point is 3.54σ away).")]))
    # 5. the histogram uses the HQ samples only: 3 HQ on mode 0, 1 HQ on mode 1, 4 far from mode 2 (5σ)
    x = torch.cat([mu[0].repeat(3, 1), mu[1][None], (mu[2] + 5 * s * ex).repeat(4, 1)])
    all_counts = torch.tensor([3, 1, 4, 0, 0, 0, 0, 0])
    cases.append(("3 points on centre 0, 1 on centre 1, 4 points 5σ from centre 2", x, mu, s, [
        ((2, 0.5, _kl_uniform(all_counts, 8)), "The reverse-KL histogram uses the HQ samples only (the 4 far points "
                                               "are not HQ and must not enter it)."),
        ((3, 0.5, _kl_uniform(all_counts, 8)), "Captured modes and the histogram use the HQ samples only.")]))
    # 6. the 25-grid with σ = 0.05
    g = torch.arange(5, dtype=torch.float64) * 2 - 4
    grid = torch.cartesian_prod(g, g)
    x = torch.cat([grid[:5], grid[:5] + 0.1 * ex, grid[7][None] + 0.2 * ex])  # 0.1 = 2σ (HQ), 0.2 = 4σ (not)
    cases.append(("the 25-grid (σ = 0.05): 5 centres, the same 5 moved 2σ, one point 4σ from centre 7", x, grid, 0.05, []))
    return cases


def check_mode_stats(fn: Callable, name: str = "mode_stats") -> None:
    """``fn(x, mu, sigma, n_std=3.0) -> (modes, hq, reverse_kl)`` for samples x (N×2) and centres mu (K×2):
    HQ = Euclidean distance to the nearest centre < n_std·σ; modes = centres nearest to ≥ 1 HQ sample;
    reverse KL = KL(histogram of the HQ samples over their nearest centres ‖ uniform over the K centres)."""
    call = check_callable(fn, name)
    for desc, x, mu, sigma, mistakes in _mode_cases():
        expected = _reference_mode_stats(x, mu, sigma)
        out = call(x.clone(), mu.clone(), sigma)
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise GradingError(f"{name} should return a tuple (modes, hq, reverse_kl), got {out!r}.")
        try:
            got = (int(out[0]), float(out[1]), float(out[2]))
        except (TypeError, ValueError) as exc:
            raise GradingError(f"{name} should return numbers (modes, hq, reverse_kl), got {out!r} ({exc}).") from None
        if isinstance(out[0], float) and not float(out[0]).is_integer():
            raise GradingError(f"{name}: modes should be a whole number, got {out[0]!r}.")

        def same(a, b):
            return (a[0] == b[0] and abs(a[1] - b[1]) < 1e-6
                    and (abs(a[2] - b[2]) < 1e-4 or (math.isnan(a[2]) and math.isnan(b[2]))))

        if not same(got, expected):
            hint = next((h for wrong, h in mistakes if same(got, wrong)), None)
            msg = (f"{name} on {desc}: expected (modes, hq, reverse_kl) = "
                   f"({expected[0]}, {expected[1]:.4g}, {expected[2]:.4f}), got ({got[0]}, {got[1]:.4g}, {got[2]:.4f}).")
            if hint is None:
                hint = ("Check the protocol: HQ = ‖x − nearest μ‖ < n_std·σ; modes = distinct nearest centres of the "
                        "HQ samples; reverse KL = Σ_k p_k ln(K p_k) over the HQ histogram p (0 ln 0 = 0).")
            raise GradingError(f"{msg} {hint}")
        _ok(f"{name}: {desc} -> ({expected[0]}, {expected[1]:.3g}, {expected[2]:.4f})")
    # no HQ sample at all: 0 modes, HQ 0 (the reverse KL is undefined: not checked)
    mu = _ring(8)
    out = call((mu + 0.5).clone(), mu.clone(), 0.01)
    if int(out[0]) != 0 or abs(float(out[1])) > 1e-9:
        raise GradingError(f"{name}: points 0.5 away from every centre (σ = 0.01) should give 0 modes and hq 0, "
                           f"got {out!r}.")
    _ok(f"{name}: no sample within 3σ -> 0 modes, HQ 0")


# --------------------------------------------------------------------------------------------
# chapter 02: the course generator with BatchNorm
# --------------------------------------------------------------------------------------------

_SIZES = [(100, 256), (256, 512), (512, 1024), (1024, 784)]


def check_course_G_bn(fn: Callable, name: str = "course_G_bn") -> None:
    """``fn(z_dim=100)`` -> the course generator with BatchNorm: z→256→512→1024→784, each hidden layer
    Linear → BatchNorm1d (eps 1e-5) → LeakyReLU(0.2), output Linear → tanh, images N×1×28×28 (or N×784).
    Compared with ``gantut.nets.course_G(batchnorm=True)`` carrying the same weights."""
    from ..nets import course_G

    call = check_callable(fn, name)
    G = call(100)
    if not isinstance(G, nn.Module):
        raise GradingError(f"{name}(100) should return a torch.nn.Module (e.g. nn.Sequential), got {type(G).__name__}.")
    lin = [m for m in G.modules() if isinstance(m, nn.Linear)]
    sizes = [(m.in_features, m.out_features) for m in lin]
    if sizes != _SIZES:
        raise GradingError(f"{name}(100): the Linear layers should be {_SIZES}, found {sizes}.")
    bns = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    feats = [m.num_features for m in bns]
    if any(not isinstance(m, nn.BatchNorm1d) for m in bns):
        raise GradingError(f"{name}: use nn.BatchNorm1d on the N×C activations of a Linear layer.")
    if 784 in feats:
        raise GradingError(f"{name}: no BatchNorm on the output layer (784); only after the three hidden Linear layers.")
    if feats != [256, 512, 1024]:
        raise GradingError(f"{name}: expected BatchNorm1d(256), BatchNorm1d(512), BatchNorm1d(1024) after the hidden "
                           f"Linear layers, found BatchNorm over {feats or 'nothing'}.")
    for m in bns:
        if abs(m.eps - 1e-5) > 1e-9:
            hint = (" BatchNorm1d(C, 0.8) sets eps = 0.8 (the second positional argument is eps, not momentum): a "
                    "bug copied from eriklindernoren/PyTorch-GAN (#116). Write nn.BatchNorm1d(C)."
                    if abs(m.eps - 0.8) < 1e-9 else " Keep PyTorch's default: nn.BatchNorm1d(C).")
            raise GradingError(f"{name}: BatchNorm1d({m.num_features}) has eps = {m.eps}, expected 1e-5.{hint}")
    acts = [m for m in G.modules() if isinstance(m, (nn.LeakyReLU, nn.ReLU))]
    if any(isinstance(m, nn.ReLU) for m in acts):
        raise GradingError(f"{name}: the course generator uses LeakyReLU(0.2), not ReLU.")
    if len(acts) != 3 or any(abs(m.negative_slope - 0.2) > 1e-9 for m in acts):
        raise GradingError(f"{name}: expected three nn.LeakyReLU(0.2), found {[repr(m) for m in acts]}.")
    _ok(f"{name}: layers 100→256→512→1024→784, BatchNorm1d(eps 1e-5) ×3, LeakyReLU(0.2) ×3")

    # behaviour: the same weights in the reference network give the same images (order BN before the activation)
    ref = course_G(100, batchnorm=True)
    with torch.no_grad():
        gen = torch.Generator().manual_seed(0)
        for a, b in zip(lin, [m for m in ref.modules() if isinstance(m, nn.Linear)]):
            a.weight.copy_(torch.randn(a.weight.shape, generator=gen) * 0.05)
            a.bias.copy_(torch.randn(a.bias.shape, generator=gen) * 0.5)
            b.weight.copy_(a.weight), b.bias.copy_(a.bias)
        for a, b in zip(bns, [m for m in ref.modules() if isinstance(m, nn.BatchNorm1d)]):
            if a.affine:
                a.weight.copy_(1 + 0.5 * torch.rand(a.weight.shape, generator=gen)), a.bias.copy_(0.1 * torch.ones_like(a.bias))
                b.weight.copy_(a.weight), b.bias.copy_(a.bias)
    z = torch.randn(16, 100, generator=torch.Generator().manual_seed(1))
    G.train(), ref.train()
    try:
        out = G(z)
    except Exception as exc:
        raise GradingError(f"{name}(100) fails on a batch of 16 latent vectors (16×100): {type(exc).__name__}: {exc}") from None
    with torch.no_grad():
        want = ref(z)
    if not isinstance(out, torch.Tensor):
        raise GradingError(f"{name}: the generator should return a tensor, got {type(out).__name__}.")
    out = out.detach()
    if out.numel() != 16 * 784 or out.shape[0] != 16:
        raise GradingError(f"{name}: 16 latent vectors should give 16 images (16×1×28×28 or 16×784), got {tuple(out.shape)}.")
    out = out.reshape(16, 1, 28, 28)
    if out.min() < -1 - 1e-6 or out.max() > 1 + 1e-6:
        raise GradingError(f"{name}: outputs should lie in [−1, 1] (tanh on the last layer), found "
                           f"[{out.min().item():.3g}, {out.max().item():.3g}].")
    if not torch.allclose(out, want, atol=1e-5):
        raise GradingError(f"{name}: with the same weights as gantut.nets.course_G(batchnorm=True) your generator gives "
                           "other images in training mode. Each hidden layer is Linear → BatchNorm1d → LeakyReLU(0.2), "
                           "in that order; the output layer is Linear → tanh.")
    _ok(f"{name}: same images as the reference (Linear → BN → LeakyReLU, tanh output), values in [−1, 1]")
