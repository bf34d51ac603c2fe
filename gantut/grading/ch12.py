"""Chapter 12's checkers: seed 001's latent scale s and the encoder loss L_enc."""
from __future__ import annotations

import math
from typing import Callable

import torch

from .core import GradingError, _collect, _graded, _input_grads, _list, _ok, _requires_grad_check, _run_cases, \
    check_callable, check_scalar

__all__ = ["check_latent_scale", "check_encoder_loss"]

_S = "s = √d · √v / ‖√v‖₂ for the d-vector of variances v: Σ sᵢ² = d, and s = 1 when v is uniform"
_L = ("L_enc = mean over the batch and the d elements of (z − ẑ)² · s² (s broadcast over the batch), with gradients "
      "reaching ẑ (the encoder learns through it) and z")


def _scale_mistakes(v: torch.Tensor) -> list[tuple[torch.Tensor, str]]:
    d, root = len(v), v.sqrt()
    return [
        (root / root.norm(), "Σ sᵢ² is 1, not d: the factor √d is missing (s = √d · √v / ‖√v‖₂)."),
        (math.sqrt(d) * root / v.norm(), "You divided by ‖v‖₂, the norm of v; the norm is of √v: s = √d · √v / ‖√v‖₂."),
        (math.sqrt(d) * v / v.norm(), "You used v where the formula has √v (s = √d · v / ‖v‖₂ scales by the variance, "
                                      "not the standard deviation): s = √d · √v / ‖√v‖₂."),
        (d * v / v.sum(), "That is s², not s (d · v / Σ v): take the square root, s = √d · √v / ‖√v‖₂."),
        (root, "√v alone is not normalised: divide by ‖√v‖₂ and multiply by √d, so that Σ sᵢ² = d."),
        (math.sqrt(d) * root / root.sum(), "You divided by Σ √vᵢ (the L1 norm); the formula's norm is the L2 norm ‖√v‖₂."),
    ]


@_graded(_S)
def check_latent_scale(fn: Callable, name: str = "latent_scale") -> None:
    """Check ``fn(v)`` -> s on hand vectors (v = (1, 4), a uniform v, d = 5 with a zero), naming the missing √d, ‖v‖ for
    ‖√v‖, v for √v, s² for s, √v unnormalised and the L1 norm; Σ sᵢ² = d; the input unchanged."""
    call = check_callable(fn, name)
    inputs = [torch.tensor([1.0, 4.0]), torch.full((4,), 0.3), torch.tensor([0.5, 2.0, 0.0, 1.0, 0.25])]
    for v in inputs:
        what = f"{name}(v={_list(v)})"
        want = math.sqrt(len(v)) * v.sqrt() / v.sqrt().norm()
        before = v.clone()
        got = call(v)
        if not torch.equal(v, before):
            raise GradingError(f"{what} changed its input v in place; compute s in new tensors (no sqrt_ or /=).")
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(v.shape):
            raise GradingError(f"{what} should return a tensor of shape {tuple(v.shape)} (one scale per latent element), "
                               f"got {tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__}.")
        got = got.detach().double()
        if torch.allclose(got, want.double(), atol=1e-5):
            continue
        for value, message in _scale_mistakes(v):
            if torch.allclose(got, value.double(), atol=1e-5) and not torch.allclose(value, want, atol=1e-5):
                raise GradingError(f"{what} returned {_list(got)}. {message}")
        raise GradingError(f"{what} returned {_list(got)}; expected {_list(want)} (Σ sᵢ² = {float((got ** 2).sum()):.4g}, "
                           f"should be {len(v)}). Expected {_S}.")
    _ok(f"{name}: s = √d·√v/‖√v‖ on three hand vectors (Σ sᵢ² = d; uniform v gives s = 1; v = 0 gives s = 0)")


