"""Chapter 10's checker: ProGAN's fade-in of a new stage."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from .core import GradingError, _graded, _list, _ok, _unchanged, check_callable

__all__ = ["check_fade_in"]

_FADE = ("out = (1 − a)·↑(prev_rgb) + a·new_rgb, ↑ the nearest-neighbour ×2 upsampling "
         "(F.interpolate(prev_rgb, scale_factor=2, mode='nearest'))")


def _up(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


def _mistakes(prev: torch.Tensor, new: torch.Tensor, a: float) -> list[tuple[torch.Tensor, str]]:
    bilinear = F.interpolate(prev, scale_factor=2, mode="bilinear", align_corners=False)
    return [
        (a * _up(prev) + (1 - a) * new, "The weights are swapped: a is the new head's weight (a = 0 shows the old "
                                        "stage, a = 1 the new one): (1 − a)·↑(prev) + a·new."),
        ((1 - a) * bilinear + a * new, "That upsamples with bilinear interpolation; ProGAN's upscale2d repeats each "
                                       "pixel 2×2 (mode='nearest'), so a = 0 is exactly the old stage's image."),
        (_up(prev) + a * new, "The old image's weight must fall as the new one's rises: (1 − a)·↑(prev), not ↑(prev)."),
        ((1 - a) * _up(prev) + new, "The new head must enter with weight a: a·new, not new."),
        ((1 - a) * _up(prev) + a * _up(F.avg_pool2d(new, 2)), "Only the old image is resized: the new head already "
                                                              "has the stage's size. Do not downsample new_rgb."),
    ]


@_graded(_FADE)
def check_fade_in(fn: Callable, name: str = "fade_in") -> None:
    """Check ``fn(prev_rgb, new_rgb, alpha)`` -> N×C×2H×2W: a = 0 gives the old stage's image upscaled exactly,
    a = 1 the new head's, a = 0.3 the lerp, on 1- and 3-channel batches and non-square maps; names swapped weights,
    bilinear upsampling, a missing (1 − a) or a, and a downsampled new head; inputs unchanged; gradients reach both
    heads with weights (1 − a)·4 per old pixel (its four copies) and a per new pixel."""
    call = check_callable(fn, name)
    g = torch.Generator().manual_seed(3)
    cases = [(torch.randn(2, 1, 2, 2, generator=g), torch.randn(2, 1, 4, 4, generator=g)),
             (torch.randn(1, 3, 2, 3, generator=g), torch.randn(1, 3, 4, 6, generator=g))]
    for prev, new in cases:
        for a in (0.0, 1.0, 0.3):
            what = f"{name}(prev_rgb {tuple(prev.shape)}, new_rgb {tuple(new.shape)}, alpha={a:g})"
            before = {"prev_rgb": (prev, prev.clone()), "new_rgb": (new, new.clone())}
            out = call(prev, new, a)
            _unchanged(what, before)
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(new.shape):
                raise GradingError(f"{what} should return a tensor shaped like new_rgb {tuple(new.shape)}, got "
                                   f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}: "
                                   "upsample prev_rgb ×2 first.")
            want = (1 - a) * _up(prev) + a * new
            if torch.allclose(out, want, atol=1e-5):
                continue
            for value, message in _mistakes(prev, new, a):
                if value.shape == out.shape and torch.allclose(out, value, atol=1e-5):
                    raise GradingError(f"{what} differs from the fade-in (largest gap "
                                       f"{(out - want).abs().max().item():.3g}). {message}")
            raise GradingError(f"{what} differs from the fade-in by up to {(out - want).abs().max().item():.3g}; "
                               f"first values {_list(out.flatten()[:4])}, expected {_list(want.flatten()[:4])}. "
                               f"Expected {_FADE}.")
    _ok(f"{name}: a = 0 the old stage upscaled (nearest), a = 1 the new head, a = 0.3 the lerp; 1 and 3 channels")

    prev = torch.randn(1, 1, 2, 2, generator=g, requires_grad=True)
    new = torch.randn(1, 1, 4, 4, generator=g, requires_grad=True)
    out = call(prev, new, 0.25)
    if not out.requires_grad:
        raise GradingError(f"{name}: no gradient flows back to the heads (did you detach or use .data?).")
    gp, gn = torch.autograd.grad(out.sum(), [prev, new], allow_unused=True)
    if gp is None or gn is None or not (torch.allclose(gp, torch.full_like(prev, 0.75 * 4)) and
                                        torch.allclose(gn, torch.full_like(new, 0.25))):
        raise GradingError(f"{name}: d(sum of the output)/d prev_rgb should be (1 − a)·4 = 3 per pixel (each old pixel "
                           f"is copied to 4) and d/d new_rgb a = 0.25; got {None if gp is None else _list(gp.flatten())} "
                           f"and {None if gn is None else _list(gn.flatten()[:4])}.")
    _ok(f"{name}: gradients (1 − a)·4 per old pixel and a per new pixel reach both heads")
