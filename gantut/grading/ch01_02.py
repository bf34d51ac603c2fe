"""Checkers for chapters 01 (the 2D mode metrics) and 02 (the course generator with BatchNorm).

The loss exercises of chapter 01 use :func:`gantut.grading.check_d_loss` and
:func:`gantut.grading.check_g_loss_nonsaturating` from ``core``.
"""
from __future__ import annotations

import copy
import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..nets import device_of  # a student may build G on the GPU: inputs go where G is
from .core import GradingError, _graded, _ok, _unchanged, _wrap_error, check_callable

__all__ = ["check_mode_stats", "check_course_G_bn"]


# --------------------------------------------------------------------------------------------
# chapter 01: modes captured, high-quality fraction, reverse KL
# --------------------------------------------------------------------------------------------

def _kl_uniform(counts, K: int) -> float:
    """KL(p ‖ U_K) = Σ p_k ln(K p_k) of the histogram ``counts`` (0 ln 0 = 0)."""
    c = torch.as_tensor(counts, dtype=torch.float64)
    if c.sum() == 0:
        return math.nan
    p = c / c.sum()
    return float(torch.special.xlogy(p, p * K).sum())


def _ring(K: int = 8) -> torch.Tensor:
    t = 2 * math.pi * torch.arange(K, dtype=torch.float64) / K
    return torch.stack([t.cos(), t.sin()], 1)


def _grid() -> torch.Tensor:
    g = torch.arange(5, dtype=torch.float64) * 2 - 4
    return torch.cartesian_prod(g, g)


def _onehot(K: int, **counts: int) -> list[int]:
    """A histogram over K modes: _onehot(8, m3=10) puts 10 on mode 3."""
    h = [0] * K
    for key, v in counts.items():
        h[int(key[1:])] = v
    return h


_HQ_ONLY = "Count captured modes and the histogram over the HQ samples only."
_PROTOCOL = ("HQ = ‖x − nearest μ‖ < n_std·σ (Euclidean distance); hq = fraction of HQ samples in [0, 1]; "
             "modes = number of distinct nearest centres of the HQ samples; reverse KL = Σ_k p_k ln(K p_k) over "
             "the histogram p of the HQ samples on their nearest centres, K = len(mu) (0 ln 0 = 0)")


