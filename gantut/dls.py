"""Dynamic latent scale (DLS) for GAN inversion, seed 001 (Cho & Krzyzak, "Dynamic Latent Scale for GAN Inversion",
ICPRAM 2022; code: github.com/jeongik-jo/DLSGAN_old, the paper's experiments, and github.com/jeongik-jo/DLSGAN).

An encoder that inverts G, trained with a squared error on the latent, does not converge when G ignores part of
its latent: the information is gone, so no encoder can recover it. DLS rescales each latent element by how much
of it the encoder *can* recover, so that G stops spending entropy on elements it ignores:

* **The encoder is a second head of D** (:class:`EncoderHeadD`): D returns its adversarial value and ẑ, a linear
  prediction of the (unscaled) latent z.
* **The scale** (:func:`latent_scale`): with v the element-wise variance of ẑ (zero mean assumed, so v = E[ẑ²]),

      s = √d · √v / ‖√v‖₂        ⇒  Σᵢ sᵢ² = d, and s = 1 when v is uniform,

  and G receives z ⊙ s, z ~ N(0, I_d). :class:`ScaledLatentG` is G with its s: every sample of a DLS generator,
  in training and in evaluation, is G(z ⊙ s). ``dynamic=False`` keeps s = 1 (the plain encoder, the baseline).
* **The encoder loss** (:func:`encoder_loss`), added to both players (cooperative):

      L_enc = mean((z − ẑ)² ⊙ s²),   L_D = adv_D + λ_enc·L_enc,   L_G = adv_G + λ_enc·L_enc   (λ_enc = 1).

  A constant-zero predictor scores E[z²·s²] averaged over the elements = (1/d)·Σ sᵢ² = 1, with or without the
  scale: "L_enc hardly changes from 1" means the encoder recovers next to nothing.
* **v is traced** from ẑ² of the fakes over the previous training steps (:class:`VarianceTracker`): ``"sma"``, the
  mean of the last ``window`` batch means of ẑ² (DLSGAN_old: a FIFO of 512 batch means, initialised to ones; the
  paper: an SMA over 512 × batch samples), or ``"ema"``, v ← β·v + (1 − β)·mean(ẑ²) (DLSGAN: β = 0.999 from 1e-4).
  The tracker is a buffer of :class:`ScaledLatentG`, so :func:`gantut.fit` checkpoints it with G and a resumed run
  is exact.
* **Inversion**: x → ẑ = E(x) → G(ẑ ⊙ s) (:func:`reconstruct`), scored by PSNR and SSIM (:func:`psnr_ssim`,
  torchmetrics).

:class:`DLSStep` is the collection's GAN step with these two objective overrides. One difference from both codes:
they update G and D *simultaneously* from one fake batch; the collection's step alternates (D, then G on fresh
fakes), as in every other chapter.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .gan import GANStep
from .nets import DCGANDiscriminator, SecondHeadD

__all__ = ["latent_scale", "encoder_loss", "VarianceTracker", "ScaledLatentG", "EncoderHeadD", "DLSStep",
           "ScaleTrace", "decode", "reconstruct", "psnr_ssim", "flip", "KINDS"]

KINDS = ("sma", "ema")


def latent_scale(v: torch.Tensor) -> torch.Tensor:
    """s = √d·√v / ‖√v‖₂ for a variance vector v (d elements, >= 0, not all 0): Σ sᵢ² = d."""
    if v.dim() != 1:
        raise ValueError(f"v is one variance per latent element, a vector; got shape {tuple(v.shape)}.")
    root = v.clamp_min(0).sqrt()
    norm = root.norm()
    if norm == 0:
        raise ValueError("every element of v is 0: the scale s = √d·√v/‖√v‖ is undefined.")
    return math.sqrt(len(v)) * root / norm


def encoder_loss(z: torch.Tensor, z_hat: torch.Tensor, s: torch.Tensor | None = None) -> torch.Tensor:
    """L_enc = mean over the batch and the d elements of (z − ẑ)² ⊙ s² (s = None: the plain MSE, s = 1)."""
    if z.shape != z_hat.shape:
        raise ValueError(f"z and ẑ must have the same shape, got {tuple(z.shape)} and {tuple(z_hat.shape)}.")
    err = (z - z_hat) ** 2
    return (err if s is None else err * s ** 2).mean()


class VarianceTracker(nn.Module):
    """v, the element-wise variance of ẑ over the previous training steps, from batch means m = mean_batch(ẑ²).

    ``kind="sma"``: v = the mean of the last ``window`` batch means (a FIFO initialised to ``init``, DLSGAN_old);
    ``kind="ema"``: v ← β·v + (1 − β)·m from ``init`` (DLSGAN: β = 0.999, init 1e-4). Any uniform start gives s = 1.
    Its state (the FIFO and its position, or v) is made of buffers: it moves and is checkpointed with its module."""

    def __init__(self, z_dim: int, kind: str = "sma", window: int = 512, beta: float = 0.999,
                 init: float | None = None) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"the variance tracker is one of {KINDS}, got {kind!r}.")
        if kind == "sma" and int(window) < 1:
            raise ValueError(f"an SMA window is a number of batch means, >= 1; got {window}.")
        if kind == "ema" and not 0.0 <= beta < 1.0:
            raise ValueError(f"the EMA's β must be in [0, 1), got {beta}.")
        self.kind, self.z_dim, self.window, self.beta = kind, int(z_dim), int(window), float(beta)
        init = (1.0 if kind == "sma" else 1e-4) if init is None else float(init)
        if kind == "sma":
            self.register_buffer("means", torch.full((self.window, self.z_dim), init))
            self.register_buffer("position", torch.zeros((), dtype=torch.long))
        else:
            self.register_buffer("v_ema", torch.full((self.z_dim,), init))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @property
    def v(self) -> torch.Tensor:
        return self.means.mean(0) if self.kind == "sma" else self.v_ema

    @torch.no_grad()
    def update(self, m: torch.Tensor) -> None:
        """Add one batch mean m = mean over the batch of ẑ² (a d-vector)."""
        m = m.detach().to(self.updates.device, torch.float32)
        if m.shape != (self.z_dim,):
            raise ValueError(f"a batch mean of ẑ² has {self.z_dim} elements, got shape {tuple(m.shape)}.")
        if self.kind == "sma":
            self.means[int(self.position)] = m
            self.position.fill_((int(self.position) + 1) % self.window)
        else:
            self.v_ema.mul_(self.beta).add_((1.0 - self.beta) * m)
        self.updates += 1

    def extra_repr(self) -> str:
        return f"z_dim={self.z_dim}, kind={self.kind!r}, " + (f"window={self.window}" if self.kind == "sma"
                                                               else f"beta={self.beta}")


class ScaledLatentG(nn.Module):
    """G with its latent scale: ``forward(z)`` = G(z ⊙ s), s = :func:`latent_scale` of the tracker's v (``dynamic``)
    or 1 (the baseline: the same encoder, no scale). The tracker follows v in both cases."""

    def __init__(self, G: nn.Module, tracker: VarianceTracker, dynamic: bool = True) -> None:
        super().__init__()
        self.G, self.tracker, self.dynamic = G, tracker, bool(dynamic)
        self.z_dim = tracker.z_dim

    @property
    def s(self) -> torch.Tensor:
        return latent_scale(self.tracker.v) if self.dynamic else torch.ones_like(self.tracker.v)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.G(z * self.s.to(z.dtype))


class EncoderHeadD(SecondHeadD):
    """A DCGAN discriminator with DLS's encoder head: ``forward(x)`` is the adversarial logit, :meth:`encode` the
    latent prediction ẑ(x) ∈ R^z_dim (linear: a conv over the whole last map, like DLSGAN_old's dense head on D's
    last hidden vector), trained by D's optimiser."""

    def __init__(self, D: DCGANDiscriminator, z_dim: int = 100) -> None:
        super().__init__(D, z_dim)

    def logit_and_latent(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.both(x)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.both(x)[1]


class DLSStep(GANStep):
    """The GAN step with DLS: G is a :class:`ScaledLatentG`, D an :class:`EncoderHeadD`, and λ_enc·L_enc is added to
    both objectives. ``sample_z`` keeps the unscaled z of its last batch (``self.z``: what the encoder predicts);
    after each iteration the tracker takes the batch mean of ẑ² on D's fakes, so s is constant within an iteration.
    Logs ``L_enc`` (D's batch), ``L_enc_G`` (G's batch), ``s_max`` and ``s_min``."""

    def __init__(self, G: ScaledLatentG, D: EncoderHeadD, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer,
                 *, lam_enc: float = 1.0, **kw: Any) -> None:
        if not isinstance(G, ScaledLatentG):
            raise TypeError(f"DLSStep needs G with its latent scale (gantut.dls.ScaledLatentG), got {type(G).__name__}.")
        if not isinstance(D, EncoderHeadD):
            raise TypeError(f"DLSStep needs D with an encoder head (gantut.dls.EncoderHeadD), got {type(D).__name__}.")
        super().__init__(G, D, opt_G, opt_D, G.z_dim, **kw)
        self.lam_enc = float(lam_enc)
        self.z: torch.Tensor | None = None
        self._zhat_sq: torch.Tensor | None = None

    def sample_z(self, n: int) -> torch.Tensor:
        self.z = super().sample_z(n)
        return self.z

    def d_objective(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, dict]:
        logit_real = self.D(real)
        logit_fake, z_hat = self.D.logit_and_latent(fake)
        loss_D = self.loss_fn.d_loss(logit_real, logit_fake, self.g_updates)
        L_enc = encoder_loss(self.z, z_hat, self.G.s)
        self._zhat_sq = (z_hat.detach().float() ** 2).mean(0)
        return loss_D + self.lam_enc * L_enc, {"loss_D": loss_D.detach(), "L_enc": L_enc.detach()}

    def g_objective(self, z: torch.Tensor, real: torch.Tensor | None) -> tuple[torch.Tensor, dict]:
        logit, z_hat = self.D.logit_and_latent(self.G(z))
        loss_G = self.loss_fn.g_loss(logit, self.g_updates)
        L_enc = encoder_loss(z, z_hat, self.G.s)
        return loss_G + self.lam_enc * L_enc, {"loss_G": loss_G.detach(), "L_enc_G": L_enc.detach()}

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = super().__call__(x)
        self.G.tracker.update(self._zhat_sq)
        s = self.G.s
        out.update(s_max=s.max(), s_min=s.min())
        return out


class ScaleTrace:
    """s and v of a :class:`ScaledLatentG` over training: a callback (``trace.callback(every_n)``) and a checkpointable
    object (put it in ``fit``'s ``state``). ``items`` is ``[(step, s, v), ...]`` on the CPU."""

    def __init__(self, G: ScaledLatentG) -> None:
        self.G = G
        self.items: list[tuple[int, torch.Tensor, torch.Tensor]] = []

    def take(self, loop: Any) -> None:
        self.items.append((loop.step, self.G.s.detach().cpu().clone(), self.G.tracker.v.detach().cpu().clone()))

    def callback(self, every_n: int):
        from .train import every

        return every(every_n, self.take, at_start=True)

    def state_dict(self) -> dict:
        return {"steps": [t for t, _, _ in self.items], "s": [s for _, s, _ in self.items],
                "v": [v for _, _, v in self.items]}

    def load_state_dict(self, state) -> None:
        self.items = list(zip(state["steps"], state["s"], state["v"]))


@torch.no_grad()
def decode(G: nn.Module, z: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """G(z) for given latents (for a :class:`ScaledLatentG`: G(z ⊙ s)) in eval mode, on the CPU; G's mode is restored."""
    was_training = G.training
    G.eval()
    dev = next(G.parameters()).device
    try:
        return torch.cat([G(chunk.to(dev)).float().cpu() for chunk in z.split(batch_size)])
    finally:
        G.train(was_training)


@torch.no_grad()
def reconstruct(G: ScaledLatentG, D: EncoderHeadD, x: torch.Tensor, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """(ẑ, G(ẑ ⊙ s)) for images ``x``, both nets in eval mode (BatchNorm uses running statistics), on the CPU.
    The modules' train/eval modes are restored afterwards."""
    was_training = D.training
    D.eval()
    dev = next(D.parameters()).device
    try:
        z_hat = torch.cat([D.encode(chunk.to(dev)).float().cpu() for chunk in x.split(batch_size)])
    finally:
        D.train(was_training)
    return z_hat, decode(G, z_hat, batch_size)


def psnr_ssim(x_hat: torch.Tensor, x: torch.Tensor) -> dict[str, float]:
    """Mean PSNR (dB, per image, then averaged) and mean SSIM (Gaussian window 11, σ 1.5) of reconstructions
    ``x_hat`` of images ``x``, both N×C×H×W in [−1, 1] (mapped to [0, 1], data range 1), with torchmetrics."""
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    if x_hat.shape != x.shape or x.dim() != 4:
        raise ValueError(f"PSNR/SSIM compare two N×C×H×W batches of the same shape, got {tuple(x_hat.shape)} and "
                         f"{tuple(x.shape)}.")
    a, b = ((x_hat.float() + 1) / 2).clamp(0, 1), ((x.float() + 1) / 2).clamp(0, 1)
    psnr = peak_signal_noise_ratio(a, b, data_range=1.0, dim=(1, 2, 3))
    ssim = structural_similarity_index_measure(a, b, data_range=1.0)
    return {"psnr": float(psnr), "ssim": float(ssim)}


def flip(z: torch.Tensor, p: float = 0.1, generator: torch.Generator | None = None) -> torch.Tensor:
    """z with each element's sign flipped with probability ``p`` (the seed's Figure 11, on a test image's code);
    the draw is on the CPU (``generator``), so it is the same on every device."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p is a probability, in [0, 1]; got {p}.")
    mask = torch.rand(z.shape, generator=generator) < p
    return torch.where(mask.to(z.device), -z, z)
