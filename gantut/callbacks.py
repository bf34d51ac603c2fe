"""Callbacks for :func:`gantut.fit` that do more than log: a periodic metric, sample grids over training,
a linear learning-rate decay to 0, MD-GAN's halvings, and the seed's "early-stopping" learning-rate decay
from the best checkpoint (seed 002: WGAN-GP FID 28 after 200 epochs; resumed from the best-FID checkpoint,
epoch 150, with both learning rates halved: 16).

All are :class:`gantut.every` objects or make one. :class:`Snapshots` and :class:`BestCheckpointDecay`
also have ``state_dict`` / ``load_state_dict``: put them in ``fit``'s ``state``
(``state={**step.state, "decay": cb}``) and a resumed run keeps its pictures, best checkpoint and decay count.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Callable, Mapping

import torch

from .train import Loop, every

__all__ = ["metric_every", "fid_every", "Snapshots", "lr_decay", "lr_halvings", "BestCheckpointDecay"]


def metric_every(n: int, fn: Callable[[Loop], float], key: str, **kw: Any) -> every:
    """``every(n, ...)`` logging ``{key: fn(loop)}`` in the history."""
    return every(n, lambda loop: {key: float(fn(loop))}, **kw)


def fid_every(n: int, G: torch.nn.Module, z_dim: int, real_stats, n_fake: int = 1000,
              features: str = "classifier:mnist", key: str = "fid", seed: int = 0, **kw: Any) -> every:
    """Log the FID of ``n_fake`` samples of G (a fixed latent draw, ``seed``) against ``real_stats``
    every ``n`` steps (classifier-feature FID by default; N is in the result, see gantut.metrics)."""
    return every(n, _fid_fn(G, z_dim, real_stats, n_fake, features, seed, key), **kw)


def _fid_fn(G, z_dim, real_stats, n_fake, features, seed, key):
    from . import metrics
    from .gan import generate

    def fn(loop: Loop) -> dict[str, float]:
        x = generate(G, n_fake, z_dim, generator=torch.Generator().manual_seed(seed))
        return {key: float(metrics.fid(x, real_stats, features))}
    return fn


class Snapshots:
    """Sample grids over training: ``n`` images of G from one fixed latent draw (``seed``), every ``every_n``
    steps and at step 0.

    A callback (``snaps.callback(every_n)``) and a checkpointable object (``state_dict``): put it in ``fit``'s
    ``state`` and a loaded run keeps its pictures. ``snaps.items`` is ``[(step, images), ...]``.
    """

    def __init__(self, G: torch.nn.Module, z_dim: int, n: int = 64, seed: int = 0) -> None:
        self.G, self.z_dim, self.n, self.seed = G, z_dim, n, seed
        self.items: list[tuple[int, torch.Tensor]] = []

    def take(self, loop: Loop) -> None:
        from .gan import generate

        self.items.append((loop.step, generate(self.G, self.n, self.z_dim,
                                               generator=torch.Generator().manual_seed(self.seed))))

    def callback(self, every_n: int) -> every:
        return every(every_n, self.take, at_start=True)

    def state_dict(self) -> dict:
        return {"steps": [s for s, _ in self.items], "images": [x for _, x in self.items]}

    def load_state_dict(self, state: Mapping) -> None:
        self.items = list(zip(state["steps"], state["images"]))


def _optimizers(state: Mapping[str, Any]) -> dict[str, torch.optim.Optimizer]:
    return {k: v for k, v in state.items() if isinstance(v, torch.optim.Optimizer)}


def lr_decay(state: Mapping[str, Any], steps: int, fraction: float) -> every:
    """Decay every optimiser's learning rate in ``state`` linearly to 0 over the last ``fraction`` of
    ``steps`` (the "train longer, then decay" recipe of the best 2D runs). The rate after step t is
    lr₀·max(0, 1 − (t − t₀)/(steps − t₀)) for t ≥ t₀ = steps·(1 − fraction)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"lr_decay fraction must be in (0, 1], got {fraction}.")
    opts = list(_optimizers(state).values())
    base = [[g["lr"] for g in o.param_groups] for o in opts]
    start = int(steps * (1 - fraction))

    def fn(loop):
        if loop.step >= start:
            f = max(0.0, 1 - (loop.step - start) / max(1, steps - start))
            for o, lrs in zip(opts, base):
                for g, lr in zip(o.param_groups, lrs):
                    g["lr"] = lr * f
        return None

    return every(1, fn, at_end=False)


def lr_halvings(state: Mapping[str, Any], steps: int, at: tuple[float, ...] = (0.25, 0.5, 0.75)) -> every:
    """Halve every optimiser's learning rate in ``state`` after the steps ``int(f · steps)`` for each fraction f
    in ``at`` (MD-GAN's 2D code halves both rates at epochs 500, 1000 and 1500 of 2000: ``at = (0.25, 0.5, 0.75)``)."""
    if any(not 0 < f < 1 for f in at):
        raise ValueError(f"lr_halvings fractions must be in (0, 1), got {at}.")
    opts = list(_optimizers(state).values())
    when = {int(f * steps) for f in at}

    def fn(loop):
        if loop.step in when:
            for o in opts:
                for g in o.param_groups:
                    g["lr"] /= 2
        return None

    return every(1, fn, at_end=False)