def _mode_cases():
    """(description, x, mu, sigma, n_std or None for the default, expected (modes, hq, rkl),
    [(wrong (modes, hq, rkl), hint)]). Every expected value is derived by hand from where the
    points were placed."""
    mu, s = _ring(8), 0.01
    ex = torch.tensor([1.0, 0.0], dtype=torch.float64)
    ey = torch.tensor([0.0, 1.0], dtype=torch.float64)
    ln8 = math.log(8)
    cases = []

    def add(desc, x, mu_, sigma, n_std, counts, n_hq, mistakes):
        K, N = len(mu_), len(x)
        modes, hq, rkl = sum(c > 0 for c in counts), n_hq / N, _kl_uniform(counts, K)
        exp = (modes, hq, rkl)
        # mistakes that can be predicted from the histogram alone, for every case
        generic = [
            ((modes, 100 * hq, rkl), "HQ is a fraction in [0, 1], not a percentage."),
            ((modes, float(n_hq), rkl), "hq is the FRACTION of HQ samples (count / N), not their number."),
            ((modes, hq, _kl_uniform(counts, modes) if modes else math.nan),
             "The reverse KL compares the histogram with the uniform distribution over ALL K modes (K = len(mu)), "
             "not over the captured ones."),
            ((modes, hq, -rkl), "KL(p ‖ U) = Σ p_k ln(p_k / (1/K)) = Σ p_k ln(K p_k) ≥ 0: check the sign."),
            ((modes, hq, rkl / math.log(2)), "That is the KL in bits (log base 2); use the natural logarithm "
                                             "(torch.log)."),
            ((modes, hq, sum(c * math.log(K * c) for c in counts if c > 0)),
             "Normalise the histogram first: p = counts / counts.sum()."),
        ]
        cases.append((desc, x, mu_, sigma, n_std, exp, mistakes + [m for m in generic if not _same(m[0], exp)]))

    # 1. two points exactly on each of the 8 centres
    add("16 points, two on each of the 8 ring centres", mu.repeat(2, 1), mu, s, None, [2] * 8, 16, [
        ((8, 100.0, 0.0), "HQ is a fraction in [0, 1], not a percentage."),
        ((8, 16.0, 0.0), "hq is the FRACTION of HQ samples (count / N), not their number.")])
    # 2. everything on one mode: one mode, all HQ, reverse KL = ln 8
    add("10 points on centre 3 (total collapse)", mu[3].repeat(10, 1), mu, s, None, _onehot(8, m3=10), 10, [
        ((1, 1.0, 0.0), "The reverse KL compares the histogram with the uniform distribution over ALL K modes "
                        "(K = len(mu)), not over the captured ones: one mode out of 8 gives ln 8."),
        ((1, 1.0, -ln8), "KL(p ‖ U) = Σ p_k ln(p_k / (1/K)) = Σ p_k ln(K p_k) ≥ 0: check the sign."),
        ((1, 1.0, 3.0), "That is the KL in bits (log base 2); use the natural logarithm (torch.log)."),
        ((1, 1.0, math.inf), "That is KL(U ‖ p), infinite as soon as a mode is missed; the reverse KL is "
                             "KL(p ‖ U) = Σ_k p_k ln(K p_k)."),
        ((1, 1.0, 10 * math.log(80)), "Normalise the histogram first: p = counts / counts.sum()."),
        ((1, 10.0, ln8), "hq is the FRACTION of HQ samples (count / N), not their number.")])
    # 3. the 3σ boundary: 2 points at 2.9σ from centre 0 (HQ), 2 at 3.1σ from centre 1 (not HQ)
    x = torch.stack([mu[0] + 2.9 * s * ex, mu[0] - 2.9 * s * ex, mu[1] + 3.1 * s * ex, mu[1] - 3.1 * s * ex])
    add("2 points 2.9σ from centre 0, 2 points 3.1σ from centre 1", x, mu, s, None, _onehot(8, m0=2), 2, [
        ((2, 0.5, ln8), "A mode is captured only if it is the nearest mode of at least one HIGH-QUALITY "
                        "sample: count modes over the HQ samples only."),
        ((2, 0.5, math.log(4)), _HQ_ONLY),
        ((1, 50.0, ln8), "HQ is a fraction in [0, 1], not a percentage."),
        ((1, 2.0, ln8), "hq is the FRACTION of HQ samples (count / N), not their number."),
        ((2, 1.0, math.log(4)), "A sample is HQ when its distance to the nearest centre is < n_std·σ = 3σ; 3.1σ is "
                                "not. Compare the distance itself (not its square) with n_std·σ.")])
    # 4. Euclidean distance, not per-coordinate: (2.5σ, 2.5σ) is 3.54σ away
    off = torch.tensor([2.5 * s, 2.5 * s], dtype=torch.float64)
    x = torch.stack([mu[2] + off, mu[2], mu[5]])
    add("one point 2.5σ off in both coordinates of centre 2 (3.54σ away), one on centre 2, one on 5", x, mu, s, None,
        _onehot(8, m2=1, m5=1), 2, [
            ((2, 1.0, _kl_uniform(_onehot(8, m2=2, m5=1), 8)),
             "Use the Euclidean distance ‖x − μ_k‖ < 3σ, not a test on each coordinate separately (the point is "
             "3.54σ away).")])
    # 5. the histogram uses the HQ samples only: 3 HQ on mode 0, 1 HQ on mode 1, 4 far from mode 2 (5σ)
    x = torch.cat([mu[0].repeat(3, 1), mu[1][None], (mu[2] + 5 * s * ex).repeat(4, 1)])
    all_counts = _onehot(8, m0=3, m1=1, m2=4)
    add("3 points on centre 0, 1 on centre 1, 4 points 5σ from centre 2", x, mu, s, None, _onehot(8, m0=3, m1=1), 4, [
        ((2, 0.5, _kl_uniform(all_counts, 8)), "The reverse-KL histogram uses the HQ samples only (the 4 far points "
                                               "are not HQ and must not enter it)."),
        ((3, 0.5, _kl_uniform(all_counts, 8)), _HQ_ONLY)])
    # 6. n_std = 2: 1.5σ is HQ, 2.5σ is not
    x = torch.stack([mu[0] + 1.5 * s * ex, mu[0] - 1.5 * s * ex, mu[4] + 2.5 * s * ex, mu[4] - 2.5 * s * ex])
    add("n_std = 2: 2 points 1.5σ from centre 0, 2 points 2.5σ from centre 4", x, mu, s, 2.0, _onehot(8, m0=2), 2, [
        ((2, 1.0, math.log(4)), "Use the n_std argument (here 2) in the HQ test ‖x − μ‖ < n_std·σ, not a fixed 3.")])
    # 7. the 25-grid, σ = 0.05, n_std = 4: 3.5σ is HQ, 4.5σ is not
    grid = _grid()
    x = torch.stack([grid[0] + 3.5 * 0.05 * ex, grid[12] + 3.5 * 0.05 * ey, grid[24], grid[3] + 4.5 * 0.05 * ex])
    add("the 25-grid (σ = 0.05) with n_std = 4: points 3.5σ from centres 0 and 12, one on 24, one 4.5σ from 3",
        x, grid, 0.05, 4.0, _onehot(25, m0=1, m12=1, m24=1), 3, [
            ((1, 0.25, math.log(25)), "Use the n_std argument (here 4) in the HQ test ‖x − μ‖ < n_std·σ, not a "
                                      "fixed 3.")])
    # 8. the 25-grid (K = 25, N = 11) with σ = 0.05
    x = torch.cat([grid[:5], grid[:5] + 0.1 * ex, grid[7][None] + 0.2 * ex])  # 0.1 = 2σ (HQ), 0.2 = 4σ (not)
    add("the 25-grid (σ = 0.05): 5 centres, the same 5 moved 2σ, one point 4σ from centre 7", x, grid, 0.05, None,
        _onehot(25, m0=2, m1=2, m2=2, m3=2, m4=2), 10, [
            ((5, 10 / 11, 0.0), "The reverse KL compares the histogram with the uniform distribution over ALL K "
                                "modes (K = len(mu) = 25), not over the captured ones."),
            ((6, 10 / 11, _kl_uniform(_onehot(25, m0=2, m1=2, m2=2, m3=2, m4=2, m7=1), 25)), _HQ_ONLY)])
    # 9. σ = 0.1 on the ring: 2σ is HQ, 3.5σ is not
    x = torch.stack([mu[k] * (1 + 0.2) for k in (1, 2, 3)] + [mu[6] * (1 + 0.35)])
    add("σ = 0.1: points 2σ outside centres 1, 2, 3 and one 3.5σ outside centre 6", x, mu, 0.1, None,
        _onehot(8, m1=1, m2=1, m3=1), 3, [
            ((0, 0.0, math.nan), "No point was HQ: use σ itself in the test ‖x − μ‖ < n_std·σ (sigma is the standard "
                                 "deviation, not the variance)."),
            ((0, 0.0, 0.0), "No point was HQ: use σ itself in the test ‖x − μ‖ < n_std·σ (sigma is the standard "
                            "deviation, not the variance).")])
    # 10. float32 inputs: one point 0.5σ outside each centre, two points at the origin (1 away from all)
    x32 = torch.cat([_ring(8) * (1 + 0.005), torch.zeros(2, 2, dtype=torch.float64)]).float()
    add("float32 samples: one point 0.5σ from each of the 8 centres, 2 points at the origin", x32, _ring(8).float(),
        s, None, [1] * 8, 8, [])
    return cases


