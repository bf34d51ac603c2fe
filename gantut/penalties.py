"""Penalty objects: terms a GAN step adds to D's loss, each logging under its own key.

A penalty has ``every`` (apply it on every k-th D update, scaled by k: StyleGAN2's lazy
regularisation, Karras et al. 2020, arXiv:1912.04958) and ``__call__(D, real, fake) -> (term, logs)``
where ``term`` is what is added to D's loss and ``logs`` the scalars to record. The step keeps the
D-update count (checkpointed with it) and asks :meth:`Penalty.due`.

* :class:`GradientPenalty` — WGAN-GP, λ·E(‖∇D(x̂)‖₂ − 1)² (Gulrajani et al. 2017, arXiv:1704.00028);
  logs ``gp`` = E(‖∇D(x̂)‖₂ − 1)² without λ.
* :class:`R1` — (γ/2)·E‖∇D(x)‖² on real data (Mescheder et al. 2018, arXiv:1801.04406, Eq. 9);
  logs ``r1`` = the term added (γ/2 included, × ``every`` when lazy).

Later chapters add theirs (LFM's feature term, DLS's encoder loss) the same way.
"""
from __future__ import annotations


import torch
from torch import nn

from . import losses

__all__ = ["Penalty", "GradientPenalty", "R1"]


class Penalty:
    """Base class. ``every`` = k: applied on D updates k, 2k, 3k, ... and multiplied by k."""

    key = "penalty"

    def __init__(self, every: int = 1) -> None:
        if int(every) < 1:
            raise ValueError(f"a penalty's `every` is a number of D updates, >= 1; got {every}.")
        self.every = int(every)

    def due(self, d_updates: int) -> bool:
        """Whether the ``d_updates``-th D update (counting from 1) applies this penalty."""
        return d_updates % self.every == 0

    def __call__(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, dict]:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


class GradientPenalty(Penalty):
    """λ·E(‖∇D(x̂)‖₂ − 1)², x̂ on random lines between real and fake samples (λ = 10 in the paper)."""

    key = "gp"

    def __init__(self, lam: float = 10.0, every: int = 1) -> None:
        super().__init__(every)
        self.lam = float(lam)

    def __call__(self, D, real, fake):
        gp = losses.gradient_penalty(D, real, fake)
        return self.lam * gp * self.every, {self.key: gp.detach()}


class R1(Penalty):
    """(γ/2)·E_{p_data}‖∇_x D(x)‖² (γ/2 convention; LMescheder/GAN_stability's reg_param 10 is γ = 20 here)."""

    key = "r1"

    def __init__(self, gamma: float = 10.0, every: int = 1) -> None:
        super().__init__(every)
        self.gamma = float(gamma)

    def __call__(self, D, real, fake):
        term = losses.r1_penalty(D, real, self.gamma) * self.every
        return term, {self.key: term.detach()}
