"""Chapter 09's checkers: the α-regularised LSGAN D loss and the smooth-step α schedule."""
from __future__ import annotations

import math
from typing import Callable

import torch

from .core import GradingError, _collect, _graded, _input_grads, _list, _ok, _requires_grad_check, _run_cases, \
    check_callable, check_scalar

__all__ = ["check_lsgan_d_loss", "check_smoothstep_alpha"]

_LS = "L_D = ½·E(D(x) − 1)² + ½·E(D(G(z)) − α)², each E the mean over its own batch"


def _mean(t: torch.Tensor) -> float:
    return t.mean().item()


def _ls_mistakes(r: torch.Tensor, f: torch.Tensor, alpha: float) -> list[tuple[float, str]]:
    both = torch.cat([(r - 1) ** 2, (f - alpha) ** 2])
    return [
        (0.5 * ((r - 1) ** 2).sum().item() + 0.5 * ((f - alpha) ** 2).sum().item(),
         "That is ½·sum over each batch (TensorFlow's tf.nn.l2_loss, as in xudonmao/LSGAN): it grows with the batch "
         "size. E is the batch mean: use .mean()."),
        (_mean((r - 1) ** 2) + _mean((f - alpha) ** 2), "You left out the ½ in front of each term."),
        (0.5 * _mean((r - 1) ** 2) + 0.5 * _mean(f ** 2),
         "α is missing: that is the plain LSGAN loss (fake target a = 0). The fake target is α: (D(G(z)) − α)²."),
        (0.5 * _mean((r - alpha) ** 2) + 0.5 * _mean((f - 1) ** 2),
         "The targets are swapped: reals go to b = 1 and fakes to a = α."),
        (0.5 * _mean((r - (1 - alpha)) ** 2) + 0.5 * _mean(f ** 2),
         "You smoothed the real target to 1 − α (one-sided label smoothing). Seed 003 moves the fake target to α "
         "and keeps the real one at 1."),
        (0.5 * _mean((r - 1) ** 2) + 0.5 * _mean((f + alpha) ** 2),
         "The sign of α is wrong: the fake term is (D(G(z)) − α)², pulling fakes up towards α."),
        (0.5 * _mean(both), "You took one mean over both batches together (torch.cat): that halves the loss "
                            "again and weights each batch by its size. Take each mean over its own batch."),
        (0.5 * _mean((f - 1) ** 2), "That is G's loss ½E(D(G(z)) − 1)², not D's."),
    ]


@_graded(_LS)
def check_lsgan_d_loss(fn: Callable, name: str = "lsgan_d_loss") -> None:
    """Check ``fn(d_real, d_fake, alpha)`` = ½E(D(x) − 1)² + ½E(D(G(z)) − α)² (batch means): values on hand
    inputs (N×1 and N, unequal batch sizes, α 0, 0.5, 0.9), naming the mistake (½·sum, no ½, α missing, targets
    swapped, real target smoothed, sign of α, one mean over both batches, G's loss); the gradients
    (D(x) − 1)/N_real and (D(G(z)) − α)/N_fake; inputs unchanged."""
    call = check_callable(fn, name)
    what = f"{name}(d_real, d_fake, alpha)"

    def expected(r, f, alpha):
        return 0.5 * _mean((r - 1) ** 2) + 0.5 * _mean((f - alpha) ** 2)

    inputs = [(torch.ones(4, 1), torch.zeros(4, 1), 0.0),                 # the plain LSGAN's perfect D: 0
              (torch.ones(4, 1), torch.full((4, 1), 0.5), 0.5),           # D* of the α-regularised D: 0
              (torch.tensor([[0.9], [0.2], [1.4], [0.6]]), torch.tensor([[0.1], [0.7], [-0.3], [0.5]]), 0.5),
              (torch.tensor([1.2, 0.3, 0.8]), torch.tensor([0.2, 0.9, 0.4, -0.1, 0.6, 0.0]), 0.9),
              (torch.tensor([0.5, 0.5]), torch.tensor([0.5, 0.5, 0.5, 0.5]), 0.3)]
    cases = [(f"{what} for d_real={_list(r)}, d_fake={_list(f)}, alpha={a:g}", expected(r, f, a), _ls_mistakes(r, f, a))
             for r, f, a in inputs]
    _run_cases(cases, _collect(call, what, [(r.clone(), f.clone(), a) for r, f, a in inputs]), f"Expected {_LS}.")
    _ok(f"{name}: 0 at D's targets (1 for reals, α for fakes), ½ and batch means on unequal batches")

    r = torch.tensor([1.2, 0.3, 0.8], requires_grad=True)
    f = torch.tensor([0.2, 0.9, 0.4, -0.1, 0.6, 0.0], requires_grad=True)
    out = call(r, f, 0.9)
    check_scalar(out, what)
    _requires_grad_check(out, what, "do not call .item(), .detach() or NumPy inside the loss.")
    g_r, g_f = _input_grads(out, [r, f], what)
    want_r, want_f = (r.detach() - 1) / 3, (f.detach() - 0.9) / 6
    if not (torch.allclose(g_r, want_r, atol=1e-5) and torch.allclose(g_f, want_f, atol=1e-5)):
        raise GradingError(f"{what}: the gradients are {_list(g_r)} (reals) and {_list(g_f)} (fakes); expected "
                           f"(D(x) − 1)/N_real = {_list(want_r)} and (D(G(z)) − α)/N_fake = {_list(want_f)}. "
                           f"Part of the loss is cut from the graph. Expected {_LS}.")
    _ok(f"{name}: gradients (D(x) − 1)/N_real and (D(G(z)) − α)/N_fake")


