"""Checkers for chapters 03 (gradient penalty), 06 (R1) and 07 (the DRS acceptance probability).

The gradient penalty and R1 checkers live in :mod:`gantut.grading.core` (``check_gradient_penalty``,
``check_r1``); this module adds the DRS one.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from .core import GradingError, _ok, check_callable

__all__ = ["check_acceptance_probability"]


def _expected(logits: torch.Tensor, D_M: float, eps: float, gamma: float) -> torch.Tensor:
    delta = logits.double() - D_M
    F = delta - torch.log(-torch.expm1(delta - eps)) - gamma
    return torch.sigmoid(F)


def check_acceptance_probability(fn: Callable, name: str = "acceptance_probability") -> None:
    """``fn(logits, D_M, epsilon, gamma)`` -> σ(F̂) per sample, with
    F̂ = Δ − log(1 − exp(Δ − ε)) − γ and Δ = logit − D_M (Azadi et al. 2019, Eq. 8)."""
    call = check_callable(fn, name)
    logits = torch.tensor([2.0, 1.0, 0.0, -3.0], dtype=torch.float64)
    D_M = 2.0
    cases = [(1e-8, 0.0), (1e-8, 18.0), (1e-6, 5.0)]
    for eps, gamma in cases:
        what = f"{name}(logits={logits.tolist()}, D_M={D_M}, epsilon={eps:g}, gamma={gamma:g})"
        got = call(logits.clone(), D_M, eps, gamma)
        if not isinstance(got, torch.Tensor):
            raise GradingError(f"{what} should return a tensor of 4 probabilities, got {type(got).__name__}.")
        got = got.detach().double().reshape(-1)
        if got.shape != logits.shape:
            raise GradingError(f"{what} should return one probability per logit (shape (4,)), got shape "
                               f"{tuple(got.shape)}.")
        exp = _expected(logits, D_M, eps, gamma)
        if torch.isfinite(got).all() and torch.allclose(got, exp, atol=1e-6, rtol=1e-5):
            continue
        delta = logits - D_M
        F = delta - torch.log(-torch.expm1(delta - eps)) - gamma
        mistakes = [
            (F, "you returned F̂ itself: the acceptance probability is σ(F̂) (torch.sigmoid)."),
            (torch.sigmoid(delta - torch.log(-torch.expm1(delta)) - gamma),
             "ε is missing inside the log: log(1 − exp(Δ − ε)); without it the max-logit sample gives log 0."),
            (torch.sigmoid(delta - gamma),
             "the −log(1 − exp(Δ − ε)) term is missing: the max-logit sample must get F̂ = −log(1 − e^(−ε)) − γ "
             "≈ 18.4 − γ at ε = 1e-8, not −γ."),
            (torch.sigmoid(delta + torch.log(-torch.expm1(delta - eps)) - gamma),
             "the sign of the log term: F̂ = Δ **−** log(1 − exp(Δ − ε)) − γ."),
            (torch.sigmoid(delta - torch.log(-torch.expm1(delta - eps)) + gamma),
             "the sign of γ: F̂ = … **−** γ (a larger γ rejects more)."),
            (torch.sigmoid(-delta - torch.log(-torch.expm1(-delta - eps)) - gamma)
             if bool((-delta - eps < 0).all()) else torch.full_like(delta, math.nan),
             "Δ is the logit minus D_M (Δ ≤ 0), not D_M minus the logit."),
        ]
        hint = ""
        for wrong, why in mistakes:
            if torch.isfinite(wrong).all() and torch.isfinite(got).all() and torch.allclose(got, wrong, atol=1e-6,
                                                                                             rtol=1e-5):
                hint = " — " + why
                break
        raise GradingError(f"{what}: expected {[round(v, 6) for v in exp.tolist()]}, got "
                           f"{[round(v, 6) if math.isfinite(v) else v for v in got.tolist()]}{hint}")
    _ok(f"{name}: σ(F̂) on {len(cases)} cases; the max-logit sample at ε = 1e-8, γ = 0 is accepted with "
        f"probability {_expected(torch.tensor([0.0]), 0.0, 1e-8, 0.0).item():.6f}")
