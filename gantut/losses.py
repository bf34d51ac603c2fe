"""Adversarial losses, penalties and schedules: pure functions of tensors.

Every loss takes the discriminator's **raw outputs** (logits D̃ for minimax / non-saturating /
least squares, scores for WGAN / hinge), of any shape (``N``, ``N×1``...), and returns a 0-d
tensor: a **mean** over the batch. Symbols: D̃ = logit, σ = sigmoid,
x = real, x̃ = G(z) fake.

The identities used for numerical stability:  log σ(t) = −softplus(−t),  log(1 − σ(t)) = −softplus(t).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "d_loss_minimax",
    "g_loss_saturating",
    "g_loss_nonsaturating",
    "g_loss_nonsat",
    "d_loss_wgan",
    "g_loss_wgan",
    "clip_weights",
    "d_loss_hinge",
    "g_loss_hinge",
    "d_loss_ls",
    "g_loss_ls",
    "d_star_ls",
    "gradient_penalty",
    "r1_penalty",
    "alpha_ramp",
    "AdversarialLoss",
    "LeastSquaresLoss",
    "LOSSES",
    "get_loss",
]


# --- minimax / non-saturating (Goodfellow et al. 2014, arXiv:1406.2661) --------------------


def d_loss_minimax(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """L_D = −E log σ(D̃(x)) − E log(1 − σ(D̃(G(z)))), computed as
    E softplus(−D̃(x)) + E softplus(D̃(G(z))). Equals 2·ln 2 when all logits are 0."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_loss_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """The original (saturating) G loss, minimised by G: E log(1 − σ(D̃(G(z)))) = −E softplus(D̃(G(z))).

    Its gradient vanishes when D confidently rejects the fakes (D̃ ≪ 0)."""
    return -F.softplus(fake_logits).mean()


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating G loss: −E log σ(D̃(G(z))) = E softplus(−D̃(G(z)))."""
    return F.softplus(-fake_logits).mean()


g_loss_nonsat = g_loss_nonsaturating  # the short name used in docs/ARCHITECTURE.md


# --- WGAN (Arjovsky et al. 2017, arXiv:1701.07875) --------------------------------------------


