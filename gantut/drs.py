"""Discriminator rejection sampling (Azadi et al. 2019, "Discriminator Rejection Sampling", arXiv:1810.06758).

A trained generator G is kept as it is; samples x ~ p_g are accepted or rejected so that the accepted
ones follow p_d more closely. If D̃*(x) = log p_d(x)/p_g(x) (the logit of the optimal discriminator)
and M = max_x p_d/p_g, exact rejection sampling accepts x with probability (p_d/p_g)/M = exp(D̃*(x) − D̃*_M).
The paper's Eq. 8 makes this usable:

    F̂(x) = D̃*(x) − D̃*_M − log(1 − exp(D̃*(x) − D̃*_M − ε)) − γ,      accept x with probability σ(F̂(x)).

* D̃* is the logit after **calibration**: D trained further with G frozen (:func:`calibrate`);
* D̃*_M is the max logit, estimated on a burn-in set and **updated online** when a larger logit appears;
* ε (1e-8 here, 1e-6 in the MH-GAN port) keeps the log finite at the max-logit sample;
* γ shifts F̂: the paper takes, per batch, a percentile of F (the 95th). It is a percentile on the
  **0-100 scale**: two public ports pass 0.80 / 0.60 to a 0-100 percentile function and get the
  0.8th / 0.6th percentile instead (docs/references.md, chapter 07); :func:`gamma_percentile` warns about it.

Identities (tests/test_drs.py): with γ = 0, σ(F) = e^Δ / (1 + e^Δ(1 − e^{−ε})) ≈ e^Δ with Δ = D̃* − D̃*_M;
the max-logit sample has F = −log(1 − e^{−ε}) ≈ −ln ε = 18.42 at ε = 1e-8, so it is accepted with
probability σ(18.42 − γ), not σ(−γ).

A WGAN critic is not a log density ratio. :func:`calibrate` then trains a **calibration head**: a
logistic regression on the frozen critic (``head="affine"``: D̃*(x) = a·D(x) + b; ``head="features"``:
a linear layer on the critic's last hidden features), fitted with the BCE loss on real vs generated
samples, so that its logit estimates log p_d/p_g within that family.
"""
from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from . import losses
from .nets import device_of
from .gan import generate
from .train import fit

__all__ = [
    "f_hat",
    "acceptance_probability",
    "gamma_percentile",
    "squashed_acceptance",
    "CalibratedLogit",
    "calibrate",
    "max_logit",
    "DRSResult",
    "DRS",
]


def f_hat(logits: torch.Tensor, D_M: float | torch.Tensor, epsilon: float = 1e-8,
          gamma: float | torch.Tensor = 0.0) -> torch.Tensor:
    """F̂(x) = Δ − log(1 − exp(Δ − ε)) − γ with Δ = D̃*(x) − D̃*_M (Azadi et al. 2019, Eq. 8).

    Computed in float64 with ``log(−expm1(Δ − ε))``, which is exact near Δ = 0. Δ must be ≤ 0
    (D̃*_M is the maximum logit): update D̃*_M before calling, as :class:`DRS` does.
    """
    delta = torch.as_tensor(logits, dtype=torch.float64) - torch.as_tensor(D_M, dtype=torch.float64)
    if (delta > 0).any():
        raise ValueError(
            f"a logit exceeds D_M by {delta.max().item():.4g}: D_M must be the maximum logit. "
            "Update it first (D_M = max(D_M, logits.max())).")
    return delta - torch.log(-torch.expm1(delta - epsilon)) - torch.as_tensor(gamma, dtype=torch.float64)


def acceptance_probability(logits: torch.Tensor, D_M: float | torch.Tensor, epsilon: float = 1e-8,
                           gamma: float | torch.Tensor = 0.0) -> torch.Tensor:
    """p_accept(x) = σ(F̂(x)) (Eq. 8), float64."""
    return torch.sigmoid(f_hat(logits, D_M, epsilon, gamma))


