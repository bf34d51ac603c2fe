"""MD-GAN (Eghbal-zadeh et al. 2019, "Mixture Density Generative Adversarial Networks", arXiv:1811.00152).

The discriminator maps a sample to an **embedding** e = D(x) ∈ R^d instead of a logit. Real
embeddings are pulled towards a Gaussian mixture whose d+1 means sit on the vertices of a regular
simplex:

    L(e) = Σ_{k=1}^{d+1} (1/(d+1)) · N(e; μ_k, σ² I),          (the mixture likelihood)

and λ = max_e L(e). With ε = 1e-8 (inside the logs, as in the paper's code):

    L_D = −mean[ log(ε + L(D(x))) + log(ε + λ − L(D(G(z)))) ]
    L_G =  mean[ log(ε + λ − L(D(G(z)))) ]                      (saturating, minimised by G)

D pushes real embeddings onto the mixture (L large) and fake ones away from it (λ − L large);
G pushes fake embeddings towards where L = λ.

The simplex here is a **unit** simplex: every vertex has norm 1 and all pairs are equally far
apart, ‖μ_i − μ_j‖ = √(2(d+1)/d). The reference code (eghbalz/mdgan, haihabi/MD-GAN) takes the
square root inside the loop that accumulates the squared norm, so it divides by the wrong number
(d = 9: vertex norm 0.9436 instead of 1). :func:`simplex_vertices` reproduces that with
``reference_bug=True`` so the two can be compared; λ is computed numerically by
:func:`mixture_max` for either.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from . import nets
from .gan import AdversarialStep

__all__ = [
    "EPS",
    "simplex_vertices",
    "mixture_likelihood",
    "mixture_log_likelihood",
    "mixture_max",
    "SimplexMixture",
    "d_loss_mdgan",
    "g_loss_mdgan",
    "g_loss_mdgan_nonsaturating",
    "MDGANStep",
    "ScaledSigmoid",
    "Scale",
    "mdgan2d_G",
    "mdgan2d_D",
]

EPS = 1e-8


def simplex_vertices(d: int, reference_bug: bool = False, dtype=torch.float64) -> torch.Tensor:
    """The d+1 vertices of a regular simplex centred on 0 in R^d, as a (d+1)×d tensor (one row each).

    Construction (as in the reference code): the d×(d+1) matrix [I_d | a·1] with
    a = (1 − √(1+d))/d has d+1 equidistant columns; subtracting their mean centres them on 0;
    dividing by their (common) norm makes them unit vectors.

    ``reference_bug=True`` divides instead by the number the reference code computes: the square
    root is taken inside the accumulation, s ← √(s + x_i²), which is not the norm
    (d = 9 gives vertices of norm 0.9436 and pairwise distance 1.4066 instead of 1 and 1.4907).
    """
    if d < 1:
        raise ValueError(f"the embedding dimension d must be >= 1, got {d}; MD-GAN uses d = 9.")
    a = (1.0 - math.sqrt(1.0 + d)) / d
    M = torch.cat([torch.eye(d, dtype=dtype), torch.full((d, 1), a, dtype=dtype)], dim=1)  # d×(d+1)
    M = M - M.mean(dim=1, keepdim=True)
    if reference_bug:
        s = torch.zeros((), dtype=dtype)
        for x in M[:, 0]:
            s = torch.sqrt(s + x ** 2)
        norm = s
    else:
        norm = M[:, 0].norm()
    return (M / norm).T.contiguous()


def mixture_likelihood(e: torch.Tensor, mu: torch.Tensor, sigma2: float = 0.25) -> torch.Tensor:
    """L(e) = Σ_k (1/K) N(e; μ_k, σ² I) for each row of e (N×d) -> N values; K = len(mu).

    N(e; μ, σ²I) = (2πσ²)^(−d/2) exp(−‖e − μ‖² / (2σ²)), computed as a log-sum-exp for stability.
    """
    return torch.exp(mixture_log_likelihood(e, mu, sigma2))


def mixture_log_likelihood(e: torch.Tensor, mu: torch.Tensor, sigma2: float = 0.25) -> torch.Tensor:
    """log L(e) by log-sum-exp: finite (≈ −‖e − μ_nearest‖²/2σ²) even where L itself underflows to 0."""
    if e.dim() != 2 or e.shape[1] != mu.shape[1]:
        raise ValueError(f"embeddings must be N×{mu.shape[1]} (one per sample), got shape {tuple(e.shape)}; "
                         "give D out_dim equal to the simplex dimension d.")
    mu = mu.to(e)
    d, K = mu.shape[1], mu.shape[0]
    sq = torch.cdist(e, mu).pow(2) if e.shape[0] else e.new_zeros(0, K)
    log_n = -0.5 * d * math.log(2 * math.pi * sigma2) - sq / (2 * sigma2)
    return torch.logsumexp(log_n, dim=1) - math.log(K)


def mixture_max(mu: torch.Tensor, sigma2: float = 0.25, starts: int = 64, iters: int = 200,
                generator: torch.Generator | None = None) -> tuple[float, torch.Tensor]:
    """λ = max_e L(e), found numerically: gradient ascent on log L from the centroid, every vertex
    and ``starts`` random points (float64, L-BFGS); returns (λ, argmax e*).

    A mixture's maximum lies in the convex hull of its means, so the starts cover it. With
    σ² = 0.25 and d = 9 the maximum is at the centroid: 0.017737 for the unit
    simplex, 0.022087 for the reference code's.
    """
    mu = mu.detach().to(torch.float64)
    K, d = mu.shape
    g = generator or torch.Generator().manual_seed(0)
    w = torch.rand(starts, K, generator=g, dtype=torch.float64)
    inits = torch.cat([mu.mean(0, keepdim=True), mu, (w / w.sum(1, keepdim=True)) @ mu])
    e = inits.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([e], lr=1, max_iter=iters, tolerance_grad=1e-12, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = -torch.log(mixture_likelihood(e, mu, sigma2)).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        values = mixture_likelihood(torch.cat([e, inits]), mu, sigma2)
        best = int(values.argmax())
        return float(values[best]), torch.cat([e, inits])[best].detach().clone()


class SimplexMixture:
    """The fixed target of MD-GAN: d+1 simplex means, σ², and λ = max L (computed once)."""

    def __init__(self, d: int = 9, sigma2: float = 0.25, reference_bug: bool = False) -> None:
        self.d, self.sigma2, self.reference_bug = d, sigma2, reference_bug
        self.mu = simplex_vertices(d, reference_bug)
        self.lam, self.argmax = mixture_max(self.mu, sigma2)

    def likelihood(self, e: torch.Tensor) -> torch.Tensor:
        return mixture_likelihood(e, self.mu.to(e), self.sigma2)

    def __repr__(self) -> str:
        return (f"SimplexMixture(d={self.d}, sigma2={self.sigma2}, {'reference-bug' if self.reference_bug else 'unit'}"
                f" simplex, lambda={self.lam:.6f})")


def d_loss_mdgan(L_real: torch.Tensor, L_fake: torch.Tensor, lam: float, eps: float = EPS) -> torch.Tensor:
    """L_D = −mean[log(ε + L(D(x))) + log(ε + λ − L(D(G(z))))] (both terms averaged over the batch).

    λ − L is clamped at 0 (float round-off can make L exceed the numerically found λ by ~1e-9)."""
    return -(torch.log(eps + L_real).mean() + torch.log(eps + (lam - L_fake).clamp_min(0)).mean())


def g_loss_mdgan(L_fake: torch.Tensor, lam: float, eps: float = EPS) -> torch.Tensor:
    """L_G = mean[log(ε + λ − L(D(G(z))))], minimised by G (the saturating form of the paper)."""
    return torch.log(eps + (lam - L_fake).clamp_min(0)).mean()


def g_loss_mdgan_nonsaturating(logL_fake: torch.Tensor) -> torch.Tensor:
    """A non-saturating alternative (not the paper's): L_G = −mean log L(D(G(z))), from log-likelihoods.

    The paper's L_G = log(ε + λ − L) has gradient −∇L/(ε + λ − L) ≈ −∇L/λ, and ∇L = L·∇log L vanishes in the
    mixture's tails (L ≈ 0): G stops learning once D has pushed its embeddings away (the seed's "vanishing
    gradients"). ∇(−log L) stays of the order of the distance to the nearest mean there — the same change as
    the non-saturating loss of the original GAN."""
    return -logL_fake.mean()


class MDGANStep(AdversarialStep):
    """One MD-GAN iteration: the base D update with the mixture likelihood loss, then a G update.

    D must return N×d embeddings (d = ``mixture.d``). The returned scalars are ``loss_D``,
    ``loss_G``, and ``L_real`` / ``L_fake`` / ``lam`` (mean likelihoods of the real batch and of G's
    batch, and λ), so the curves show real embeddings climbing to λ while fakes are pushed down.
    ``g_loss="saturating"`` is the paper's G loss; ``"nonsaturating"`` uses
    :func:`g_loss_mdgan_nonsaturating` (a gantut variant, not in the paper). ``prior``: the latent
    (an int z_dim: N(0, I); the paper's 2D runs use :class:`gantut.priors.UniformPrior`).
    """

    def __init__(self, G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer,
                 z_dim, mixture: SimplexMixture | None = None, eps: float = EPS,
                 g_loss: str = "saturating", penalties=()) -> None:
        if g_loss not in ("saturating", "nonsaturating"):
            raise ValueError(f"g_loss must be 'saturating' (the paper's) or 'nonsaturating', got {g_loss!r}.")
        super().__init__(G, D, opt_G, opt_D, z_dim, penalties=penalties)
        self.mixture = mixture or SimplexMixture()
        self.eps, self.g_loss_kind = eps, g_loss

    def _logL(self, x: torch.Tensor) -> torch.Tensor:
        e = self.D(x)
        if e.shape[1] != self.mixture.d:
            raise ValueError(f"D returns {e.shape[1]}-d outputs but the simplex mixture has d={self.mixture.d}; "
                             f"build D with out_dim={self.mixture.d}.")
        return mixture_log_likelihood(e, self.mixture.mu.to(e), self.mixture.sigma2)

    def _L(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(self._logL(x))

    def d_objective(self, real, fake):
        L_real, L_fake = self._L(real), self._L(fake)
        loss_D = d_loss_mdgan(L_real, L_fake, self.mixture.lam, self.eps)
        return loss_D, {"loss_D": loss_D.detach(), "L_real": L_real.mean().detach(), "lam": self.mixture.lam}

    def g_objective(self, z, real):
        logL_g = self._logL(self.G(z))
        L_g = torch.exp(logL_g)
        if self.g_loss_kind == "saturating":
            loss_G = g_loss_mdgan(L_g, self.mixture.lam, self.eps)
        else:
            loss_G = g_loss_mdgan_nonsaturating(logL_g)
        return loss_G, {"loss_G": loss_G.detach(), "L_fake": L_g.mean().detach()}


# --- the 2D nets of the paper's code (its "2D setup") ------------------------------------------


class ScaledSigmoid(nn.Module):
    """x ↦ a·σ(x) + b; the 2D MD-GAN discriminator ends in 5σ − 2.5 (embeddings in (−2.5, 2.5))."""

    def __init__(self, a: float = 5.0, b: float = -2.5) -> None:
        super().__init__()
        self.a, self.b = a, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a * torch.sigmoid(x) + self.b


class Scale(nn.Module):
    """x ↦ c·x (the 2D generator's 6·tanh output)."""

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c * x


def mdgan2d_G(z_dim: int = 2, hidden: int = 128, depth: int = 2, out_scale: float = 6.0) -> nn.Sequential:
    """The paper's 2D generator: u ~ U[−1,1]^z_dim → depth × hidden ReLU → out_scale·tanh.
    Feed it :class:`gantut.priors.UniformPrior` latents (``MDGANStep(..., UniformPrior(2))``)."""
    G = nn.Sequential(nets.mlp2d_G(z_dim, hidden, depth, act="relu", out_act="tanh"), Scale(out_scale))
    G.z_dim = z_dim
    return G


def mdgan2d_D(d: int = 9, hidden: int = 128, depth: int = 2, squash: bool = True) -> nn.Sequential:
    """The paper's 2D discriminator: 2 → depth × hidden LeakyReLU 0.2 → d, then 5σ − 2.5."""
    return nn.Sequential(nets.mlp2d_D(hidden, depth, act="leaky_relu", out_dim=d),
                         ScaledSigmoid() if squash else nn.Identity())
