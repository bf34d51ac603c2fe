"""Latent feature maximization (LFM) on limited data, seed 000 (Wang; code: github.com/penway/LFM).

DCGAN on a few hundred images memorises them and then collapses. LFM adds three things:

* **Orthogonal latent pairs** (Algorithm 1), :class:`OrthogonalPairPrior`: draw n₁, n₂ ~ N(0, I_d), set the
  last element of n₂ so that the pair is orthogonal,

      n₂[d−1] = −(Σ_{j<d−1} n₁[j]·n₂[j]) / n₁[d−1]      ⇒  n₁·n₂ = 0,

  and **reject** the pair when |n₂[d−1]| > T. A batch of B holds B/2 pairs: z⁺ᵢ at row i, z⁻ᵢ at row i + B/2.
  The reference code uses T = 1.5, 1.2 or 1 depending on the file; the older variant uses antipodal pairs
  (z, −z), ``antipodal=True``. Acceptance is low (about 10 % at T = 1.5 for d = 100), and the accepted pairs
  are not N(0, I) in their last coordinates: the rejection keeps small |n₂[d−1]|, i.e. large |n₁[d−1]|.
* **A feature head** on D's trunk, :class:`FeatureHeadD`: beside the real/fake classifier, a conv to
  f(x) ∈ (−1, 1)^d (tanh; d = z_dim in the seed).
* **The LFM term** R = E[f(G(z⁺ᵢ)) · f(G(z⁻ᵢ))], the mean dot product of the pairs' features
  (:func:`pair_dot`), added to both players (:class:`LFMTerm`):

  - ``form="adversarial"`` — the paper's Eq. 4: max_D V_D + λ_D R and min_G V_G + λ_G R. As losses:
    L_D = BCE_D − λ_D R (D pulls the features of a pair together) and L_G = BCE_G + λ_G R (G pushes the
    images of orthogonal latents apart in D's feature space: a diversity pressure).
  - ``form="cooperative"`` — what penway/LFM's ``src/LFMz.py`` computes: through a double negation both
    players *minimise* |R|/2, each with weight 1 beside its BCE. gantut writes it L = BCE + λ|R|, so the code
    is λ_D = λ_G = 0.5 (its overall factor ½ on each loss changes nothing under Adam).

Section 4.3's ablation, LFM on G only without a trainable head, is ``FeatureHeadD(..., trainable=False)``
with λ_D = 0: the head stays at its random initialisation and only G's loss carries the term.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from .gan import GANStep
from .nets import DCGANDiscriminator, SecondHeadD
from .penalties import Penalty
from .priors import Prior

__all__ = ["OrthogonalPairPrior", "orthogonal_pairs", "FeatureHeadD", "pair_dot", "LFMTerm", "LFMStep", "FORMS"]

FORMS = ("adversarial", "cooperative")


def orthogonal_pairs(m: int, z_dim: int, T: float | None = 1.5, *, device: torch.device | str | None = None,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Algorithm 1: ``m`` accepted pairs (n₁, n₂), each m × z_dim with n₁ᵢ·n₂ᵢ = 0, and the number of
    candidate pairs drawn. ``T=None`` accepts every pair. Candidates are drawn in blocks (global RNG on
    ``device``, or ``generator`` on the CPU), so the result depends only on the random stream."""
    if z_dim < 2:
        raise ValueError(f"orthogonal pairs need z_dim >= 2 (one coordinate is solved for), got {z_dim}.")
    got1, got2, drawn = [], [], 0
    have = 0
    while have < m:
        k = max(16, 12 * (m - have))  # about 10 % are accepted at T = 1.5, d = 100
        if generator is not None:
            n1, n2 = torch.randn(2, k, z_dim, generator=generator).to(device or "cpu")
        else:
            n1, n2 = torch.randn(2, k, z_dim, device=device)
        n2[:, -1] = -(n1[:, :-1] * n2[:, :-1]).sum(1) / n1[:, -1]
        keep = torch.ones(k, dtype=torch.bool, device=n1.device) if T is None else n2[:, -1].abs() <= T
        keep &= torch.isfinite(n2[:, -1])
        idx = torch.nonzero(keep).flatten()[: m - have]
        # candidates after the last one needed count as not drawn, so the acceptance rate is unbiased
        drawn += k if len(idx) < m - have else int(idx[-1]) + 1
        got1.append(n1[idx])
        got2.append(n2[idx])
        have += len(idx)
    return torch.cat(got1), torch.cat(got2), drawn


