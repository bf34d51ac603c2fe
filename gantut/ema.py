"""An exponential moving average (EMA) of the generator's weights.

Sample from an average of G's recent iterates instead of the last one (Karras et al. 2018,
arXiv:1710.10196, Sec. A.1, β = 0.999; Yazıcı et al. 2019, arXiv:1806.04498, Eq. 2):

    θ_EMA(t) = β · θ_EMA(t−1) + (1 − β) · θ(t)

The average damps the oscillation of the adversarial game around its equilibrium, so the averaged G is
often better (sharper digits, lower FID) than the last iterate at no extra training cost: only one extra
copy of G and one ``lerp`` per update. Buffers (BatchNorm's running mean and variance) are not averaged but
copied from G, as in the reference implementations, so that ``G_ema`` in eval mode uses G's statistics.

Use with :func:`gantut.fit`::

    ema = EMA(step.G, beta=0.999, start=500)
    fit(step, batches, steps, state={**step.state, "ema": ema}, callbacks=[ema.callback()])
    x = generate(ema.G_ema, 1000, z_dim)

``start`` is a warm-up: until step ``start`` the average is reset to G at every update (a plain copy), so the
random initial weights do not linger in it (the averaged G otherwise remembers them for about 1/(1−β) updates).
With BatchNorm in G the copied running statistics belong to G's current weights, not to the averaged ones;
:func:`recompute_batchnorm` re-estimates them for ``G_ema`` from its own activations before sampling.

Putting the EMA in fit's ``state`` checkpoints it, so a resumed run ends with the same ``G_ema``.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from .train import Loop, every

__all__ = ["EMA", "recompute_batchnorm"]


class EMA:
    """A shadow copy ``G_ema`` of ``G`` (eval mode, no gradients) updated by θ_EMA ← β θ_EMA + (1 − β) θ.

    Parameters
    ----------
    G : the generator being trained (its weights are read, never changed).
    beta : the decay β in [0, 1). β = 0 copies G; 0.999 averages over about the last 1,000 updates.
    start : warm-up; an update at a step ``<= start`` copies G instead of averaging (0 = average from the
        first update on).
    """

    def __init__(self, G: nn.Module, beta: float = 0.999, start: int = 0) -> None:
        if not 0.0 <= float(beta) < 1.0:
            raise ValueError(f"EMA beta is a decay in [0, 1) (0 copies G, 0.999 is usual); got {beta}.")
        if int(start) < 0:
            raise ValueError(f"EMA start is a step count, >= 0; got {start}.")
        self.G = G
        self.beta, self.start = float(beta), int(start)
        self.G_ema = copy.deepcopy(G).eval().requires_grad_(False)
        self.updates = 0  # averaging updates done (copies during the warm-up not counted)

    @torch.no_grad()
    def update(self, step: int | None = None) -> None:
        """One update: θ_EMA ← β θ_EMA + (1 − β) θ for every parameter, buffers copied.

        ``step`` (the training step just done, as fit's callback passes it) applies the warm-up: a step
        ``<= start`` copies G's parameters instead.
        """
        warm = step is not None and step <= self.start
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
            if warm:
                p_ema.copy_(p)
            else:
                p_ema.lerp_(p.detach(), 1.0 - self.beta)  # p_ema + (1 − β)(p − p_ema) = β p_ema + (1 − β) p
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)
        if not warm:
            self.updates += 1

    def callback(self, every_n: int = 1) -> every:
        """A :class:`gantut.train.every` for fit: :meth:`update` after every ``every_n`` steps.

        With ``every_n`` = k the average spans about k/(1 − β) steps (β acts per update, not per step).
        """
        def fn(loop: Loop) -> None:
            self.update(loop.step)

        return every(every_n, fn, at_end=False)

    def state_dict(self) -> dict[str, Any]:
        return {"G_ema": self.G_ema.state_dict(), "updates": self.updates, "beta": self.beta, "start": self.start}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.G_ema.load_state_dict(state["G_ema"])
        self.updates = int(state["updates"])
        self.beta, self.start = float(state.get("beta", self.beta)), int(state.get("start", self.start))

    def __repr__(self) -> str:
        return f"EMA(beta={self.beta:g}, start={self.start}, updates={self.updates})"


@torch.no_grad()
def recompute_batchnorm(G: nn.Module, z_dim: int, n_batches: int = 20, batch_size: int = 64,
                        generator: torch.Generator | None = None) -> nn.Module:
    """Re-estimate the running mean and variance of every BatchNorm of ``G`` (in place) from ``n_batches`` batches
    of z ~ N(0, I): the cumulative average of the batch statistics (``momentum=None``), forward passes in
    train mode, no gradients. Returns G in eval mode. For an averaged G, whose weights no running statistics
    were ever computed for. Latents come from ``generator`` (a CPU generator) when given."""
    bns = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return G.eval()
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    dev = next(G.parameters()).device
    G.train()
    try:
        for _ in range(n_batches):
            G(torch.randn(batch_size, z_dim, generator=generator).to(dev))
    finally:
        for m, mom in zip(bns, saved):
            m.momentum = mom
    return G.eval()
