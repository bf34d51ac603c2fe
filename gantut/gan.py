"""The alternating GAN update every chapter starts from, and sampling from a trained generator.

:class:`AdversarialStep` is one iteration of Goodfellow et al. (2014, arXiv:1406.2661), Algorithm 1:
``n_critic`` updates of the discriminator, then one of the generator. It owns the update mechanics
(zero_grad, backward, optimiser step, n_critic, weight clipping, penalties, mixed precision) and the
state :func:`gantut.fit` checkpoints, counters included. A technique changes only what its paper
changes, by overriding

* :meth:`AdversarialStep.d_objective` ``(real, fake) -> (loss, logs)`` — D's adversarial loss;
* :meth:`AdversarialStep.g_objective` ``(z, real) -> (loss, logs)`` — G's loss;

or by passing objects: a loss (:mod:`gantut.losses`), penalties (:mod:`gantut.penalties`), a latent
prior (:mod:`gantut.priors`). :class:`GANStep` is the base with the flags of chapters 01-08 (vanilla,
WGAN, WGAN-GP, hinge, least squares, R1); :class:`gantut.unrolled.UnrolledStep` and
:class:`gantut.mdgan.MDGANStep` are short subclasses.
"""
from __future__ import annotations

import contextlib
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from . import losses
from .losses import LOSSES  # noqa: F401  (the registry lives in losses.py; kept importable from here)
from .nets import device_of
from .penalties import GradientPenalty, Penalty, R1
from .priors import Prior, as_prior

__all__ = ["AdversarialStep", "GANStep", "generate", "LOSSES"]