def _same(a, b) -> bool:
    """(modes, hq, rkl) tuples equal up to rounding (nan equals nan, inf equals inf)."""
    if a[0] != b[0] or abs(a[1] - b[1]) > 1e-6:
        return False
    if math.isnan(a[2]) or math.isnan(b[2]):
        return math.isnan(a[2]) and math.isnan(b[2])
    if math.isinf(a[2]) or math.isinf(b[2]):
        return a[2] == b[2]
    return abs(a[2] - b[2]) < 1e-4


def _mode_result(out, name: str, desc: str) -> tuple[int, float, float]:
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        raise GradingError(f"{name} on {desc} should return a tuple (modes, hq, reverse_kl), got {out!r:.200}.")
    try:
        got = (int(out[0]), float(out[1]), float(out[2]))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise GradingError(f"{name} should return three numbers (modes, hq, reverse_kl), got {out!r:.200} "
                           f"({exc}). A one-element tensor is fine; a tensor of several values is not.") from None
    if float(out[0]) != got[0]:
        raise GradingError(f"{name}: modes should be a whole number (a count of centres), got {out[0]!r}.")
    return got


@_graded(_PROTOCOL)
def check_mode_stats(fn: Callable, name: str = "mode_stats") -> None:
    """``fn(x, mu, sigma, n_std=3.0) -> (modes, hq, reverse_kl)`` for samples x (N×2) and centres mu (K×2):
    HQ = Euclidean distance to the nearest centre < n_std·σ; modes = centres nearest to ≥ 1 HQ sample;
    reverse KL = KL(histogram of the HQ samples over their nearest centres ‖ uniform over the K centres).

    Cases are built so that the answer is known by hand: the 3σ boundary, Euclidean vs per-coordinate
    distance, HQ-only histograms, n_std = 2 and 4, σ = 0.1, the 25-grid (N ≠ K), float32 inputs, no HQ
    sample at all; x and mu must come back unchanged."""
    call = check_callable(fn, name)
    for desc, x, mu, sigma, n_std, expected, mistakes in _mode_cases():
        xc, muc = x.clone(), mu.clone()
        out = call(xc, muc, sigma) if n_std is None else call(xc, muc, sigma, n_std)
        _unchanged(f"{name} on {desc}", {"x": (xc, x), "mu": (muc, mu)})
        got = _mode_result(out, name, desc)
        if not _same(got, expected):
            hint = next((h for wrong, h in mistakes if _same(got, wrong)), None)
            msg = (f"{name} on {desc}: expected (modes, hq, reverse_kl) = "
                   f"({expected[0]}, {expected[1]:.4g}, {expected[2]:.4f}), got ({got[0]}, {got[1]:.4g}, {got[2]:.4f}).")
            if hint is None and got[0] == 0 and got[1] == 0 and expected[1] > 0:
                hint = ("No sample counted as HQ: compare the Euclidean distance itself with n_std·σ, using σ as "
                        "given (sigma is the standard deviation, not the variance).")
            if hint is None:
                hint = f"Check the protocol: {_PROTOCOL}."
            raise GradingError(f"{msg} {hint}")
        _ok(f"{name}: {desc} -> ({expected[0]}, {expected[1]:.3g}, {expected[2]:.4f})")
    # no HQ sample at all: 0 modes, HQ 0 (the reverse KL is undefined: not checked)
    mu = _ring(8)
    desc = "points 0.5 away from every centre (σ = 0.01)"
    got = _mode_result(call((mu * 1.5).clone(), mu.clone(), 0.01), name, desc)
    if got[0] != 0 or abs(got[1]) > 1e-9:
        raise GradingError(f"{name}: {desc} should give 0 modes and hq 0, got ({got[0]}, {got[1]:.4g}, {got[2]:.4f}). "
                           f"{_PROTOCOL}.")
    _ok(f"{name}: no sample within 3σ -> 0 modes, HQ 0")