class OrthogonalPairPrior(Prior):
    """Latents in orthogonal pairs (Algorithm 1): a batch of n (even) holds z⁺ᵢ at row i and z⁻ᵢ at row
    i + n/2, with z⁺ᵢ·z⁻ᵢ = 0 and |z⁻ᵢ[d−1]| <= T. ``antipodal=True``: z⁻ᵢ = −z⁺ᵢ (the older code; no
    rejection). ``drawn`` and ``accepted`` count candidate pairs; :attr:`acceptance` is their ratio.
    Only training draws from it: every evaluation of the collection samples z ~ N(0, I)."""

    def __init__(self, z_dim: int, T: float | None = 1.5, antipodal: bool = False) -> None:
        super().__init__(z_dim)
        if T is not None and T <= 0:
            raise ValueError(f"the rejection threshold T must be positive (or None for no rejection), got {T}.")
        self.T, self.antipodal = T, bool(antipodal)
        self.drawn = self.accepted = 0

    def sample(self, n: int, device: torch.device | str | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        if n % 2:
            raise ValueError(f"LFM draws latents in pairs (rows i and i + n/2); the batch size must be even, got {n}.")
        m = n // 2
        if self.antipodal:
            z1 = self.normal(m, device, generator)
            z2, drawn = -z1, m
        else:
            z1, z2, drawn = orthogonal_pairs(m, self.z_dim, self.T, device=device, generator=generator)
        self.drawn += drawn
        self.accepted += m
        return torch.cat([z1, z2])

    @property
    def acceptance(self) -> float:
        """Accepted / drawn candidate pairs so far (nan before the first draw)."""
        return self.accepted / self.drawn if self.drawn else float("nan")

    def state_dict(self) -> dict[str, Any]:
        return {"drawn": self.drawn, "accepted": self.accepted}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.drawn, self.accepted = int(state.get("drawn", 0)), int(state.get("accepted", 0))

    def __repr__(self) -> str:
        return f"OrthogonalPairPrior(z_dim={self.z_dim}, T={self.T}, antipodal={self.antipodal})"


class FeatureHeadD(SecondHeadD):
    """A DCGAN discriminator with seed 000's second head: ``forward(x)`` is the real/fake logit and :meth:`features`
    is f(x) = tanh(conv(trunk(x))) ∈ (−1, 1)^d, a conv over the whole last map (s₀×s₀) to ``feature_dim`` channels
    (:class:`gantut.nets.SecondHeadD`). ``trainable=False`` freezes the head at its initialisation (Section 4.3's
    ablation)."""

    def __init__(self, D: DCGANDiscriminator, feature_dim: int = 100, trainable: bool = True) -> None:
        super().__init__(D, feature_dim, trainable)

    def second(self, y: torch.Tensor) -> torch.Tensor:
        return torch.tanh(y)

    def logit_and_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both heads on one pass of the trunk: (N×1 logits, N×feature_dim features)."""
        return self.both(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.both(x)[1]


def pair_dot(f: torch.Tensor) -> torch.Tensor:
    """R = (2/B) Σ_{i<B/2} f_i · f_{i+B/2}: the mean dot product of the pairs' features (rows i and i + B/2 of
    a B × d batch), the seed's R_LFM = E[f⁺·f⁻]. In (−d, d) for tanh features."""
    if f.dim() != 2 or len(f) % 2:
        raise ValueError(f"pair_dot takes a B×d batch with B even (pairs at rows i and i + B/2), got {tuple(f.shape)}.")
    h = len(f) // 2
    return (f[:h] * f[h:]).sum(1).mean()


class LFMTerm(Penalty):
    """The LFM term as a penalty on D's loss, and :meth:`g_term` for G's.

    ``form="adversarial"`` (Eq. 4): D's loss gets −λ_D·R, G's +λ_G·R.
    ``form="cooperative"`` (the reference code): D's loss gets +λ_D·|R|, G's +λ_G·|R|.
    Logs ``R`` (the pairs' mean feature dot on D's fakes, before λ)."""

    key = "lfm"

    def __init__(self, lam_D: float = 0.5, lam_G: float = 0.5, form: str = "adversarial") -> None:
        super().__init__(1)
        if form not in FORMS:
            raise ValueError(f"LFM form must be one of {FORMS}, got {form!r}.")
        self.lam_D, self.lam_G, self.form = float(lam_D), float(lam_G), form

    def value(self, R: torch.Tensor) -> torch.Tensor:
        """What G minimises: R (adversarial) or |R| (cooperative)."""
        return R if self.form == "adversarial" else R.abs()

    def d_term(self, R: torch.Tensor) -> torch.Tensor:
        sign = -1.0 if self.form == "adversarial" else 1.0  # adversarial: D maximises R
        return sign * self.lam_D * self.value(R)

    def g_term(self, R: torch.Tensor) -> torch.Tensor:
        return self.lam_G * self.value(R)

    def __call__(self, D: FeatureHeadD, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, dict]:
        R = pair_dot(D.features(fake))
        return self.d_term(R), {"R": R.detach()}


class LFMStep(GANStep):
    """DCGAN-LFM: the GAN step with an :class:`OrthogonalPairPrior`, a :class:`FeatureHeadD` and an
    :class:`LFMTerm` (D's side is a penalty; G's side is this override of :meth:`g_objective`).
    ``loss_G`` logs the adversarial part only, ``R_G`` the pair dot on G's batch."""

    def __init__(self, G: nn.Module, D: FeatureHeadD, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer,
                 prior: OrthogonalPairPrior, lfm: LFMTerm, **kw: Any) -> None:
        if not isinstance(D, FeatureHeadD):
            raise TypeError(f"LFMStep needs D with a feature head (gantut.lfm.FeatureHeadD), got {type(D).__name__}.")
        pens = [lfm] if lfm.lam_D else []
        super().__init__(G, D, opt_G, opt_D, prior, penalties=pens + list(kw.pop("penalties", ())), **kw)
        self.lfm = lfm

    def g_objective(self, z: torch.Tensor, real: torch.Tensor | None) -> tuple[torch.Tensor, dict]:
        logit, f = self.D.logit_and_features(self.G(z))
        loss_G = self.loss_fn.g_loss(logit, self.g_updates)
        R = pair_dot(f)
        return loss_G + self.lfm.g_term(R), {"loss_G": loss_G.detach(), "R_G": R.detach()}