class AdversarialStep:
    """One GAN iteration: ``n_critic`` D updates (one real chunk each), then one G update.

    Parameters
    ----------
    G, D : generator ``z -> x`` and discriminator ``x -> raw output`` (logit or critic score).
    opt_G, opt_D : their optimisers.
    prior : a :class:`gantut.priors.Prior`, or an int z_dim for z ~ N(0, I).
    loss : a registry name of :data:`gantut.losses.LOSSES` or an :class:`~gantut.losses.AdversarialLoss`.
    penalties : :class:`~gantut.penalties.Penalty` objects added to D's loss, each logging its own key.
    n_critic : D updates per G update. A call takes ``n_critic × B`` real samples (:meth:`real_batch`)
        and gives each D update a fresh chunk of B.
    clip : WGAN weight clipping to [−clip, clip] after each D update (None = off).

    ``__call__(x)`` returns ``loss_D`` (the adversarial part of the last D update, without penalties),
    ``loss_G``, each penalty's key, and for the WGAN loss ``W_estimate`` = E D(x) − E D(G(z)).

    Counters: ``d_updates`` and ``g_updates`` (= steps done). They are in :attr:`state` (as ``"step"``),
    so that a resumed run applies lazy penalties and step-dependent losses exactly as an uninterrupted one.
    """

    def __init__(self, G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer,
                 prior: Prior | int, *, loss: str | losses.AdversarialLoss = "nonsaturating",
                 penalties: Sequence[Penalty] = (), n_critic: int = 1, clip: float | None = None) -> None:
        if int(n_critic) < 1:
            raise ValueError(f"n_critic is a number of D updates per G update, >= 1; got {n_critic}.")
        self.G, self.D, self.opt_G, self.opt_D = G, D, opt_G, opt_D
        self.prior = as_prior(prior)
        self.loss_fn = losses.get_loss(loss)
        self.penalties = list(penalties)
        keys = [p.key for p in self.penalties]
        if len(set(keys)) != len(keys):
            raise ValueError(f"two penalties log under the same key ({keys}); give each its own.")
        self.n_critic, self.clip = int(n_critic), clip
        self.d_updates = 0
        self.g_updates = 0
        self.amp_device: str | None = None  # set by fit(amp=True): bf16 autocast around forwards and losses

    # --- what fit checkpoints --------------------------------------------------------------------

    @property
    def z_dim(self) -> int:
        return self.prior.z_dim

    @property
    def loss(self) -> str:
        return self.loss_fn.name

    @property
    def state(self) -> dict:
        """What :func:`gantut.fit` checkpoints: the nets, their optimisers and this step's own state."""
        return {"G": self.G, "D": self.D, "opt_G": self.opt_G, "opt_D": self.opt_D, "step": self}

    def state_dict(self) -> dict[str, Any]:
        return {"d_updates": self.d_updates, "g_updates": self.g_updates, "prior": self.prior.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.d_updates, self.g_updates = int(state["d_updates"]), int(state["g_updates"])
        self.prior.load_state_dict(state.get("prior", {}))

    def real_batch(self, batch_size: int) -> int:
        """Real samples one call consumes when each D update sees ``batch_size`` of them."""
        return self.n_critic * int(batch_size)

    # --- the pieces a technique overrides --------------------------------------------------------

    def sample_z(self, n: int) -> torch.Tensor:
        """n latents from the prior, on G's device, from the global RNG."""
        return self.prior.sample(n, device=device_of(self.G))

    def d_objective(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """D's adversarial loss on a real and a fake batch (fakes are detached), and what to log."""
        d_real, d_fake = self.D(real), self.D(fake)
        loss_D = self.loss_fn.d_loss(d_real, d_fake, self.g_updates)
        logs = {"loss_D": loss_D.detach()}
        if self.loss_fn.name == "wgan":
            logs["W_estimate"] = (d_real.mean() - d_fake.mean()).detach()
        return loss_D, logs

    def g_objective(self, z: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """G's loss on fakes G(z) (``real``, the last D chunk, is there for techniques that need it)."""
        loss_G = self.loss_fn.g_loss(self.D(self.G(z)), self.g_updates)
        return loss_G, {"loss_G": loss_G.detach()}

    # --- the update mechanics: one place -----------------------------------------------------------

    def autocast(self):
        """bf16 autocast for forward passes and losses when fit(amp=True) asked for it; else nothing."""
        if self.amp_device is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.amp_device, dtype=torch.bfloat16)

    def d_step(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """One D update on a real chunk and as many fresh fakes, with every due penalty."""
        with torch.no_grad(), self.autocast():
            fake = self.G(self.sample_z(len(real)))
        self.d_updates += 1
        with self.autocast():
            total, logs = self.d_objective(real, fake)
            for pen in self.penalties:
                if pen.due(self.d_updates):
                    term, pen_logs = pen(self.D, real, fake)
                    total = total + term
                    logs.update(pen_logs)
        self.opt_D.zero_grad(set_to_none=True)
        total.float().backward()
        self.opt_D.step()
        if self.clip is not None:
            losses.clip_weights(self.D, self.clip)
        return logs

    def g_step(self, real: torch.Tensor | int) -> dict[str, torch.Tensor]:
        """One G update on ``len(real)`` fresh fakes (D's gradients are computed but not applied).
        ``real`` is the last real chunk D saw (or just a batch size, for objectives that need no reals)."""
        n, real = (real, None) if isinstance(real, int) else (len(real), real)
        with self.autocast():
            loss_G, logs = self.g_objective(self.sample_z(n), real)
        self.opt_G.zero_grad(set_to_none=True)
        loss_G.float().backward()
        self.opt_D.zero_grad(set_to_none=True)  # G's backward also reached D's parameters; D ignores them
        self.opt_G.step()
        self.g_updates += 1
        return logs

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.shape[0] % self.n_critic:
            raise ValueError(f"a batch of {x.shape[0]} cannot be split into n_critic={self.n_critic} chunks; "
                             f"give the step real_batch(B) = n_critic × B samples per call.")
        out: dict[str, torch.Tensor] = {}
        for real in x.chunk(self.n_critic):
            out.update(self.d_step(real))
        out.update(self.g_step(real))
        return out


class GANStep(AdversarialStep):
    """The step of chapters 01-08 with flags for the penalties and the latent size.

    ``z_dim`` (or a ``prior``), ``loss`` (``"nonsaturating"`` default, ``"minimax"``, ``"wgan"``,
    ``"hinge"``, ``"ls"``), ``n_critic``, ``gp_lambda`` (WGAN-GP λ; 0 = off), ``r1_gamma`` (R1 γ, γ/2
    convention; 0 = off), ``r1_every`` (lazy R1), ``clip`` (WGAN clipping), and any further
    ``penalties`` objects. The flags only build :class:`~gantut.penalties.GradientPenalty` and
    :class:`~gantut.penalties.R1`; the mechanics are :class:`AdversarialStep`'s.
    """

    def __init__(self, G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer,
                 z_dim: int | Prior, *, loss: str | losses.AdversarialLoss = "nonsaturating", n_critic: int = 1,
                 gp_lambda: float = 0.0, r1_gamma: float = 0.0, r1_every: int = 1, clip: float | None = None,
                 penalties: Sequence[Penalty] = ()) -> None:
        if r1_every < 1:
            raise ValueError(f"r1_every is a number of D updates, >= 1; got {r1_every}.")
        pens: list[Penalty] = []
        if gp_lambda:
            pens.append(GradientPenalty(gp_lambda))
        if r1_gamma:
            pens.append(R1(r1_gamma, every=r1_every))
        super().__init__(G, D, opt_G, opt_D, z_dim, loss=loss, penalties=pens + list(penalties),
                         n_critic=n_critic, clip=clip)


@torch.no_grad()
def generate(G: nn.Module, n: int, z_dim: int | Prior, *, batch_size: int = 1000,
             generator: torch.Generator | None = None, device: torch.device | None = None) -> torch.Tensor:
    """Draw ``n`` samples G(z), z from the prior (an int z_dim: z ~ N(0, I)), in eval mode (BatchNorm uses
    running statistics), returned on the CPU.

    ``generator`` (a CPU torch.Generator) makes the draw reproducible without touching the global RNG;
    latents are drawn on the CPU and moved to G's device, so the draw is the same on every device.
    The module's train/eval mode is restored afterwards.
    """
    prior = as_prior(z_dim)
    dev = device or device_of(G)
    was_training = G.training
    G.eval()
    try:
        chunks = []
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            z = prior.sample(m, generator=generator).to(dev)
            chunks.append(G(z).float().cpu())
        return torch.cat(chunks) if chunks else torch.empty(0)
    finally:
        G.train(was_training)
