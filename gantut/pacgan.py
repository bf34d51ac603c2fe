"""PacGAN: the discriminator judges m samples at once (Lin, Khetan, Fanti & Oh 2018, "PacGAN: The power of
two samples in generative adversarial networks", arXiv:1712.04086).

A packed discriminator D_m sees m samples concatenated, all real or all fake:

    D_m(x_1, ..., x_m),   x_i ~ p_data (real packs)   or   x_i ~ p_g (fake packs).

Packing compares the product distributions p^m and q^m instead of p and q. The paper shows that their
total variation distance grows with m much faster when q misses modes (mode collapse) than when it only
moves mass a little, so a packed D penalises mode collapse more strongly. Nothing else changes: the loss, G and the optimisers are
those of the GAN being packed; D's first layer takes m times as many inputs. Their 2D experiments use
m = 2-4 (PacGAN2, PacGAN3, PacGAN4; Table 1).

Here packing is a wrapper around D (:class:`PackedD`), so every step, loss and penalty works unchanged:
a batch of N samples becomes N/m packed inputs (consecutive samples are packed together; batches are
i.i.d., so this is the paper's random grouping). R1 on a packed D penalises the gradient with respect to
all m samples of each pack; as :func:`gantut.losses.r1_penalty` averages ‖∇_x D‖² over the N samples, it
equals the per-pack penalty (γ/2)·E‖∇_pack D_m‖² divided by m (multiply γ by m for the per-pack value).
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["pack", "PackedD"]


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """Group consecutive samples in packs of m: N×d → (N/m)×(m·d) (points), N×C×H×W → (N/m)×(m·C)×H×W (images,
    concatenated along channels as in the paper's image experiments)."""
    if m < 1:
        raise ValueError(f"the packing degree m is a number of samples per pack, >= 1; got {m}.")
    n = x.shape[0]
    if n % m:
        raise ValueError(f"a batch of {n} samples cannot be packed in groups of m={m}; use a batch size that is a "
                         f"multiple of {m}.")
    if x.dim() == 2:
        return x.reshape(n // m, m * x.shape[1])
    if x.dim() == 4:
        return x.reshape(n // m, m * x.shape[1], *x.shape[2:])
    raise ValueError(f"pack takes N×d points or N×C×H×W images, got shape {tuple(x.shape)}.")


class PackedD(nn.Module):
    """D_m(x) = D(pack(x, m)): ``D`` must take m·d inputs (e.g. ``nets.mlp2d_D(in_dim=2 * m)``)."""

    def __init__(self, D: nn.Module, m: int) -> None:
        super().__init__()
        if m < 1:
            raise ValueError(f"the packing degree m must be >= 1, got {m}.")
        self.D, self.m = D, int(m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.D(pack(x, self.m))

    def extra_repr(self) -> str:
        return f"m={self.m}"