def _loss_mistakes(z: torch.Tensor, z_hat: torch.Tensor, s: torch.Tensor) -> list[tuple[float, str]]:
    e = (z - z_hat) ** 2
    return [
        (e.mean().item(), "That is the plain squared error: L_enc weights each element by s², mean((z − ẑ)² · s²)."),
        ((e * s).mean().item(), "You weighted by s; L_enc weights by s², mean((z − ẑ)² · s²)."),
        (((z * s - z_hat) ** 2).mean().item(), "You compared z · s with ẑ. The encoder predicts the *unscaled* z; the "
                                               "scale enters as the weight s² on each squared error."),
        ((e * s ** 2).sum().item(), "That is the sum; L_enc is the mean over the batch and the d elements."),
        ((e * s ** 2).sum(1).mean().item(), "You summed over the d elements (mean over the batch only): L_enc is the mean "
                                            "over the elements too, so that a zero predictor scores 1."),
        (((z - z_hat).abs() * s ** 2).mean().item(), "That is an absolute error; L_enc squares (z − ẑ)."),
    ]


@_graded(_L)
def check_encoder_loss(fn: Callable, name: str = "encoder_loss") -> None:
    """Check ``fn(z, z_hat, s)`` = mean((z − ẑ)²·s²) on hand batches (s uniform and not), naming the plain MSE (no s²),
    s for s², z·s against ẑ, the sum, the sum over elements and the absolute error; the gradient reaches ẑ
    (naming a detached ẑ) and z; the inputs unchanged."""
    call = check_callable(fn, name)
    what = f"{name}(z, z_hat, s)"
    inputs = [(torch.tensor([[1.0, 2.0], [0.0, -1.0]]), torch.tensor([[0.0, 1.0], [1.0, 1.0]]), torch.tensor([2.0, 1.0])),
              (torch.tensor([[0.5, -1.0, 2.0]]), torch.tensor([[0.0, 0.0, 0.0]]), torch.ones(3)),
              (torch.tensor([[1.5, 0.2, -0.3], [-0.4, 1.1, 0.6]]), torch.tensor([[1.0, 0.0, 0.1], [0.2, 0.9, -0.2]]),
               torch.tensor([1.5, 0.5, math.sqrt(0.5)]))]
    cases = [(f"{what} for z={[_list(r) for r in z]}, z_hat={[_list(r) for r in zh]}, s={_list(s)}",
              ((z - zh) ** 2 * s ** 2).mean().item(), _loss_mistakes(z, zh, s)) for z, zh, s in inputs]
    _run_cases(cases, _collect(call, what, [tuple(t.clone() for t in case) for case in inputs]), f"Expected {_L}.")
    _ok(f"{name}: mean((z − ẑ)²·s²) on three hand batches (13/4, a zero predictor with s = 1, a mixed scale)")

    z, z_hat, s = (t.clone() for t in inputs[2])
    z_hat.requires_grad_(True)
    z.requires_grad_(True)
    out = call(z, z_hat, s)
    check_scalar(out, what)
    _requires_grad_check(out, what, "do not call .item(), .detach() or NumPy inside it: the encoder and G learn through "
                                    "L_enc.")
    g_hat, g_z = _input_grads(out, [z_hat, z], what)   # zeros where an input is not reached
    want = -2 * (z - z_hat).detach() * s ** 2 / z.numel()
    if not torch.any(g_hat != 0):
        raise GradingError(f"{what}: no gradient reaches ẑ, so the encoder would never learn: ẑ was detached (or "
                           f"computed under no_grad). Only the scale s is a constant.")
    if not torch.allclose(g_hat, want, atol=1e-5):
        raise GradingError(f"{what}: dL/dẑ is {[_list(r) for r in g_hat]}; expected −2·(z − ẑ)·s²/(B·d) = "
                           f"{[_list(r) for r in want]}.")
    if not torch.allclose(g_z, -want, atol=1e-5):
        raise GradingError(f"{what}: dL/dz should be 2·(z − ẑ)·s²/(B·d); z was detached. In the G step z is a constant, "
                           f"but keep the formula whole.")
    _ok(f"{name}: the gradient reaches ẑ (the encoder) and z: ±2·(z − ẑ)·s²/(B·d)")
