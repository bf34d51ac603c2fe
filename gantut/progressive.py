"""Progressive stacked pretraining (seed 003, chapter 10): grow G from 4×4 by supervised L1 stages, pretrain D
on stored fakes, then train the pair as an LSGAN.

Seed 003's recipe (supervised stacking, not ProGAN's adversarial growing; Karras et al. 2018, arXiv:1710.10196):

1. pair each training image x_i with a latent z_i ~ N(0, I) (whether the pairing is kept for every epoch or redrawn
   is not said: ``pairing = "fixed" | "redrawn"`` here);
2. stage 0: train G_0 (z → 4×4) with L1 = E|G_0(z_i) − ↓₄(x_i)|, ↓ₛ the image averaged down to s×s px
   (:func:`downsample`); stage k adds an upsampling block and a toRGB head (s = 4·2^k) and trains again, up to
   the full size; during the first ``fade`` fraction of a stage the new head is faded in (ProGAN's
   lerp(↑(old RGB), new RGB, a), :func:`fade_in`; the seed does not fade: ``fade = 0``);
3. store G's outputs as fakes (y = 0) beside reals (y = 1) and pretrain D on (D(x) − y)² (:class:`DPretrainStep`);
4. train both as an LSGAN (chapter 09), optionally with the α ramp.

Why the stages' images look like a blurred mean: for a fixed z, L1 over random pairings is minimised per pixel by
the **median** of the pixel over the images z was paired with; with pairings that carry no information about the
image (random z), G can only output (close to) the per-pixel median image of the data for every z, at every stage.

* :class:`GrowingG` — the generator; ``stage`` and ``fade_alpha`` say which head answers.
* :func:`downsample`, :func:`l1_stage_loss`, :func:`fade_in` — the math above.
* :class:`L1StageStep` — one stage's update (G only); :class:`DPretrainStep` — D's regression on stored fakes.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .nets import device_of

__all__ = ["GrowingG", "downsample", "l1_stage_loss", "fade_in", "L1StageStep", "DPretrainStep", "PairedBatches"]


def downsample(x: torch.Tensor, size: int) -> torch.Tensor:
    """↓ₛ: the image averaged down to ``size``×``size`` px (area / box filter: each output pixel is the mean of a
    (H/size)² block, so ↓ of a constant image is the constant and ↓ commutes with averaging over images)."""
    if x.shape[-1] % size or x.shape[-2] % size:
        raise ValueError(f"cannot average {tuple(x.shape[-2:])} px down to {size} px: the size must divide it.")
    return F.avg_pool2d(x, x.shape[-1] // size) if x.shape[-1] != size else x


def l1_stage_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """L1 = E|G_k(z) − ↓ₛ(x)|, the mean over every pixel of the batch, with s = the fakes' size."""
    return (fake - downsample(real, fake.shape[-1])).abs().mean()


def fade_in(prev_rgb: torch.Tensor, new_rgb: torch.Tensor, alpha: float) -> torch.Tensor:
    """ProGAN's fade-in of a new stage: (1 − a)·↑(prev_rgb) + a·new_rgb, ↑ = nearest-neighbour ×2 upsampling
    (``upscale2d`` of tkarras/progressive_growing_of_gans). a = 0: the old stage's image, upscaled; a = 1: the new."""
    return (1.0 - alpha) * F.interpolate(prev_rgb, scale_factor=2, mode="nearest") + alpha * new_rgb


class GrowingG(nn.Module):
    """A DCGAN-like generator built up in stages: stage 0 maps z to 4×4 (ConvT 4×4 from 1×1, BatchNorm, ReLU),
    stage k ≥ 1 adds ConvT(4, 2, 1) + BatchNorm + ReLU doubling the size, and every stage has its own toRGB head
    (1×1 conv, tanh). Channels halve per stage from ``base``·2^(n−2) (n stages; base 16 at 32 px: 64, 32, 16, 8).

    ``stage`` (0 … n − 1) picks the output size 4·2^stage; ``fade_alpha`` < 1 fades the current head in over the
    previous one (:func:`fade_in`). The blocks of later stages exist from the start (so one checkpoint loads into
    any stage), but a stage's output and gradients use only blocks 0 … stage."""

    def __init__(self, z_dim: int = 100, img_size: int = 32, channels: int = 1, base: int = 16) -> None:
        super().__init__()
        n = int(round(math.log2(img_size))) - 1
        if img_size < 8 or 4 * 2 ** (n - 1) != img_size:
            raise ValueError(f"GrowingG grows from 4 px by doubling: img_size must be 8, 16, 32, 64..., got {img_size}.")
        self.z_dim, self.img_size, self.channels, self.n_stages = z_dim, img_size, channels, n
        chans = [max(1, int(base * 2.0 ** (n - 2 - k))) for k in range(n)]
        self.sizes = [4 * 2 ** k for k in range(n)]
        blocks = [nn.Sequential(nn.ConvTranspose2d(z_dim, chans[0], 4, 1, 0, bias=False), nn.BatchNorm2d(chans[0]),
                                nn.ReLU(True))]
        blocks += [nn.Sequential(nn.ConvTranspose2d(chans[k - 1], chans[k], 4, 2, 1, bias=False),
                                 nn.BatchNorm2d(chans[k]), nn.ReLU(True)) for k in range(1, n)]
        self.blocks = nn.ModuleList(blocks)
        self.to_rgb = nn.ModuleList([nn.Conv2d(c, channels, 1) for c in chans])
        self.stage = n - 1
        self.fade_alpha = 1.0

    def stage_parameters(self, stage: int | None = None):
        """The parameters a stage trains: blocks and heads 0 … stage (the previous head only matters while fading)."""
        k = self.stage if stage is None else stage
        for m in list(self.blocks[: k + 1]) + list(self.to_rgb[: k + 1]):
            yield from m.parameters()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = z.reshape(z.shape[0], self.z_dim, 1, 1)
        prev = None
        for k in range(self.stage + 1):
            if k == self.stage:
                prev = h
            h = self.blocks[k](h)
        out = torch.tanh(self.to_rgb[self.stage](h))
        if self.stage > 0 and self.fade_alpha < 1.0:
            out = fade_in(torch.tanh(self.to_rgb[self.stage - 1](prev)), out, self.fade_alpha)
        return out


