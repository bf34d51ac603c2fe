"""LSGAN α regularisation (seed 003, chapter 09): a fake target that rises during training.

Least squares GAN (Mao et al. 2017, arXiv:1611.04076) with targets a (fake), b (real), c (G's):

    L_D = ½ E(D(x) − b)² + ½ E(D(G(z)) − a)²,     L_G = ½ E(D(G(z)) − c)²        (batch means)

and the pointwise optimum D*(x) = (b·p_d + a·p_g)/(p_d + p_g) (:func:`gantut.losses.d_star_ls`). Seed 003 keeps
b = c = 1 and sets the fake target a = α(t), 0 at first and then ramped up to α_max (its Eq. 10, typeset as
D(G(z) − α)², means (D(G(z)) − α)²): at p_g = p_d the optimum is D* = (1 + α)/2 instead of ½.

* :class:`AlphaSchedule` — α(t) as an object (the step count t = G updates done), from
  :func:`gantut.losses.alpha_ramp`: linear, step or smooth-step from ``start`` over ``length`` steps.
* :class:`AlphaLSGANStep` — the GAN step with that loss; it also logs ``alpha`` every step.
* :func:`equilibrium_losses` — L_D and L_G when D = D* and p_g = p_d: ((1 − α)²/4, (1 − α)²/8). The loss
  *level* falls with α, so a smaller loss spread after the ramp is partly a change of scale (read
  :attr:`Oscillation.cv` beside :attr:`Oscillation.std`).
* :func:`oscillation` — the loss oscillation as numbers: windowed standard deviation, coefficient of
  variation and spike count of a loss series after a step (:func:`windows` cuts a series into windows).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .gan import GANStep
from .losses import LeastSquaresLoss, alpha_ramp

__all__ = ["AlphaSchedule", "AlphaLSGANStep", "equilibrium_losses", "Oscillation", "windows", "oscillation"]


@dataclass(frozen=True)
class AlphaSchedule:
    """α(t): 0 before ``start``, then ``kind`` ("linear", "smoothstep" or "step") up to ``alpha_max`` over
    ``length`` G steps, then constant (:func:`gantut.losses.alpha_ramp`). The start rule here is a fixed step;
    seed 003 starts "once G produces relatively good outputs" without saying how that was judged."""

    alpha_max: float
    start: int
    length: int
    kind: str = "linear"

    def __post_init__(self) -> None:
        alpha_ramp(0, self.start, self.length, self.alpha_max, self.kind)  # validates kind and length
        if not 0.0 <= self.alpha_max < 1.0:
            raise ValueError(f"alpha_max must be in [0, 1) (the fake target stays below the real one, b = 1); "
                             f"got {self.alpha_max}.")

    def __call__(self, t: int) -> float:
        return alpha_ramp(t, self.start, self.length, self.alpha_max, self.kind)


class AlphaLSGANStep(GANStep):
    """:class:`~gantut.gan.GANStep` with the LSGAN loss of fake target a = α(t), real and G targets b = c = 1.

    Only D's objective changes (its fake target); ``alpha`` joins the logs of every D update. The step count t
    is :attr:`g_updates`, checkpointed, so a resumed run continues the ramp where it stopped."""

    def __init__(self, G, D, opt_G, opt_D, z_dim, schedule: AlphaSchedule, *, b: float = 1.0, c: float = 1.0,
                 **kwargs) -> None:
        super().__init__(G, D, opt_G, opt_D, z_dim, loss=LeastSquaresLoss(a=schedule, b=b, c=c), **kwargs)
        self.schedule = schedule

    def d_objective(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, dict]:
        loss_D, logs = super().d_objective(real, fake)
        logs["alpha"] = torch.tensor(self.schedule(self.g_updates))
        return loss_D, logs


def equilibrium_losses(alpha: float, a0: float = 0.0, b: float = 1.0, c: float = 1.0) -> tuple[float, float]:
    """(L_D, L_G) at p_g = p_d with D = D* = (b + a)/2, a = a0 + α (a0 = 0: seed 003's a = α):
    L_D = ½((b − a)/2)² + ½((a − b)/2)² = (b − a)²/4 and L_G = ½(D* − c)². With a = α, b = c = 1:
    ((1 − α)²/4, (1 − α)²/8), i.e. 0.25 and 0.125 for the plain LSGAN."""
    a = a0 + alpha
    d_star = (a + b) / 2
    return (b - a) ** 2 / 4, 0.5 * (d_star - c) ** 2


@dataclass(frozen=True)
class Oscillation:
    """How much a loss series moves after step ``after``: in consecutive windows of ``window`` values, the mean of
    the windows' standard deviations (``std``), the same relative to the windows' means (``cv``, scale-free), and
    the number of ``spikes``: values above ``spike_factor`` × their window's median."""

    std: float
    cv: float
    spikes: int
    n: int
    window: int
    after: int
    spike_factor: float

    def __str__(self) -> str:
        return (f"windowed std {self.std:.4f}, cv {self.cv:.3f}, {self.spikes} spikes (> {self.spike_factor:g}x the "
                f"window median) over {self.n} steps after step {self.after} (windows of {self.window})")


def windows(values: Sequence[float], window: int) -> np.ndarray:
    """The values in consecutive windows of ``window``: a k×window array (a last partial window is dropped).
    Raises when fewer than one window's values are given."""
    v = np.asarray(values, dtype=np.float64)
    k = len(v) // int(window)
    if k < 1:
        raise ValueError(f"{len(v)} values: fewer than one window of {window}; train longer or use a smaller window.")
    return v[: k * window].reshape(k, int(window))


def oscillation(steps: Sequence[int], values: Sequence[float], after: int = 0, window: int = 100,
                spike_factor: float = 3.0) -> Oscillation:
    """:class:`Oscillation` of the values logged at ``steps`` > ``after``, in :func:`windows` of ``window`` values.
    Raises when fewer than one window's values are left."""
    s, v = np.asarray(steps), np.asarray(values, dtype=np.float64)
    w = windows(v[s > after], window)
    k = len(w)
    std, mean, med = w.std(axis=1, ddof=1), w.mean(axis=1), np.median(w, axis=1)
    return Oscillation(std=float(std.mean()), cv=float((std / np.abs(mean)).mean()),
                       spikes=int((w > spike_factor * med[:, None]).sum()), n=int(k * window), window=int(window),
                       after=int(after), spike_factor=float(spike_factor))
