"""ipywidgets explorers for the chapters.

Importable without a display: ipywidgets is imported inside the functions, and the widgets can be
built (and driven by setting slider values) with no frontend, which is how the tests use them.
Each explorer is an ``ipywidgets.interactive``: its ``.result`` is the last Figure drawn.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import torch


def _display(fig) -> None:
    from IPython.display import display

    display(fig)


def _slider(name: str, spec: Any):
    """A slider from a spec: ``(min, max)`` or ``(min, max, step)``; ints give an IntSlider.
    A widget is passed through; any other value becomes a fixed argument."""
    import ipywidgets as W

    if isinstance(spec, W.Widget):
        return spec
    if isinstance(spec, tuple) and len(spec) in (2, 3):
        lo, hi = spec[0], spec[1]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in spec):
            step = spec[2] if len(spec) == 3 else max(1, (hi - lo) // 100)
            return W.IntSlider(value=lo + (hi - lo) // 2, min=lo, max=hi, step=step,
                               description=name, continuous_update=False)
        step = spec[2] if len(spec) == 3 else (hi - lo) / 100
        return W.FloatSlider(value=(lo + hi) / 2, min=lo, max=hi, step=step, description=name,
                             continuous_update=False, readout_format=".3g")
    return W.fixed(spec)


def schedule_explorer(fn: Callable[..., float], params: Mapping[str, Any], steps: int = 1000,
                      title: str | None = None):
    """Sliders for the parameters of a schedule ``fn(step, **params)`` and its curve over
    ``steps`` training steps (e.g. the LSGAN alpha ramp).

    ``params``: name → ``(min, max)`` / ``(min, max, step)`` (a slider starting in the middle), a
    ready widget, or a fixed value.
    """
    import ipywidgets as W
    import matplotlib.pyplot as plt
    import numpy as np

    controls = {name: _slider(name, spec) for name, spec in params.items()}
    t = np.arange(int(steps))

    def draw(**kw):
        y = np.array([float(fn(int(s), **kw)) for s in t])
        fig, ax = plt.subplots(figsize=(5, 2.8))
        ax.plot(t, y)
        ax.set_xlabel("step")
        ax.set_ylabel(getattr(fn, "__name__", "value"))
        ax.grid(alpha=0.3)
        if title:
            ax.set_title(title)
        fig.tight_layout()
        plt.close(fig)
        _display(fig)
        return fig

    return W.interactive(draw, **controls)


def _slerp(z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation along the great circle between z0 and z1 (row-wise)."""
    cos = (z0 * z1).sum(1, keepdim=True) / (z0.norm(dim=1, keepdim=True) * z1.norm(dim=1, keepdim=True))
    omega = torch.arccos(cos.clamp(-1 + 1e-7, 1 - 1e-7))
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def interpolate(z0: torch.Tensor, z1: torch.Tensor, t: float, spherical: bool = False) -> torch.Tensor:
    """z(t) = (1 − t)·z0 + t·z1, or the spherical path (which keeps ‖z‖ near √d for Gaussian z)."""
    return _slerp(z0, z1, t) if spherical else (1 - t) * z0 + t * z1


def latent_interpolation(G: torch.nn.Module, z_dim: int, steps: int = 8, seed: int = 0, n: int = 8,
                         ends: tuple[torch.Tensor, torch.Tensor] | None = None):
    """Move between two latent points: ``n`` pairs (z0, z1) drawn with ``seed``, a slider for t in
    ``steps`` positions from 0 to 1, a switch for spherical interpolation, and G(z(t)) shown.
    ``ends=(z0, z1)`` (two n × z_dim tensors, e.g. the encoded codes of real images, chapter 12) fixes the end
    points instead; the seed box then does nothing.

    A smooth change of the images along the path says G maps nearby latents to nearby images;
    the same image everywhere is mode collapse seen from the latent side.
    """
    import ipywidgets as W
    import matplotlib.pyplot as plt

    from .plots import image_grid

    if steps < 2:
        raise ValueError(f"steps must be at least 2 (the two end points), got {steps}.")
    if ends is not None:
        if len(ends) != 2 or ends[0].shape != ends[1].shape or ends[0].dim() != 2 or ends[0].shape[1] != z_dim:
            raise ValueError(f"ends is a pair (z0, z1) of n × {z_dim} tensors of the same shape.")
        n = len(ends[0])
    try:
        dev = next(G.parameters()).device
    except StopIteration:
        dev = torch.device("cpu")

    def draw(t: float, spherical: bool, seed: int):
        if ends is not None:
            z0, z1 = (e.detach().float().cpu() for e in ends)
        else:
            g = torch.Generator().manual_seed(int(seed))
            z0 = torch.randn(n, z_dim, generator=g)
            z1 = torch.randn(n, z_dim, generator=g)
        z = interpolate(z0, z1, float(t), spherical).to(dev)
        was_training = G.training
        G.eval()
        with torch.no_grad():
            x = G(z).detach().cpu()
        G.train(was_training)
        fig, ax = plt.subplots(figsize=(max(2.0, 0.9 * n), 1.4))
        if x.dim() == 2 and x.shape[1] == 2:  # a 2D generator: draw the points
            ax.scatter(x[:, 0], x[:, 1], s=12)
            ax.set_aspect("equal")
        else:
            ax.imshow(image_grid(x, nrow=n), interpolation="nearest")
            ax.set_axis_off()
        ax.set_title(f"t = {float(t):.2f}", fontsize=9)
        plt.close(fig)
        _display(fig)
        return fig

    t = W.FloatSlider(value=0.0, min=0.0, max=1.0, step=1.0 / (steps - 1), description="t",
                      continuous_update=False, readout_format=".2f")
    spherical = W.Checkbox(value=False, description="spherical (slerp)")
    seed_box = W.IntText(value=int(seed), description="seed")
    return W.interactive(draw, t=t, spherical=spherical, seed=seed_box)


__all__ = ["schedule_explorer", "latent_interpolation", "interpolate"]