def gamma_percentile(F_values: torch.Tensor, q: float = 95.0) -> torch.Tensor:
    """γ = the q-th percentile of F, with q on the **0-100 scale** (the paper: 95).

    Warns when 0 < q ≤ 1: that is the public ports' bug (0.80 meant as the 80th percentile).
    """
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q is a percentile on the 0-100 scale, got {q}; the paper uses 95.")
    if 0.0 < q <= 1.0:
        warnings.warn(f"gamma percentile q={q} is on the 0-100 scale, so this is the {q}th percentile, almost "
                      f"the minimum. If you meant the {100 * q:g}th, pass q={100 * q:g} (the bug of two public "
                      "DRS ports).", stacklevel=2)
    return torch.quantile(torch.as_tensor(F_values, dtype=torch.float64), q / 100.0)


def squashed_acceptance(logits: torch.Tensor) -> torch.Tensor:
    """Seed 002's rule: accept with D's output squashed to [0, 1], σ(D̃(x)). Not Eq. 8: shown for comparison."""
    return torch.sigmoid(torch.as_tensor(logits, dtype=torch.float64))


# --- calibration -----------------------------------------------------------------------------------


class CalibratedLogit(nn.Module):
    """D̃*(x): a discriminator (fine-tuned) or a frozen critic with a logistic-regression head.

    ``head=None``: the logit is D(x) itself. ``"affine"``: a·D(x) + b. ``"features"``: w·φ(x) + b with
    φ = ``D.features`` (the last hidden layer of gantut's MLP / DCGAN discriminators).
    """

    def __init__(self, D: nn.Module, head: str | None = None, input_shape: tuple[int, ...] | None = None) -> None:
        super().__init__()
        if head not in (None, "affine", "features"):
            raise ValueError(f"head must be None, 'affine' or 'features', got {head!r}.")
        if head == "features" and not hasattr(D, "features"):
            raise ValueError(f"{type(D).__name__} has no .features(x); use head='affine'.")
        self.D, self.head_kind = D, head
        if head == "affine":
            self.head = nn.Linear(1, 1)
            nn.init.ones_(self.head.weight)
            nn.init.zeros_(self.head.bias)
        elif head == "features":
            d = _feature_dim(D, input_shape or _input_shape(D))
            self.head = nn.Linear(d, 1)
        else:
            self.head = None
        if self.head is not None:  # initialised on the CPU (the same numbers on every machine), then moved to D
            self.head.to(device_of(D))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.head is None:
            return self.D(x).reshape(-1)
        if self.head_kind == "affine":
            return self.head(self.D(x).reshape(-1, 1)).reshape(-1)
        return self.head(self.D.features(x)).reshape(-1)


def _feature_dim(D: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Width of ``D.features``: one probe of two zero inputs **on D's device**, in eval mode (so the probe does
    not update BatchNorm's running statistics), D's mode restored afterwards."""
    was_training = D.training
    D.eval()
    try:
        with torch.no_grad():
            return int(D.features(torch.zeros(2, *input_shape, device=device_of(D))).shape[1])
    finally:
        D.train(was_training)


def _input_shape(D: nn.Module) -> tuple[int, ...]:
    """D's input shape: its ``channels`` × ``img_size``² (gantut's DCGAN nets, any size), or an MLP's width."""
    if hasattr(D, "img_size") and hasattr(D, "channels"):
        return (int(D.channels), int(D.img_size), int(D.img_size))
    first = next(m for m in D.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))
    if isinstance(first, nn.Linear):
        return (first.in_features,)
    raise ValueError(f"cannot tell the image size {type(D).__name__} takes; pass input_shape=(C, H, W).")