# --------------------------------------------------------------------------------------------
# chapter 02: the course generator with BatchNorm
# --------------------------------------------------------------------------------------------

_WIDTHS = [256, 512, 1024, 784]
_COURSE_G = ("each hidden layer Linear → BatchNorm1d → LeakyReLU(0.2), in that order, widths z_dim → 256 → 512 → "
             "1024; the output layer Linear(1024, 784) → tanh; images N×1×28×28 (or N×784)")
_ARCH = ("Each hidden layer is Linear → BatchNorm1d → LeakyReLU(0.2), in that order; the output layer is "
         "Linear → tanh.")


def _build(call: Callable, name: str, z_dim: int) -> nn.Module:
    G = call(z_dim)
    if isinstance(G, type) and issubclass(G, nn.Module):
        raise GradingError(f"{name}({z_dim}) returned the class {G.__name__} itself; it should return a torch.nn.Module "
                           f"instance: return {G.__name__}(z_dim).")
    if not isinstance(G, nn.Module):
        raise GradingError(f"{name}({z_dim}) should return a torch.nn.Module (e.g. nn.Sequential or your own "
                           f"nn.Module subclass), got {type(G).__name__}.")
    return G


def _trace(G: nn.Module, name: str, z_dim: int) -> tuple[list[nn.Module], torch.Tensor]:
    """Run G once in training mode on 16 latent vectors and return the leaf modules in the order
    forward calls them, and the output. G's state (running statistics) is restored afterwards."""
    calls: list[nn.Module] = []
    leaves = [m for m in G.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(lambda mod, inp, out: calls.append(mod)) for m in leaves]
    state = copy.deepcopy(G.state_dict())
    z = torch.randn(16, z_dim, generator=torch.Generator().manual_seed(1)).to(device_of(G))
    G.train()
    try:
        with torch.no_grad():
            out = G(z)
    except Exception as exc:  # noqa: BLE001 - explained below
        lin_in = [m.in_features for m in G.modules() if isinstance(m, nn.Linear)]
        if "shapes cannot be multiplied" in str(exc) and z_dim not in lin_in:
            raise GradingError(f"{name}({z_dim}) has no Linear layer taking {z_dim} inputs (found in_features "
                               f"{lin_in}): the first layer must be nn.Linear(z_dim, 256), using the z_dim "
                               "argument rather than a fixed 100.") from None
        raise _wrap_error(exc, f"{name}({z_dim}) called on a batch of 16 latent vectors (16×{z_dim})",
                          {"expected 4D input": "Use nn.BatchNorm1d for the N×C outputs of a Linear layer."},
                          tail=_ARCH) from None
    finally:
        for h in hooks:
            h.remove()
        G.load_state_dict(state)
    if not isinstance(out, torch.Tensor):
        raise GradingError(f"{name}: the generator should return a tensor of images, got {type(out).__name__}.")
    if out.shape[0] != 16 or out[0].numel() != 784:
        raise GradingError(f"{name}: 16 latent vectors should give 16 images (16×1×28×28 or 16×784), got "
                           f"{tuple(out.shape)}.")
    return calls, out.detach().cpu()


