"""Checkers for chapters 03 (gradient penalty), 06 (R1) and 07 (the DRS acceptance probability).

The gradient penalty and R1 checkers live in :mod:`gantut.grading.core` (``check_gradient_penalty``,
``check_r1``); this module adds the DRS one.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from .core import GradingError, _graded, _ok, _unchanged, check_callable

__all__ = ["check_acceptance_probability"]

_DRS = ("p = σ(F̂) per sample with F̂ = Δ − log(1 − exp(Δ − ε)) − γ and Δ = logit − D_M "
        "(Azadi et al. 2019, Eq. 8); log(1 − exp(t)) is best written torch.log(-torch.expm1(t))")


def _sigmoid(t: float) -> float:
    if t >= 0:
        return 1.0 / (1.0 + math.exp(-t))
    return math.exp(t) / (1.0 + math.exp(t))


def _log1mexp(t: float) -> float:
    """log(1 − e^t): finite for t < 0, −inf at t = 0, nan for t > 0."""
    if t == 0:
        return -math.inf
    return math.log(-math.expm1(t)) if t < 0 else math.nan


def _nan_safe(f: Callable[[], float]) -> float:
    try:
        return f()
    except (ValueError, OverflowError, ZeroDivisionError):
        return math.nan


@_graded(_DRS)
def check_acceptance_probability(fn: Callable, name: str = "acceptance_probability") -> None:
    """``fn(logits, D_M, epsilon, gamma)`` -> σ(F̂) per sample, with
    F̂ = Δ − log(1 − exp(Δ − ε)) − γ and Δ = logit − D_M (Azadi et al. 2019, Eq. 8).

    Expected values are computed element by element with the math module. Cases: the max-logit
    sample at ε = 1e-8, γ = 0 and 18; ε = 1e-6, 0.01 and 0.5; negative γ; D_M above every logit (so
    D_M must not be replaced by logits.max()); float32 logits of shape N×1; logits left unchanged."""
    call = check_callable(fn, name)
    cases = [
        (torch.tensor([2.0, 1.0, 0.0, -3.0], dtype=torch.float64), 2.0, 1e-8, 0.0),
        (torch.tensor([2.0, 1.0, 0.0, -3.0], dtype=torch.float64), 2.0, 1e-8, 18.0),
        (torch.tensor([2.0, 1.0, 0.0, -3.0], dtype=torch.float64), 2.0, 1e-6, 5.0),
        (torch.tensor([[0.5], [-1.0], [-4.0]], dtype=torch.float32), 1.0, 0.01, -1.5),
        (torch.tensor([3.0, 2.5, -0.5, 1.0, -6.0, 2.9], dtype=torch.float64), 3.0, 0.5, 2.0),
    ]
    for logits, D_M, eps, gamma in cases:
        what = (f"{name}(logits={[round(v, 4) for v in logits.flatten().tolist()]}, D_M={D_M}, epsilon={eps:g}, "
                f"gamma={gamma:g})")
        passed = logits.clone()
        got = call(passed, D_M, eps, gamma)
        _unchanged(what, {"logits": (passed, logits)})
        if not isinstance(got, torch.Tensor):
            raise GradingError(f"{what} should return a tensor of {logits.numel()} probabilities, got "
                               f"{type(got).__name__}.")
        if got.numel() != logits.numel():
            raise GradingError(f"{what} should return one probability per logit ({logits.numel()} values, shape "
                               f"{tuple(logits.shape)}), got shape {tuple(got.shape)}.")
        got = got.detach().double().cpu().reshape(-1)
        ls = logits.double().flatten().tolist()
        M = max(ls)

        def probs(D_M=D_M, eps=eps, gamma=gamma, sign_log=-1.0, log_eps=True, with_log=True, flip=False, sig=True):
            out = []
            for v in ls:
                delta = (D_M - v) if flip else (v - D_M)
                log_term = _log1mexp(delta - eps if log_eps else delta) if with_log else 0.0
                F_ = delta + sign_log * log_term - gamma
                out.append(_nan_safe(lambda: _sigmoid(F_)) if sig else F_)
            return torch.tensor(out, dtype=torch.float64)

        exp = probs()
        tol = dict(atol=1e-6, rtol=1e-5) if logits.dtype == torch.float64 else dict(atol=2e-5, rtol=1e-4)
        if torch.isfinite(got).all() and torch.allclose(got, exp, **tol):
            continue
        mistakes = [
            (probs(sig=False), "you returned F̂ itself: the acceptance probability is σ(F̂) (torch.sigmoid)."),
            (1 - exp, "that is the rejection probability 1 − σ(F̂); return σ(F̂)."),
            (probs(eps=1e-8), "you used ε = 1e-8 instead of the epsilon argument."),
            (probs(log_eps=False), "ε is missing inside the log: log(1 − exp(Δ − ε)); without it the max-logit "
                                   "sample gives log 0."),
            (probs(with_log=False), "the −log(1 − exp(Δ − ε)) term is missing: the max-logit sample must get "
                                    "F̂ = −log(1 − e^(−ε)) − γ (≈ 18.4 − γ at ε = 1e-8), not −γ."),
            (probs(sign_log=1.0), "the sign of the log term: F̂ = Δ **−** log(1 − exp(Δ − ε)) − γ."),
            (probs(gamma=-gamma), "the sign of γ: F̂ = … **−** γ (a larger γ rejects more)."),
            (probs(gamma=0.0), "γ is missing: subtract the gamma argument, F̂ = … − γ."),
            (probs(flip=True), "Δ is the logit minus D_M (Δ ≤ 0), not D_M minus the logit."),
            (probs(D_M=M), f"you used the largest logit of this batch ({M:g}) as D_M; use the D_M argument "
                           f"({D_M:g}), the maximum logit over many samples."),
        ]
        hint = ""
        for wrong, why in mistakes:
            ok = torch.isfinite(wrong) == torch.isfinite(got)
            if ok.all() and torch.allclose(got.nan_to_num(), wrong.nan_to_num(), **tol) and not torch.allclose(wrong, exp, **tol):
                hint = " — " + why
                break
        if not hint:
            hint = f" — expected {_DRS}."
        raise GradingError(f"{what}: expected {[round(v, 6) for v in exp.tolist()]}, got "
                           f"{[round(v, 6) if math.isfinite(v) else v for v in got.tolist()]}{hint}")
    _ok(f"{name}: σ(F̂) on {len(cases)} cases (ε from 1e-8 to 0.5, γ from −1.5 to 18, D_M above every logit); the "
        f"max-logit sample at ε = 1e-8, γ = 0 is accepted with probability {_sigmoid(-_log1mexp(-1e-8)):.6f}")