def _trainables(state: Mapping[str, Any]) -> dict[str, Any]:
    """Models and optimisers of the loop's state (not batch sources, not this callback)."""
    return {k: v for k, v in state.items() if isinstance(v, (torch.nn.Module, torch.optim.Optimizer))}


class BestCheckpointDecay(every):
    """Track a metric, keep the best state, and on a trigger reload it with smaller learning rates.

    Every ``n`` steps ``metric(loop) -> float`` is computed and logged as ``key``; when it improves
    (``mode="min"``: lower is better, as FID) a copy of every model and optimiser in ``loop.state``
    is kept (in memory; in the checkpoint when the callback is part of fit's ``state``).

    The decay triggers at the first evaluation at or after ``at_step``, or after ``patience``
    evaluations without improvement (plateau), at most ``max_decays`` times. It then

    1. reloads the best models and optimiser states,
    2. sets every optimiser's learning rate to ``factor`` × the rate it had just before,
    3. logs ``lr_decay_from`` (the step of the best state it went back to), ``lr_decay_best``
       (its metric) and ``lr_G`` / ``lr_D``-style scalars (``lr_<optimiser key>``) in the history.

    Training then continues from that state for the remaining steps (the seed: resume from the best
    epoch with both rates halved).
    """

    def __init__(self, n: int, metric: Callable[[Loop], float], *, key: str = "fid", mode: str = "min",
                 at_step: int | None = None, patience: int | None = None, factor: float = 0.5,
                 max_decays: int = 1, at_start: bool = False) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode is 'min' (lower is better, e.g. FID) or 'max', got {mode!r}.")
        if at_step is None and patience is None:
            raise ValueError("give at_step (decay at that step) or patience (decay after that many evaluations "
                             "without improvement), or both.")
        if not 0 < factor:
            raise ValueError(f"factor multiplies the learning rates and must be > 0, got {factor}.")
        super().__init__(n, self._evaluate, at_start=at_start, at_end=True)
        self.metric, self.key, self.mode = metric, key, mode
        self.at_step, self.patience, self.factor, self.max_decays = at_step, patience, factor, max_decays
        self.best: float = math.inf if mode == "min" else -math.inf
        self.best_step: int | None = None
        self.best_state: dict[str, Any] | None = None
        self.since_best = 0
        self.decays: list[dict[str, float]] = []

    def _better(self, value: float) -> bool:
        return value < self.best if self.mode == "min" else value > self.best

    def _evaluate(self, loop: Loop) -> dict[str, float]:
        value = float(self.metric(loop))
        out = {self.key: value}
        if self._better(value):
            self.best, self.best_step, self.since_best = value, loop.step, 0
            self.best_state = {k: copy.deepcopy(v.state_dict()) for k, v in _trainables(loop.state).items()}
        else:
            self.since_best += 1
        if len(self.decays) < self.max_decays and not loop.is_last and self.best_state is not None:
            due_step = self.at_step is not None and loop.step >= self.at_step and not self.decays
            plateau = self.patience is not None and self.since_best >= self.patience
            if due_step or plateau:
                out.update(self.decay(loop))
        return out

    def decay(self, loop: Loop) -> dict[str, float]:
        """Reload the best state and multiply every learning rate by ``factor``; returns what it logged."""
        opts = _optimizers(loop.state)
        if not opts:
            raise ValueError("BestCheckpointDecay found no optimiser in fit's state; pass state=step.state "
                             "(it must hold opt_G and opt_D).")
        lrs = {k: [g["lr"] for g in o.param_groups] for k, o in opts.items()}
        for k, obj in _trainables(loop.state).items():
            obj.load_state_dict(self.best_state[k])
        out = {"lr_decay_from": float(self.best_step), "lr_decay_best": float(self.best)}
        for k, o in opts.items():
            for g, lr in zip(o.param_groups, lrs[k]):
                g["lr"] = lr * self.factor
            out[f"lr_{k.removeprefix('opt_')}"] = o.param_groups[0]["lr"]
        self.since_best = 0
        self.decays.append({"step": float(loop.step), **out})
        return out

    def __repr__(self) -> str:
        when = f"at step {self.at_step}" if self.at_step is not None else f"after {self.patience} evaluations without improvement"
        return (f"BestCheckpointDecay({self.key} every {self.n} steps ({self.mode}), decay {when}: back to the best "
                f"state, learning rates × {self.factor:g}, at most {self.max_decays} time(s))")

    # so that fit can checkpoint it (put it in fit's state)
    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_step": self.best_step, "since_best": self.since_best,
                "best_state": self.best_state, "decays": list(self.decays)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best, self.best_step = float(state["best"]), state["best_step"]
        self.since_best, self.best_state = int(state["since_best"]), state["best_state"]
        self.decays = list(state["decays"])