def _structure(calls: list[nn.Module], name: str, z_dim: int) -> tuple[list[nn.Linear], list[nn.BatchNorm1d]]:
    """Check the modules forward actually calls, in that order; name the usual mistakes."""
    lins = [m for m in calls if isinstance(m, nn.Linear)]
    sizes = [(m.in_features, m.out_features) for m in lins]
    want = list(zip([z_dim] + _WIDTHS[:-1], _WIDTHS))
    if sizes != want:
        if sizes and sizes[0][0] != z_dim and [s[1] for s in sizes] == _WIDTHS:
            raise GradingError(f"{name}({z_dim}): the first Linear layer takes {sizes[0][0]} inputs; it should take "
                               f"z_dim = {z_dim}: use the z_dim argument, nn.Linear(z_dim, 256).")
        raise GradingError(f"{name}({z_dim}): the Linear layers should be {want} in the order forward uses them, "
                           f"found {sizes or 'no nn.Linear layer'}.")
    if lins[-1].bias is None:
        raise GradingError(f"{name}: the output layer Linear(1024, 784) has no bias; keep it (bias=False is only "
                           "harmless right before a BatchNorm, which removes the mean).")
    for m in calls:
        if isinstance(m, nn.Dropout):
            raise GradingError(f"{name}: forward applies {m!r}; the course generator has no dropout. {_ARCH}")
        if isinstance(m, nn.ReLU):
            raise GradingError(f"{name}: forward applies nn.ReLU; the course generator uses LeakyReLU(0.2), not ReLU.")
        if isinstance(m, nn.LeakyReLU) and abs(m.negative_slope - 0.2) > 1e-9:
            raise GradingError(f"{name}: forward applies LeakyReLU(negative_slope={m.negative_slope:g}); use 0.2, "
                               "nn.LeakyReLU(0.2) (nn.LeakyReLU() defaults to 0.01).")
        if isinstance(m, (nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)):
            raise GradingError(f"{name}: forward applies {type(m).__name__}; use nn.BatchNorm1d after each hidden "
                               "Linear layer.")
    bns = [m for m in calls if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if any(not isinstance(m, nn.BatchNorm1d) for m in bns):
        raise GradingError(f"{name}: use nn.BatchNorm1d on the N×C activations of a Linear layer.")
    feats = [m.num_features for m in bns]
    if 784 in feats:
        raise GradingError(f"{name}: no BatchNorm on the output layer (784); only after the three hidden Linear layers.")
    if feats != _WIDTHS[:-1]:
        raise GradingError(f"{name}: expected BatchNorm1d(256), BatchNorm1d(512), BatchNorm1d(1024) after the hidden "
                           f"Linear layers (as forward uses them), found BatchNorm over {feats or 'nothing'}.")
    for m in bns:
        if abs(m.eps - 1e-5) > 1e-9:
            hint = (" BatchNorm1d(C, 0.8) sets eps = 0.8 (the second positional argument is eps, not momentum): a "
                    "bug copied from eriklindernoren/PyTorch-GAN (#116). Write nn.BatchNorm1d(C)."
                    if abs(m.eps - 0.8) < 1e-9 else " Keep PyTorch's default: nn.BatchNorm1d(C).")
            raise GradingError(f"{name}: BatchNorm1d({m.num_features}) has eps = {m.eps:g}, expected 1e-5.{hint}")
        if m.momentum is None or abs(m.momentum - 0.1) > 1e-9:
            raise GradingError(
                f"{name}: BatchNorm1d({m.num_features}) has momentum = {m.momentum}; keep PyTorch's default 0.1 "
                "(nn.BatchNorm1d(C)). PyTorch's momentum is the weight of the NEW batch in the running statistics: "
                "Keras's momentum 0.8 is PyTorch's 0.2.")
        if not m.affine:
            raise GradingError(f"{name}: BatchNorm1d({m.num_features}) has affine=False, which removes its learnable "
                               "scale and shift; use nn.BatchNorm1d(C).")
        if not m.track_running_stats:
            raise GradingError(f"{name}: BatchNorm1d({m.num_features}) has track_running_stats=False, so eval mode "
                               "(sampling) normalises with the statistics of each batch; use nn.BatchNorm1d(C).")
    return lins, bns


def _course_forward(z, lins, bns, stats, *, slope=0.2, order="bn_act", out="tanh"):
    """The course generator computed by hand (float64) with the student's own layers' weights.
    ``stats`` None: batch statistics (training mode); else a list of (running_mean, running_var)."""
    def t(p):
        return p.detach().double().cpu()

    h = z.double()
    pre = []
    for i in range(3):
        lin, bn = lins[i], bns[i]
        h = h @ t(lin.weight).T + (t(lin.bias) if lin.bias is not None else 0.0)
        if order == "act_bn":
            h = F.leaky_relu(h, slope)
        pre.append(h)
        mean, var = (h.mean(0), h.var(0, unbiased=False)) if stats is None else stats[i]
        h = (h - mean) / torch.sqrt(var + 1e-5) * t(bn.weight) + t(bn.bias)
        if order == "bn_act":
            h = F.leaky_relu(h, slope)
    h = h @ t(lins[3].weight).T + t(lins[3].bias)
    if out == "tanh":
        h = torch.tanh(h)
    elif out == "sigmoid":
        h = torch.sigmoid(h)
    elif out == "leaky_tanh":
        h = torch.tanh(F.leaky_relu(h, slope))
    return h, pre


@_graded(_COURSE_G)
def check_course_G_bn(fn: Callable, name: str = "course_G_bn") -> None:
    """``fn(z_dim=100)`` -> the course generator with BatchNorm: z→256→512→1024→784, each hidden layer
    Linear → BatchNorm1d (eps 1e-5) → LeakyReLU(0.2), output Linear → tanh, images N×1×28×28 (or N×784).

    Judged by what it computes, not by how it is written (nn.Sequential or a Module subclass with
    F.leaky_relu/torch.tanh in forward, one activation module reused, hidden Linear(bias=False) before
    BatchNorm, any registration order): the Linear and BatchNorm layers are found in the order forward
    calls them (forward hooks), given fixed random weights, and the images are compared with the same
    network computed by hand, in training mode (batch statistics) and in eval mode (running
    statistics). Targeted probes name the usual mistakes; z_dim is tried at 64 as well."""
    call = check_callable(fn, name)
    G = _build(call, name, 100)
    calls, out = _trace(G, name, 100)
    lins, bns = _structure(calls, name, 100)
    out = out.reshape(16, 784)
    if out.min() < -1 - 1e-6 or out.max() > 1 + 1e-6:
        raise GradingError(f"{name}: outputs should lie in [−1, 1] (tanh on the last layer), found "
                           f"[{out.min().item():.3g}, {out.max().item():.3g}]. {_ARCH}")
    _ok(f"{name}: layers 100→256→512→1024→784 as forward uses them, BatchNorm1d(eps 1e-5) ×3")

    # behaviour: fixed random weights, then the student's network against the hand computation
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for lin in lins:
            lin.weight.copy_(torch.randn(lin.weight.shape, generator=gen) * 0.05)
            if lin.bias is not None:
                lin.bias.copy_(torch.randn(lin.bias.shape, generator=gen) * 0.5)
        for bn in bns:
            bn.weight.copy_(1 + 0.5 * torch.rand(bn.weight.shape, generator=gen))
            bn.bias.copy_(0.1 * torch.randn(bn.bias.shape, generator=gen))
    z = torch.randn(16, 100, generator=gen)
    stats0 = [(bn.running_mean.double().cpu(), bn.running_var.double().cpu()) for bn in bns]
    G.train()
    try:
        got = G(z.to(device_of(G)))
    except Exception as exc:  # noqa: BLE001
        raise _wrap_error(exc, f"{name}(100) called a second time", tail=_ARCH) from None
    if not got.requires_grad:
        raise GradingError(f"{name}: the images carry no gradient, so G cannot be trained: do not use "
                           "torch.no_grad(), .detach() or NumPy in forward.")
    got = got.detach().double().cpu().reshape(16, 784)
    with torch.no_grad():
        want, pre = _course_forward(z, lins, bns, None)
        if not torch.allclose(got, want, atol=1e-4):
            variants = [(dict(order="act_bn"), "you apply LeakyReLU before BatchNorm.")]
            variants += [(dict(slope=s), "that is ReLU (slope 0); the course generator uses LeakyReLU(0.2), not ReLU."
                          if s == 0 else f"the LeakyReLU slope is {s:g}; use 0.2: F.leaky_relu(x, 0.2) or "
                                         "nn.LeakyReLU(0.2) (the default slope is 0.01).")
                         for s in (0.0, 0.01, 0.02, 0.1, 0.25, 0.3, 0.5)]
            variants += [(dict(out="sigmoid"), "the output goes through a sigmoid (images in [0, 1]); use tanh "
                                               "(images in [−1, 1], like the data)."),
                         (dict(out="none"), "the output layer has no tanh."),
                         (dict(out="leaky_tanh"), "there is a LeakyReLU between the last Linear and tanh.")]
            for kw, why in variants:
                alt, _ = _course_forward(z, lins, bns, None, **kw)
                if torch.allclose(got, alt, atol=1e-4):
                    raise GradingError(f"{name}: with the same weights, your generator's images match a network where "
                                       f"{why} {_ARCH}")
            alt, _ = _course_forward(z, lins, bns, stats0)
            if torch.allclose(got, alt, atol=1e-4):
                raise GradingError(f"{name}: in training mode your BatchNorm normalises with the running statistics; "
                                   f"it should use the statistics of the batch (nn.BatchNorm1d does). {_ARCH}")
            raise GradingError(f"{name}: with its own weights, your generator computes other images than the course "
                               f"generator in training mode (largest difference {(got - want).abs().max().item():.3g}). "
                               f"{_ARCH}")
        # eval mode: the running statistics after that one training step, momentum 0.1
        stats1 = [(0.9 * m0 + 0.1 * p.mean(0), 0.9 * v0 + 0.1 * p.var(0, unbiased=True))
                  for (m0, v0), p in zip(stats0, pre)]
        G.eval()
        try:
            got_eval = G(z.to(device_of(G))).double().cpu().reshape(16, 784)
        except Exception as exc:  # noqa: BLE001
            raise _wrap_error(exc, f"{name}(100) in eval mode (G.eval())", tail=_ARCH) from None
        want_eval, _ = _course_forward(z, lins, bns, stats1)
        if not torch.allclose(got_eval, want_eval, atol=1e-4):
            raise GradingError(f"{name}: in eval mode (G.eval(), used for sampling) your generator gives other images "
                               "than BatchNorm1d with its running statistics would: use nn.BatchNorm1d(C) modules "
                               f"and do not override train()/eval(). {_ARCH}")
    # the z_dim argument: course_G_bn(64) starts with Linear(64, 256)
    G64 = _build(call, name, 64)
    _structure(_trace(G64, name, 64)[0], name, 64)
    _ok(f"{name}: same images as Linear → BN → LeakyReLU(0.2) ×3 → Linear → tanh, computed by hand with your "
        "weights, in training and eval mode; z_dim = 64 gives Linear(64, 256)")