class _Counted:
    """What :func:`gantut.fit` checkpoints of a pretraining step: its update counter."""

    updates = 0

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.updates = int(state["updates"])


class L1StageStep(_Counted):
    """One update of stage ``stage`` of a :class:`GrowingG`: L1 toward the real images averaged down to that stage's
    size (:func:`l1_stage_loss`). Batches are ``(images, indices)`` (a :class:`gantut.data.TensorBatches` with
    ``labels = torch.arange(N)``): with ``pairing="fixed"`` image i always meets latent ``z_table[i]``; with
    ``"redrawn"`` every batch draws fresh latents. The first ``fade_steps`` updates fade the new head in linearly
    (a = t / fade_steps). Checkpointed state: the update counter (the fade resumes where it stopped)."""

    def __init__(self, G: GrowingG, opt: torch.optim.Optimizer, stage: int, z_table: torch.Tensor | None = None,
                 fade_steps: int = 0) -> None:
        if not 0 <= stage < G.n_stages:
            raise ValueError(f"stage must be in 0 … {G.n_stages - 1}, got {stage}.")
        self.G, self.opt, self.stage, self.z_table, self.fade_steps = G, opt, int(stage), z_table, int(fade_steps)
        self.updates = 0
        G.stage = self.stage

    @property
    def state(self) -> dict:
        return {"G": self.G, "opt_G": self.opt, "step": self}

    def fade(self) -> float:
        if self.stage == 0 or self.fade_steps <= 0:
            return 1.0
        return min(1.0, self.updates / self.fade_steps)

    def __call__(self, batch) -> dict[str, torch.Tensor]:
        x, idx = batch
        dev = device_of(self.G)
        if self.z_table is not None:
            z = self.z_table[idx.long().cpu()].to(dev)
        else:
            z = torch.randn(len(x), self.G.z_dim, device=dev)
        self.G.stage, self.G.fade_alpha = self.stage, self.fade()
        loss = l1_stage_loss(self.G(z), x)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.updates += 1
        return {"l1": loss.detach(), "fade": torch.tensor(self.G.fade_alpha)}


class DPretrainStep(_Counted):
    """D's pretraining on stored fakes (y = 0) and reals (y = 1): L = ½E(D(x) − 1)² + ½E(D(x̃))², i.e.
    (D(x) − y)² averaged over a batch of B reals and B stored fakes. Batches are ``(reals, fakes)`` pairs."""

    def __init__(self, D: nn.Module, opt: torch.optim.Optimizer) -> None:
        self.D, self.opt = D, opt
        self.updates = 0

    @property
    def state(self) -> dict:
        return {"D": self.D, "opt_D": self.opt, "step": self}

    def __call__(self, batch) -> dict[str, torch.Tensor]:
        real, fake = batch
        d_real, d_fake = self.D(real), self.D(fake)
        loss = 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * (d_fake ** 2).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.updates += 1
        # before this update: the share of the batch on the right side of ½
        acc = 0.5 * ((d_real.detach() > 0.5).float().mean() + (d_fake.detach() < 0.5).float().mean())
        return {"loss_D_pre": loss.detach(), "acc_D_pre": acc}


class PairedBatches:
    """``next()`` gives ``(next(a), next(b))``: D's pretraining batches of reals and stored fakes, each source with
    its own shuffling; checkpointed as both sources' states."""

    def __init__(self, a, b) -> None:
        self.a, self.b = a, b

    def __next__(self):
        return next(self.a), next(self.b)

    def __iter__(self):
        return self

    def state_dict(self) -> dict[str, Any]:
        return {"a": self.a.state_dict(), "b": self.b.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.a.load_state_dict(state["a"])
        self.b.load_state_dict(state["b"])
