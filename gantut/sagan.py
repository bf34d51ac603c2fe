"""SAGAN: self-attention, spectral normalisation, the hinge loss and TTUR (chapter 08).

Zhang, Goodfellow, Metaxas & Odena 2019, "Self-Attention Generative Adversarial Networks", arXiv:1805.08318
(code: brain-research/self-attention-gan). The four pieces, and where they live in gantut:

* **self-attention** (Sec. 3, Eq. 1-3), :class:`gantut.nets.SelfAttention`: for a feature map x with C channels
  and N = H·W positions, f(x) = W_f x and g(x) = W_g x (1×1 convs to C/8 channels), h(x) = W_h x (C channels);
  s_ij = f(x_i)ᵀ g(x_j), β_ij = softmax_j(s_ij) (each query i's weights over all positions j sum to 1),
  o_i = Σ_j β_ij h(x_j) and **y_i = γ·o_i + x_i** with γ initialised to 0: at the start the block is the identity
  and the nets first learn local (convolutional) cues, then γ grows as long-range ones pay.
  (The official code also max-pools f and h 2×2 and maps o back with a fourth 1×1 conv, and uses C/2 channels
  for h; gantut follows heykeetae/Self-Attention-GAN: C channels, no pooling, no output conv.)
* **spectral norm** (Miyato et al. 2018, arXiv:1802.05957), :func:`gantut.nets.spectral_norm`: W / σ(W), σ the
  largest singular value estimated by one power iteration per training forward pass, with torch's
  ``torch.nn.utils.parametrizations.spectral_norm`` (the parametrization API, not the deprecated hook). SAGAN puts
  it in **both** nets.
* **hinge loss** (Lim & Ye 2017, arXiv:1705.02894), :func:`gantut.losses.d_loss_hinge`: L_D = E relu(1 − D(x)) +
  E relu(1 + D(G(z))), L_G = −E D(G(z)), on raw scores D ∈ ℝ.
* **TTUR** (Heusel et al. 2017, arXiv:1706.08500): two time-scales, here lr_D = 4e-4 > lr_G = 1e-4, Adam
  β = (0, 0.9) and one D update per G update. (The official code leaves β₂ at TF's 0.999 although the paper says
  0.9; gantut uses the paper's 0.9.)

This module adds what the chapter needs beyond those blocks: seed 004's variant of the discriminator
(:class:`MLPAttentionD`), the attention maps of a generated image (:func:`attention_maps`) and γ over training
(:func:`gamma_log`).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import nets

__all__ = ["MLPAttentionD", "attention_maps", "gamma_log", "gammas"]


class MLPAttentionD(nn.Module):
    """Seed 004's SAGAN discriminator: an MLP (flatten → 512 → 256, LeakyReLU 0.2), a self-attention block
    **after the fully connected layers**, then FC → 1, optionally through a sigmoid.

    A 256-vector has no positions to attend over; the seed does not say how it made them. Here the 256 features
    are read as ``tokens`` positions of 256/tokens channels each (16 × 16 by default), and the same
    :class:`gantut.nets.SelfAttention` block (y = γ·o + x, γ = 0 at init) attends over those 16 "positions".

    ``sigmoid=True`` is the seed's output D(x) ∈ (0, 1). With the hinge loss that is a mismatch: relu(1 − D(x))
    is then 1 − D(x) > 0 for every real image and relu(1 + D(G(z))) = 1 + D(G(z)) > 1 for every fake one, so the
    hinge never switches off and L_D = 2 − E D(x) + E D(G(z)): a WGAN-like critic squashed into (0, 1).
    """

    def __init__(self, img_size: int = 32, channels: int = 1, hidden: tuple[int, int] = (512, 256), tokens: int = 16,
                 spectral_norm: bool = True, sigmoid: bool = False):
        super().__init__()
        if hidden[-1] % tokens:
            raise ValueError(f"the last hidden width {hidden[-1]} must be a multiple of tokens={tokens}.")
        sn = nets.spectral_norm if spectral_norm else (lambda m: m)
        self.img_size, self.channels, self.tokens, self.sigmoid = img_size, channels, tokens, sigmoid
        sizes = [channels * img_size * img_size, *hidden]
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [sn(nn.Linear(a, b)), nn.LeakyReLU(0.2, True)]
        self.trunk = nn.Sequential(*layers)
        self.attention = nets.SelfAttention(hidden[-1] // tokens, spectral_norm=spectral_norm)
        self.head = sn(nn.Linear(hidden[-1], 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.trunk(x.flatten(1))                                  # N × 256
        N = h.shape[0]
        t = h.view(N, self.tokens, -1).transpose(1, 2).unsqueeze(-1)  # N × 16 channels × 16 positions × 1
        return self.attention(t).squeeze(-1).transpose(1, 2).reshape(N, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.features(x))
        return torch.sigmoid(out) if self.sigmoid else out


def gammas(*modules: nn.Module) -> list[float]:
    """γ of every self-attention block in ``modules``, in order."""
    return [float(m.gamma.detach()) for mod in modules for m in mod.modules() if isinstance(m, nets.SelfAttention)]


def gamma_log(G: nn.Module, D: nn.Module) -> Callable:
    """A function for :class:`gantut.train.every`: log γ of G's and D's attention blocks as ``gamma_G`` /
    ``gamma_D`` (SAGAN's γ starts at 0; how far it moves says how much the nets use attention)."""
    def fn(loop) -> dict[str, float]:
        out = {}
        for key, net in (("gamma_G", G), ("gamma_D", D)):
            g = gammas(net)
            if g:
                out[key] = g[0]
        return out
    return fn


@torch.no_grad()
def attention_maps(G: nn.Module, z: torch.Tensor, queries: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """SAGAN's Fig. 1: where a query pixel of a generated image looks.

    Generates ``G(z)`` (eval mode; one latent, ``z`` of shape 1 × z_dim) and returns ``(image, maps)``: the image
    (C × H × W) and, for each query (row, col) in image pixels, β_i over the attention block's positions as an
    H × W map (nearest-neighbour upsampled from the block's resolution), each summing to 1 before upsampling.
    """
    block = getattr(G, "attention", None)
    if block is None:
        raise ValueError("this G has no self-attention block: build it with attention_at=16 (or another resolution).")
    was_training = G.training
    G.eval()
    try:
        x = G(z[:1].to(nets.device_of(G))).cpu()
    finally:
        G.train(was_training)
    beta = block.last_attention[0].cpu()                                # HW × HW
    side = int(round(beta.shape[0] ** 0.5))
    H, W = x.shape[-2:]
    maps = []
    for r, c in queries:
        i = (r * side // H) * side + (c * side // W)                   # the query's position at the block's scale
        m = beta[i].view(1, 1, side, side)
        maps.append(F.interpolate(m, size=(H, W), mode="nearest")[0, 0])
    return x[0], torch.stack(maps)