def _number(v, what: str) -> float:
    """A schedule's value: a Python number or a 0-d tensor, finite."""
    if isinstance(v, torch.Tensor) and v.dim() == 0:
        v = v.item()
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise GradingError(f"{what} should return one number (a float), got {type(v).__name__}.")
    if not math.isfinite(v):
        raise GradingError(f"{what} returned {v}, which is not finite.")
    return float(v)


_SS = ("α(step) = α_max·(3t² − 2t³) with t = (step − start)/length clamped to [0, 1]: 0 before start, α_max from "
       "start + length on")


@_graded(_SS)
def check_smoothstep_alpha(fn: Callable, name: str = "smoothstep_alpha") -> None:
    """Check ``fn(step, start, length, alpha_max)`` -> float: the smooth-step ramp at hand steps (before, at,
    inside, at the end of and after the ramp, two settings), naming the mistake (linear ramp, no clamp before
    the start or after the end, t not divided by the length, 3t² − 2t³ swapped for 2t² − 3t³)."""
    call = check_callable(fn, name)
    what = f"{name}(step, start, length, alpha_max)"

    def ss(t):
        return 3 * t * t - 2 * t ** 3

    def clamp(t):
        return min(max(t, 0.0), 1.0)

    settings = [(100, 40, 0.5), (1000, 2000, 0.9)]
    points = []
    for start, length, amax in settings:
        points += [(start + d, start, length, amax) for d in (-length // 2, 0, length // 4, length // 2,
                                                              (3 * length) // 4, length, 2 * length)]
    cases = []
    for step, start, length, amax in points:
        t = (step - start) / length
        cases.append((f"{what} = {name}({step}, {start}, {length}, {amax:g})", amax * ss(clamp(t)), [
            (amax * clamp(t), "That is a linear ramp α_max·t; the smooth step is α_max·(3t² − 2t³), flat at both ends."),
            (amax * ss(min(t, 1.0)), "Before the start α must be 0: clamp t = (step − start)/length at 0 from below "
                                     "(3t² − 2t³ is positive for t < 0)."),
            (amax * ss(max(t, 0.0)), "After start + length α must stay at α_max: clamp t at 1 from above "
                                     "(3t² − 2t³ falls again for t > 1)."),
            (amax * ss(t), "Clamp t = (step − start)/length to [0, 1]: without it α is positive before the start "
                           "and falls (even below 0) after the end."),
            (amax * ss(clamp(step - start)), "t must be a fraction of the ramp: divide step − start by the length."),
        ]))
    _run_cases(cases, _collect(call, what, points, convert=_number), f"Expected {_SS}.")
    _ok(f"{name}: 0 before the start, 3t² − 2t³ inside, α_max after the end (two settings)")