def calibrate(D: nn.Module, G: nn.Module, data, z_dim: int, steps: int, *, head: str | None = None,
              lr: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999), eval_mode: bool = True,
              progress: bool | None = None) -> tuple[CalibratedLogit, list[float]]:
    """Keep training D with G frozen (the paper's "further training"), or fit a head on a frozen critic.

    Minimises the BCE loss :func:`gantut.losses.d_loss_minimax` on real batches (``data.next()``) vs
    fresh G(z) for ``steps`` steps. ``head=None`` fine-tunes a **copy** of D; ``"affine"`` / ``"features"``
    freeze D and train only the head (the WGAN case). G is in eval mode throughout; with ``eval_mode``
    D's dropout is off during calibration too, as it is when DRS scores samples. Returns the
    calibrated logit module (eval mode) and the BCE loss per step. Trains through :func:`gantut.fit`
    (progress bar, NaN guard).
    """
    D = copy.deepcopy(D)
    model = CalibratedLogit(D, head)
    if head is not None:
        for p in D.parameters():
            p.requires_grad_(False)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr, betas=betas)
    dev = next(G.parameters()).device
    model.to(dev).train(not eval_mode)
    was_training = G.training
    G.eval()
    try:
        history = fit(CalibrationStep(model, G, opt, z_dim), data, steps, state={"logit": model, "opt": opt},
                      desc="calibrating D", progress=progress, log_every=max(1, min(25, steps)))
    finally:
        G.train(was_training)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, list(history["loss"]) if "loss" in history else []


class CalibrationStep:
    """One calibration update for :func:`gantut.fit`: the BCE loss of D̃* on a real batch vs fresh G(z)."""

    def __init__(self, model: CalibratedLogit, G: nn.Module, opt: torch.optim.Optimizer, z_dim: int) -> None:
        self.model, self.G, self.opt, self.z_dim = model, G, opt, z_dim

    def __call__(self, real) -> dict[str, torch.Tensor]:
        real = real[0] if isinstance(real, (tuple, list)) else real
        with torch.no_grad():
            fake = self.G(torch.randn(len(real), self.z_dim, device=real.device))
        loss = losses.d_loss_minimax(self.model(real), self.model(fake))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.detach()}


# --- sampling --------------------------------------------------------------------------------------


@torch.no_grad()
def _logits(logit_fn: Callable, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    return torch.cat([logit_fn(x[i:i + batch_size]).reshape(-1).double().cpu()
                      for i in range(0, len(x), batch_size)])


@torch.no_grad()
def max_logit(G: nn.Module, logit_fn: Callable, z_dim: int, n: int = 10000, batch_size: int = 1000,
              generator: torch.Generator | None = None) -> float:
    """Burn-in: D̃*_M = the largest logit over ``n`` samples of G (the paper: 50k; MH-GAN port: ~10k)."""
    x = generate(G, n, z_dim, batch_size=batch_size, generator=generator)
    return float(_logits(logit_fn, x.to(next(G.parameters()).device), batch_size).max())


@dataclass
class DRSResult:
    """What :meth:`DRS.sample` returns: accepted samples, the counts, and the logs to plot."""

    accepted: torch.Tensor
    n_drawn: int
    D_M_start: float
    D_M_end: float
    rejected: torch.Tensor | None = None  # the first rejected samples (up to ``keep_rejected``)
    p_accept: torch.Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.float64))
    gammas: list[float] = field(default_factory=list)

    @property
    def acceptance_rate(self) -> float:
        return len(self.accepted) / max(self.n_drawn, 1)

    def __str__(self) -> str:
        s = f"DRS: {len(self.accepted):,} accepted of {self.n_drawn:,} drawn ({100 * self.acceptance_rate:.1f} %)"
        if math.isnan(self.D_M_start) and math.isnan(self.D_M_end):  # the squashed rule keeps no D_M
            return s
        return s + f", D_M {self.D_M_start:.3f} -> {self.D_M_end:.3f}"


