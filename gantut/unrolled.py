"""Unrolled GAN (Metz et al. 2017, "Unrolled Generative Adversarial Networks", arXiv:1611.02163).

The generator is trained against a discriminator that has been allowed to react: starting from
θ_D⁰ = θ_D, take K optimiser steps of D on the current minibatch,

    θ_D^{k+1} = θ_D^k − η · Adam(∂L_D(θ_G, θ_D^k)/∂θ_D^k)                 (Eq. 4-5, Adam moments unrolled too)

and update G on the surrogate f_K(θ_G, θ_D) = −L_D(θ_G, θ_D^K) (the value function at the unrolled
D, Eq. 6). Its gradient has two terms (Eq. 7):

    df_K/dθ_G = ∂f/∂θ_G (θ_G, θ_D^K)  +  ∂f/∂θ_D^K · dθ_D^K/dθ_G

The second term — how D's reaction depends on G — needs gradients *through* the K updates
(second order: ``torch.autograd.grad(..., create_graph=True)`` on D's parameters, evaluated with
``torch.func.functional_call``). Dropping it gives the cheaper **first-order** variant, which only
evaluates G's usual loss at a D that has looked K steps ahead. The unrolled D is thrown away; D
itself takes its ordinary single step.

Order of updates: like :class:`gantut.gan.GANStep`, D first, then G (alternating), so ``K = 0``
*is* the plain GAN step. (poolio/unrolled_gan computes both from the same state, simultaneously.)
:class:`UnrolledStep` reuses the base D update (penalties such as R1 included) and overrides only
G's objective.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.func import functional_call

from .gan import AdversarialStep
from .penalties import R1

__all__ = ["sgd_step", "adam_step", "unroll", "UnrolledStep"]

Params = dict[str, torch.Tensor]


def sgd_step(params: Params, grads: Params, lr: float) -> Params:
    """θ' = θ − η g for every tensor (keeps the graph: θ' is differentiable w.r.t. θ and g)."""
    return {k: p - lr * grads[k] for k, p in params.items()}


def adam_step(params: Params, grads: Params, state: dict, lr: float, betas: tuple[float, float],
              eps: float) -> tuple[Params, dict]:
    """One Adam update, written out so that it can be differentiated (torch.optim.Adam's formula):

    m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  t ← t+1,
    θ ← θ − (η / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε).

    ``state`` = {"step": t, "m": {...}, "v": {...}}; returns (new params, new state).
    """
    b1, b2 = betas
    t = state["step"] + 1
    m = {k: b1 * state["m"][k] + (1 - b1) * g for k, g in grads.items()}
    v = {k: b2 * state["v"][k] + (1 - b2) * g * g for k, g in grads.items()}
    bc1, bc2 = 1 - b1 ** t, (1 - b2 ** t) ** 0.5
    new = {k: p - (lr / bc1) * m[k] / (_sqrt(v[k]) / bc2 + eps) for k, p in params.items()}
    return new, {"step": t, "m": m, "v": v}


def _sqrt(v: torch.Tensor) -> torch.Tensor:
    # √v has an infinite derivative at v = 0 (an unused parameter): clamp only where v is exactly 0
    return torch.where(v > 0, v.clamp_min(1e-38).sqrt(), torch.zeros_like(v))


def _adam_state(opt: torch.optim.Optimizer, params: dict[str, nn.Parameter]) -> tuple[dict, dict]:
    group = opt.param_groups[0]
    if group.get("amsgrad") or group.get("weight_decay") or len(opt.param_groups) != 1:
        raise ValueError("unrolling supports plain Adam (one parameter group, no amsgrad / weight decay) or SGD.")
    m, v, steps = {}, {}, []
    for k, p in params.items():
        st = opt.state.get(p, {})
        m[k] = st["exp_avg"].detach() if "exp_avg" in st else torch.zeros_like(p)
        v[k] = st["exp_avg_sq"].detach() if "exp_avg_sq" in st else torch.zeros_like(p)
        steps.append(float(st["step"]) if "step" in st else 0.0)
    hyper = {"lr": group["lr"], "betas": group["betas"], "eps": group["eps"]}
    return {"step": max(steps, default=0.0), "m": m, "v": v}, hyper


def unroll(D: nn.Module, opt_D: torch.optim.Optimizer, d_loss: Callable, real: torch.Tensor,
           fake: torch.Tensor, K: int, create_graph: bool) -> Params:
    """θ_D^K: K copies of D's optimiser step on (real, fake), from D's current parameters and
    optimiser state, returned as a dict of tensors for ``functional_call`` (parameters and copies of
    D's buffers). D itself is not changed: neither its parameters, nor its optimiser state, nor its
    BatchNorm running statistics (the unrolled passes update copies).

    ``create_graph=True`` keeps the graph of every step, so θ_D^K is differentiable w.r.t. ``fake``
    (and hence θ_G): the second-order unrolled GAN. ``False`` detaches each step (first order).
    """
    params = dict(D.named_parameters())
    theta = {k: p if create_graph else p.detach() for k, p in params.items()}
    # BatchNorm running statistics: the unrolled D updates copies, never D's own buffers
    buffers = {k: b.clone() for k, b in D.named_buffers()}
    if isinstance(opt_D, torch.optim.Adam):
        state, hyper = _adam_state(opt_D, params)
    elif isinstance(opt_D, torch.optim.SGD):
        group = opt_D.param_groups[0]
        if group.get("momentum") or group.get("weight_decay"):
            raise ValueError("unrolling supports SGD without momentum or weight decay, or Adam.")
        state, hyper = None, {"lr": group["lr"]}
    else:
        raise ValueError(f"cannot unroll {type(opt_D).__name__}; use torch.optim.Adam or SGD for D.")
    fake_k = fake if create_graph else fake.detach()
    for _ in range(K):
        if not create_graph:
            theta = {k: t.detach().requires_grad_(True) for k, t in theta.items()}
        loss = d_loss(functional_call(D, {**theta, **buffers}, (real,)),
                      functional_call(D, {**theta, **buffers}, (fake_k,)))
        grads = dict(zip(theta, torch.autograd.grad(loss, list(theta.values()), create_graph=create_graph)))
        if state is None:
            theta = sgd_step(theta, grads, hyper["lr"])
        else:
            theta, state = adam_step(theta, grads, state, **hyper)
        if not create_graph:
            theta = {k: t.detach() for k, t in theta.items()}
    return {**theta, **buffers}


class UnrolledStep(AdversarialStep):
    """One unrolled-GAN iteration: D's ordinary update (the base class's), then G's update against θ_D^K.

    Parameters
    ----------
    K : unrolling steps (0 = the plain GAN step; poolio and the paper use 5, the paper also 1 and 10).
    order : ``"second"`` (differentiate through the K updates, Eq. 7) or ``"first"`` (drop dθ_D^K/dθ_G).
    loss : D's loss family from :data:`gantut.losses.LOSSES` (``"minimax"`` = BCE as in poolio).
    g_objective : ``"surrogate"`` — G minimises f_K = −L_D(x, G(z); θ_D^K), the paper's and poolio's
        (saturating for BCE; the real term counts through θ_D^K at second order); ``"loss"`` — G
        minimises the family's own G loss at θ_D^K (non-saturating for ``loss="nonsaturating"``).
    r1_gamma : R1 on D's own update (a :class:`gantut.penalties.R1`); ``penalties`` takes any others.

    Each G update costs about K+1 forward/backward passes of D (more at second order); report
    seconds per step beside the result.
    """

    def __init__(self, G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer,
                 z_dim, *, K: int = 5, order: str = "second", loss: str = "minimax",
                 g_objective: str = "surrogate", r1_gamma: float = 0.0, penalties=()) -> None:
        if K < 0:
            raise ValueError(f"K is a number of unrolling steps, >= 0; got {K}.")
        if order not in ("first", "second"):
            raise ValueError(f"order must be 'first' or 'second', got {order!r}.")
        if g_objective not in ("surrogate", "loss"):
            raise ValueError(f"g_objective must be 'surrogate' or 'loss', got {g_objective!r}.")
        pens = ([R1(r1_gamma)] if r1_gamma else []) + list(penalties)
        super().__init__(G, D, opt_G, opt_D, z_dim, loss=loss, penalties=pens)
        self.K, self.order, self.g_mode = K, order, g_objective

    def g_objective(self, z: torch.Tensor, real: torch.Tensor):
        fake = self.G(z)
        d_loss = lambda r, f: self.loss_fn.d_loss(r, f, self.g_updates)  # noqa: E731
        theta = unroll(self.D, self.opt_D, d_loss, real, fake, self.K, create_graph=self.order == "second")
        if self.g_mode == "surrogate":
            loss_G = -d_loss(functional_call(self.D, theta, (real,)), functional_call(self.D, theta, (fake,)))
        else:
            loss_G = self.loss_fn.g_loss(functional_call(self.D, theta, (fake,)), self.g_updates)
        return loss_G, {"loss_G": loss_G.detach()}
