"""Latent priors p(z): what a GAN step feeds its generator.

A prior is a small object with ``z_dim``, ``sample(n, device=None, generator=None)`` and a
``state_dict`` (empty for the fixed priors; the scaled latent of DLS, chapter 12, will carry its
variance estimate there, so that :func:`gantut.fit` checkpoints it with the models).

* :class:`NormalPrior` — z ~ N(0, I), the default of every chapter.
* :class:`UniformPrior` — u ~ U[−1, 1]^d (MD-GAN's 2D experiments), drawn as u = erf(z/√2) = 2Φ(z) − 1
  from z ~ N(0, I): exactly uniform (the probability integral transform), and it consumes the random
  stream the same way as the normal prior, so switching prior leaves every other draw unchanged.

Sampling without ``generator`` uses the global torch RNG on ``device`` (what training does); with a
CPU ``torch.Generator`` the draw is made on the CPU and moved, so it is the same on every device
(what evaluation and sample grids do).
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import torch

__all__ = ["Prior", "NormalPrior", "UniformPrior", "as_prior"]


class Prior:
    """Base class: a distribution over R^z_dim. Subclasses write :meth:`transform` of a standard normal
    draw (or override :meth:`sample`)."""

    def __init__(self, z_dim: int) -> None:
        if int(z_dim) < 1:
            raise ValueError(f"z_dim must be a positive integer, got {z_dim}.")
        self.z_dim = int(z_dim)

    def normal(self, n: int, device: torch.device | str | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """n × z_dim standard normal numbers (global RNG on ``device``, or ``generator`` on the CPU)."""
        if generator is not None:
            z = torch.randn(n, self.z_dim, generator=generator)
            return z if device is None else z.to(device)
        return torch.randn(n, self.z_dim, device=device)

    def transform(self, z: torch.Tensor) -> torch.Tensor:
        return z

    def sample(self, n: int, device: torch.device | str | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        return self.transform(self.normal(n, device, generator))

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}(z_dim={self.z_dim})"


class NormalPrior(Prior):
    """z ~ N(0, I_d)."""


class UniformPrior(Prior):
    """u ~ U[−1, 1]^d, as u = erf(z / √2) with z ~ N(0, I) (Φ is the normal CDF: 2Φ(z) − 1 = erf(z/√2))."""

    def transform(self, z: torch.Tensor) -> torch.Tensor:
        return torch.special.erf(z / math.sqrt(2.0))


def as_prior(prior: Prior | int) -> Prior:
    """An int is the latent size of a :class:`NormalPrior`; a prior is returned as it is."""
    if isinstance(prior, Prior):
        return prior
    if isinstance(prior, bool) or not isinstance(prior, int):
        raise TypeError(f"a latent prior is a gantut.priors.Prior or an int z_dim, got {type(prior).__name__}.")
    return NormalPrior(prior)