def d_loss_wgan(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Critic loss L_C = E D(G(z)) − E D(x) (the critic maximises E D(x) − E D(G(z)))."""
    return fake_scores.mean() - real_scores.mean()


def g_loss_wgan(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator loss L_G = −E D(G(z)). Also the SAGAN hinge generator loss."""
    return -fake_scores.mean()


@torch.no_grad()
def clip_weights(module: nn.Module, c: float = 0.01) -> None:
    """WGAN weight clipping, in place: every parameter of the critic is clamped to [−c, c].
    Call it after each critic optimiser step."""
    if c <= 0:
        raise ValueError(f"the clipping bound c must be positive, got {c} (WGAN uses c = 0.01).")
    for p in module.parameters():
        p.clamp_(-c, c)


# --- hinge (Lim & Ye 2017, arXiv:1705.02894; SAGAN) -------------------------------------------


def d_loss_hinge(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """L_D = E relu(1 − D(x)) + E relu(1 + D(G(z))): zero once reals score ≥ 1 and fakes ≤ −1."""
    return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()


def g_loss_hinge(fake_scores: torch.Tensor) -> torch.Tensor:
    """L_G = −E D(G(z)) (SAGAN's hinge generator loss; the same as :func:`g_loss_wgan`)."""
    return -fake_scores.mean()


# --- least squares (Mao et al. 2017, arXiv:1611.04076) ----------------------------------------


def d_loss_ls(real_out: torch.Tensor, fake_out: torch.Tensor, a: float = 0.0, b: float = 1.0) -> torch.Tensor:
    """LSGAN D loss ½E(D(x) − b)² + ½E(D(G(z)) − a)² with batch means (not tf.nn.l2_loss's ½·sum).

    a = fake target, b = real target; a = 0, b = 1 in the LSGAN experiments; a = α in the seed's
    alpha regularisation (ch. 09, with :func:`alpha_ramp`)."""
    return 0.5 * ((real_out - b) ** 2).mean() + 0.5 * ((fake_out - a) ** 2).mean()


def g_loss_ls(fake_out: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    """LSGAN G loss ½E(D(G(z)) − c)²; c = 1 in the experiments (c = 0 with a = −1, b = 1 is Pearson χ²)."""
    return 0.5 * ((fake_out - c) ** 2).mean()


def d_star_ls(p_data, p_g, a: float = 0.0, b: float = 1.0):
    """The pointwise LSGAN optimum D*(x) = (b·p_d(x) + a·p_g(x)) / (p_d(x) + p_g(x)).

    At p_g = p_d it is (a + b)/2, e.g. (1 + α)/2 for the alpha-regularised D (a = α, b = 1)."""
    return (b * p_data + a * p_g) / (p_data + p_g)


# --- penalties --------------------------------------------------------------------------------


def _input_gradient(D: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """∇_x Σ D(x), per sample (D's outputs are summed over the batch: samples are independent),
    with create_graph=True so a penalty on it can be backpropagated into D's parameters.
    A critic whose output does not depend on x has gradient 0."""
    x = x.detach().requires_grad_(True)
    out = D(x)
    if not out.requires_grad:  # e.g. a constant critic
        return torch.zeros_like(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True, allow_unused=True)
    return torch.zeros_like(x) if grad is None else grad


def gradient_penalty(
    D: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP penalty E(‖∇D(x̂)‖₂ − 1)² (Gulrajani et al. 2017), **without λ**: the caller writes
    ``loss_D = d_loss_wgan(...) + lam * gradient_penalty(D, real, fake)`` with λ = 10.

    x̂ = α·x + (1 − α)·x̃ with one α ~ U[0, 1] per sample, broadcast over that sample's
    dimensions; ‖·‖₂ is the norm of each sample's whole gradient (all pixels and channels).
    The gradient is taken with ``create_graph=True`` so the penalty trains D. Fakes are detached.
    ``generator`` (a torch.Generator) makes the α draws reproducible.
    """
    if real.shape != fake.shape:
        raise ValueError(
            f"real and fake batches must have the same shape to interpolate, got {tuple(real.shape)} "
            f"and {tuple(fake.shape)}; draw as many fakes as reals."
        )
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    gen_device = generator.device if generator is not None else real.device
    alpha = torch.rand(shape, generator=generator, device=gen_device, dtype=real.dtype).to(real.device)
    x_hat = alpha * real.detach() + (1 - alpha) * fake.detach()
    grad = _input_gradient(D, x_hat)
    grad_norm = grad.flatten(1).norm(2, dim=1)
    return ((grad_norm - 1) ** 2).mean()


def r1_penalty(D: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, gamma: float) -> torch.Tensor:
    """R1 = (γ/2)·E_{p_data}‖∇_x D(x)‖² on real data only (Mescheder et al. 2018, Eq. 9).

    The **γ/2 convention** is the paper's (and NVlabs/stylegan2-ada-pytorch's). LMescheder/
    GAN_stability's ``reg_param`` omits the ½: its reg_param 10 is γ = 20 here. Unlike
    :func:`gradient_penalty`, γ is applied inside; the caller adds the result to D's loss.
    D is run again on ``real`` (one extra forward pass).
    """
    grad = _input_gradient(D, real)
    return 0.5 * gamma * grad.flatten(1).pow(2).sum(dim=1).mean()


# --- schedules --------------------------------------------------------------------------------


def alpha_ramp(step: float, start: float, length: float, alpha_max: float, kind: str = "linear") -> float:
    """The α schedule of LSGAN alpha regularisation (seed 003, chapter 09).

    α = 0 before ``start``; then rises monotonically to ``alpha_max`` over ``length`` steps and
    stays there. With t = clamp((step − start)/length, 0, 1):
    ``"linear"``: α = α_max·t;  ``"smoothstep"``: α = α_max·(3t² − 2t³);  ``"step"``: α = α_max·[step ≥ start].
    """
    if kind not in ("linear", "smoothstep", "step"):
        raise ValueError(f"kind must be 'linear', 'smoothstep' or 'step', got {kind!r}.")
    if length < 0:
        raise ValueError(f"the ramp length must be ≥ 0 steps, got {length}.")
    if kind == "step" or length == 0:
        return float(alpha_max) if step >= start else 0.0
    t = min(max((step - start) / length, 0.0), 1.0)
    if kind == "smoothstep":
        t = t * t * (3.0 - 2.0 * t)
    return float(alpha_max) * t


# --- loss objects and the registry ------------------------------------------------------------


class AdversarialLoss:
    """A D loss and its G loss, as one object a GAN step holds.

    ``d_loss(real_out, fake_out, t)`` and ``g_loss(fake_out, t)`` take the step count ``t`` (G updates
    done so far) so that a loss whose parameters change over training (LSGAN's fake target α(t),
    chapter 09) is an object too; the fixed losses ignore it.
    """

    def __init__(self, name: str, d: Callable, g: Callable) -> None:
        self.name, self._d, self._g = name, d, g

    def d_loss(self, real_out: torch.Tensor, fake_out: torch.Tensor, t: int = 0) -> torch.Tensor:
        return self._d(real_out, fake_out)

    def g_loss(self, fake_out: torch.Tensor, t: int = 0) -> torch.Tensor:
        return self._g(fake_out)

    def __repr__(self) -> str:
        return f"AdversarialLoss({self.name!r})"


class LeastSquaresLoss(AdversarialLoss):
    """LSGAN (Mao et al. 2017, arXiv:1611.04076) with named targets: D pushes D(x) to ``b`` and D(G(z)) to
    ``a``; G pushes D(G(z)) to ``c``. ``a`` may be a function of the step, e.g.
    ``lambda t: alpha_ramp(t, start=2000, length=1000, alpha_max=0.5)`` (seed 003's α regularisation)."""

    def __init__(self, a: float | Callable[[int], float] = 0.0, b: float = 1.0, c: float = 1.0) -> None:
        super().__init__("ls", d_loss_ls, g_loss_ls)
        self.a, self.b, self.c = a, float(b), float(c)

    def target_a(self, t: int) -> float:
        return float(self.a(t)) if callable(self.a) else float(self.a)

    def d_loss(self, real_out, fake_out, t: int = 0):
        return d_loss_ls(real_out, fake_out, a=self.target_a(t), b=self.b)

    def g_loss(self, fake_out, t: int = 0):
        return g_loss_ls(fake_out, c=self.c)

    def __repr__(self) -> str:
        return f"LeastSquaresLoss(a={self.a!r}, b={self.b}, c={self.c})"


# loss name -> (D loss of (real outputs, fake outputs), G loss of fake outputs)
LOSSES: dict[str, AdversarialLoss] = {
    "minimax": AdversarialLoss("minimax", d_loss_minimax, g_loss_saturating),
    "nonsaturating": AdversarialLoss("nonsaturating", d_loss_minimax, g_loss_nonsaturating),
    "wgan": AdversarialLoss("wgan", d_loss_wgan, g_loss_wgan),
    "hinge": AdversarialLoss("hinge", d_loss_hinge, g_loss_hinge),
    "ls": LeastSquaresLoss(),
}


def get_loss(loss: str | AdversarialLoss) -> AdversarialLoss:
    """A loss object from its registry name, or the object itself."""
    if isinstance(loss, AdversarialLoss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(LOSSES)} or pass a gantut.losses.AdversarialLoss.")
    return LOSSES[loss]
