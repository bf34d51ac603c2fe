"""The alternating GAN update every chapter starts from, and sampling from a trained generator.

:class:`GANStep` is one iteration of Goodfellow et al. (2014), Algorithm 1: ``n_critic`` updates of
the discriminator, then one of the generator, with a choice of adversarial loss and of penalty.
Techniques whose logic is more than a loss (unrolling, MD-GAN, LFM, DLS...) write their own step;
this one covers the vanilla GAN, WGAN, WGAN-GP, hinge, least squares and R1.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from . import losses

# loss name -> (D loss of (real outputs, fake outputs), G loss of fake outputs)
LOSSES: dict[str, tuple[Callable, Callable]] = {
    "minimax": (losses.d_loss_minimax, losses.g_loss_saturating),
    "nonsaturating": (losses.d_loss_minimax, losses.g_loss_nonsaturating),
    "wgan": (losses.d_loss_wgan, losses.g_loss_wgan),
    "hinge": (losses.d_loss_hinge, losses.g_loss_hinge),
    "ls": (losses.d_loss_ls, losses.g_loss_ls),
}


class AdversarialStep:
    """What every GAN step shares: G and D with their optimisers, the state :func:`gantut.fit`
    checkpoints, and latents z ~ N(0, I) drawn from the global torch RNG on G's device."""

    G: nn.Module
    D: nn.Module
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    z_dim: int

    @property
    def state(self) -> dict:
        """What :func:`gantut.fit` checkpoints."""
        return {"G": self.G, "D": self.D, "opt_G": self.opt_G, "opt_D": self.opt_D}

    def sample_z(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.z_dim, device=_device(self.G))


class GANStep(AdversarialStep):
    """One GAN iteration: ``n_critic`` D updates, then one G update.

    Parameters
    ----------
    G, D : generator ``z -> x`` and discriminator ``x -> raw output`` (logit or critic score).
    opt_G, opt_D : their optimisers.
    z_dim : latent size; z ~ N(0, I) drawn from the global torch RNG on D's device.
    loss : ``"nonsaturating"`` (default), ``"minimax"`` (saturating G loss), ``"wgan"``, ``"hinge"``,
        ``"ls"`` (a = 0, b = c = 1).
    n_critic : D updates per G update. The batch ``x`` is split into ``n_critic`` equal chunks,
        one fresh real minibatch per D update (give the batch source ``n_critic × B`` samples).
    gp_lambda : WGAN-GP weight λ of :func:`gantut.losses.gradient_penalty` (0 = off).
    r1_gamma : γ of :func:`gantut.losses.r1_penalty` (γ/2 convention; 0 = off).
    r1_every : lazy R1: apply it every k-th D update, scaled by k (StyleGAN2's lazy regularisation).
    clip : WGAN weight clipping to [−clip, clip] after each D update (None = off).

    Returns from ``__call__``: ``loss_D`` (the adversarial part, without penalties), ``loss_G``,
    and ``penalty`` when a penalty is on; for the WGAN family also ``W_estimate`` = E D(x) − E D(G(z)),
    the critic's estimate of the Wasserstein distance.
    """

    def __init__(self, G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer,
                 z_dim: int, *, loss: str = "nonsaturating", n_critic: int = 1, gp_lambda: float = 0.0,
                 r1_gamma: float = 0.0, r1_every: int = 1, clip: float | None = None) -> None:
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(LOSSES)}")
        if n_critic < 1 or r1_every < 1:
            raise ValueError("n_critic and r1_every must be >= 1")
        self.G, self.D, self.opt_G, self.opt_D = G, D, opt_G, opt_D
        self.z_dim, self.loss, self.n_critic = z_dim, loss, n_critic
        self.gp_lambda, self.r1_gamma, self.r1_every, self.clip = gp_lambda, r1_gamma, r1_every, clip
        self.d_loss, self.g_loss = LOSSES[loss]
        self._d_updates = 0

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.shape[0] % self.n_critic:
            raise ValueError(f"a batch of {x.shape[0]} cannot be split into n_critic={self.n_critic} chunks; "
                             "use a batch size that is a multiple of n_critic.")
        out: dict[str, torch.Tensor] = {}
        for real in x.chunk(self.n_critic):
            out.update(self.d_step(real))
        out.update(self.g_step(len(real)))
        return out

    def d_step(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """One discriminator update on a real minibatch and as many fresh fakes."""
        with torch.no_grad():
            fake = self.G(self.sample_z(len(real)))
        d_real, d_fake = self.D(real), self.D(fake)
        loss_D = self.d_loss(d_real, d_fake)
        total = loss_D
        out = {"loss_D": loss_D.detach()}
        if self.gp_lambda:
            gp = losses.gradient_penalty(self.D, real, fake)
            total = total + self.gp_lambda * gp
            out["penalty"] = gp.detach()
        self._d_updates += 1
        if self.r1_gamma and self._d_updates % self.r1_every == 0:
            r1 = losses.r1_penalty(self.D, real, self.r1_gamma) * self.r1_every
            total = total + r1
            out["penalty"] = r1.detach()
        self.opt_D.zero_grad(set_to_none=True)
        total.backward()
        self.opt_D.step()
        if self.clip is not None:
            losses.clip_weights(self.D, self.clip)
        if self.loss == "wgan":
            out["W_estimate"] = (d_real.mean() - d_fake.mean()).detach()
        return out

    def g_step(self, n: int) -> dict[str, torch.Tensor]:
        """One generator update on n fresh fakes (D's gradients are computed but not applied)."""
        loss_G = self.g_loss(self.D(self.G(self.sample_z(n))))
        self.opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
        self.opt_G.step()
        return {"loss_G": loss_G.detach()}


def _device(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


@torch.no_grad()
def generate(G: nn.Module, n: int, z_dim: int, *, batch_size: int = 1000, generator: torch.Generator | None = None,
             device: torch.device | None = None) -> torch.Tensor:
    """Draw ``n`` samples G(z), z ~ N(0, I), in eval mode (BatchNorm uses running statistics), on CPU.

    ``generator`` (a CPU torch.Generator) makes the draw reproducible without touching the global RNG.
    The module's train/eval mode is restored afterwards.
    """
    dev = device or _device(G)
    was_training = G.training
    G.eval()
    try:
        chunks = []
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            z = torch.randn(m, z_dim, generator=generator).to(dev)
            chunks.append(G(z).float().cpu())
        return torch.cat(chunks) if chunks else torch.empty(0)
    finally:
        G.train(was_training)