class DRS:
    """Discriminator rejection sampler (Azadi et al. 2019, Algorithm 1 with Eq. 8).

    Parameters
    ----------
    G : the trained generator (used in eval mode).
    logit_fn : x -> D̃*(x), e.g. the module returned by :func:`calibrate`.
    z_dim : latent size.
    epsilon : ε of Eq. 8 (1e-8 as in shinseung428/DRS_Tensorflow).
    gamma_q : γ = the ``gamma_q``-th percentile (0-100 scale) of F in each batch; ``None`` gives γ = 0
        (exact rejection sampling, p = e^Δ); a float ``gamma`` fixes γ instead.
    burn_in : samples used to estimate D̃*_M before sampling.
    rule : ``"eq8"`` (the paper) or ``"squashed"``: seed 002's rule, accept with σ(D̃(x)) (for comparison).
    """

    def __init__(self, G: nn.Module, logit_fn: Callable, z_dim: int, *, epsilon: float = 1e-8,
                 gamma_q: float | None = 95.0, gamma: float | None = None, burn_in: int = 10000,
                 batch_size: int = 1000, rule: str = "eq8") -> None:
        if rule not in ("eq8", "squashed"):
            raise ValueError(f"rule is 'eq8' (Azadi et al. Eq. 8) or 'squashed' (σ(D̃)), got {rule!r}.")
        self.rule = rule
        if gamma is not None and gamma_q is not None:
            raise ValueError("give either gamma_q (a percentile of F per batch) or a fixed gamma, not both; "
                             "set gamma_q=None to fix gamma.")
        self.G, self.logit_fn, self.z_dim = G, logit_fn, z_dim
        self.epsilon, self.gamma_q, self.gamma = epsilon, gamma_q, gamma
        self.burn_in, self.batch_size = burn_in, batch_size
        self.D_M: float | None = None

    def estimate_max(self, generator: torch.Generator | None = None) -> float:
        self.D_M = max_logit(self.G, self.logit_fn, self.z_dim, self.burn_in, self.batch_size, generator)
        return self.D_M

    @torch.no_grad()
    def accept_probs(self, logits: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Update D̃*_M online with this batch, then p = σ(F̂) for every logit; returns (p, γ)."""
        logits = logits.double()
        if self.rule == "squashed":
            return squashed_acceptance(logits), 0.0
        self.D_M = max(self.D_M if self.D_M is not None else -math.inf, float(logits.max()))
        F0 = f_hat(logits, self.D_M, self.epsilon, 0.0)
        if self.gamma_q is not None:
            gamma = float(gamma_percentile(F0, self.gamma_q))
        else:
            gamma = float(self.gamma or 0.0)
        return torch.sigmoid(F0 - gamma), gamma

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, max_draws: int | None = None,
               keep_rejected: int = 64) -> DRSResult:
        """Draw batches from G until ``n`` samples are accepted (or ``max_draws`` drawn; default 100·n)."""
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        if self.D_M is None and self.rule == "eq8":
            self.estimate_max(generator)
        start_M = float(self.D_M) if self.D_M is not None else math.nan
        max_draws = max_draws or 100 * n
        dev = next(self.G.parameters()).device
        accepted, rejected, probs, gammas, drawn = [], [], [], [], 0
        n_acc, n_rej = 0, 0
        while n_acc < n:
            if drawn >= max_draws:
                raise RuntimeError(
                    f"DRS accepted only {n_acc} of {drawn} samples (max_draws={max_draws}). The acceptance rate is "
                    "too low: lower gamma_q, or calibrate D less (an over-confident D rejects almost everything).")
            x = generate(self.G, self.batch_size, self.z_dim, batch_size=self.batch_size, generator=generator)
            p, gamma = self.accept_probs(_logits(self.logit_fn, x.to(dev), self.batch_size))
            keep = torch.rand(len(p), generator=generator, dtype=torch.float64) < p
            drawn += len(x)
            probs.append(p)
            gammas.append(gamma)
            accepted.append(x[keep])
            n_acc += int(keep.sum())
            if n_rej < keep_rejected:
                rejected.append(x[~keep][: keep_rejected - n_rej])
                n_rej += len(rejected[-1])
        acc = torch.cat(accepted)
        # count draws up to the n-th acceptance in the last batch
        extra = n_acc - n
        if extra:
            last_keep_idx = torch.nonzero(keep).reshape(-1)
            drawn -= len(x) - 1 - int(last_keep_idx[len(last_keep_idx) - 1 - extra])
        return DRSResult(acc[:n], drawn, start_M, float(self.D_M) if self.D_M is not None else math.nan,
                         torch.cat(rejected) if rejected else None, torch.cat(probs), gammas)
