"""The MNIST / Fashion-MNIST protocol of chapter 02 (and the image chapters that compare with it):
train a GAN step with FID and sample grids over training, then score it on a fixed budget.

* :func:`train` — load-or-train one run (:func:`gantut.fit` with a checkpoint): the history holds the
  losses, ``fid`` every ``eval_every`` steps (N generated vs N test images, classifier features) and
  ``train_seconds``; ``run.snaps`` the sample grids over training (checkpointed with the models, so
  a loaded run still has them).
* :func:`evaluate` — FID, precision/recall (k = 3), density/coverage (k = 5) and the class histogram
  of N generated images against N test images, all in the shipped classifier's feature space.
* :func:`real_floor` / :func:`floor_fid` — the same numbers for the first N *training* images against the
  same N test images: what a perfect generator of this data would score at this N (FID's small-N bias).
* :func:`table` — mean ± std over seeds as a markdown table.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from . import data, metrics
from .callbacks import fid_every
from .gan import generate
from .train import History, every, fit, run_path

__all__ = ["DATASETS", "Snapshots", "Run", "Eval", "load", "train", "evaluate", "real_floor", "table"]

DATASETS = {"mnist": "mnist", "fashion": "fashion"}  # parameter value -> classifier / reference_stats name


def _check(dataset: str) -> str:
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {sorted(DATASETS)}, got {dataset!r}.")
    return DATASETS[dataset]


@functools.lru_cache(maxsize=4)
def load(dataset: str, split: str) -> data.ImageData:
    """``dataset`` = "mnist" | "fashion", ``split`` = "train" | "test" (loaded once per process)."""
    return data.load(_check(dataset), split)


class Snapshots:
    """Sample grids over training: ``n`` images of G from one fixed latent draw, every ``every_n`` steps.

    A callback (``snaps.callback()``) and a checkpointable object (``state_dict``), so put it in
    ``fit``'s state and a loaded run keeps its pictures. ``snaps.items`` is ``[(step, images), ...]``.
    """

    def __init__(self, G: torch.nn.Module, z_dim: int, n: int = 64, seed: int = 0) -> None:
        self.G, self.z_dim, self.n, self.seed = G, z_dim, n, seed
        self.items: list[tuple[int, torch.Tensor]] = []

    def take(self, loop) -> None:
        self.items.append((loop.step, generate(self.G, self.n, self.z_dim,
                                               generator=torch.Generator().manual_seed(self.seed))))

    def callback(self, every_n: int) -> every:
        return every(every_n, self.take, at_start=True)

    def state_dict(self) -> dict:
        return {"steps": [s for s, _ in self.items], "images": [x for _, x in self.items]}

    def load_state_dict(self, state: Mapping) -> None:
        self.items = list(zip(state["steps"], state["images"]))


@dataclass
class Run:
    """One trained (or loaded) run."""

    name: str
    dataset: str
    seed: int
    steps: int
    step: Any                      # the GAN step (``step.G``, ``step.D``)
    history: History
    snaps: list[tuple[int, torch.Tensor]]
    seconds: float                 # wall-clock seconds of training, as recorded when it was trained
    loaded: bool                   # True when this call trained nothing

    @property
    def G(self) -> torch.nn.Module:
        return self.step.G

    def __str__(self) -> str:
        how = "loaded" if self.loaded else "trained"
        fid = f", last FID {self.history.last('fid'):.2f}" if "fid" in self.history else ""
        return f"{self.name} seed {self.seed}: {how}, {self.steps} steps, {self.seconds:.0f} s of training{fid}"


def train(name: str, make_step: Callable[[int], Any], dataset: str = "mnist", seed: int = 0, steps: int = 1000,
          batch_size: int = 64, *, eval_every: int | None = None, n_eval: int = 1000, n_snap: int = 64,
          key: Mapping[str, Any] | None = None, checkpoint: bool = True, progress: bool | None = None) -> Run:
    """Load-or-train ``make_step(seed)`` (a step with ``.G``, ``.z_dim``, ``.state``; e.g.
    ``lambda s: gantut.mnist_models.build("vanilla", s)``) on the training split of ``dataset``.

    eval_every : FID of ``n_eval`` samples (fixed latents) against ``n_eval`` test images, and a sample
        grid, every this many steps (default: 8 times per run).
    key : the hyperparameters that make this run differ (they enter the checkpoint name with
        ``name``, dataset and its source, seed, steps, batch size, n_eval); ``checkpoint=False`` always trains.
    """
    train_set = load(dataset, "train")
    step = make_step(seed)
    z_dim = int(step.z_dim)
    dev = next(step.G.parameters()).device
    batches = data.TensorBatches(train_set.images, step.real_batch(batch_size),
                                 generator=torch.Generator().manual_seed(seed), device=dev)
    eval_every = eval_every or max(1, steps // 8)
    snaps = Snapshots(step.G, z_dim, n_snap, seed)
    real = metrics.reference_stats(_check(dataset), "test", n=n_eval, features=f"classifier:{_check(dataset)}")
    callbacks = [snaps.callback(eval_every),
                 fid_every(eval_every, step.G, z_dim, real, n_fake=n_eval, features=f"classifier:{_check(dataset)}",
                           seed=seed + 1000, at_start=True)]
    path = None
    if checkpoint:
        path = run_path("images", dataset, name, seed=seed, steps=steps, batch_size=batch_size, n_eval=n_eval,
                        n_snap=n_snap, eval_every=eval_every, source=train_set.source, **dict(key or {}))
    history = fit(step, batches, steps, state={**step.state, "snaps": snaps}, callbacks=callbacks,
                  checkpoint=path, desc=f"{dataset} {name} seed {seed}", progress=progress)
    return Run(name, dataset, seed, steps, step, history, snaps.items, history.train_seconds, history.loaded)


@dataclass
class Eval:
    """FID, PRDC and class coverage of one set of images, each carrying its N and feature space."""

    fid: metrics.FIDResult
    prdc: metrics.PRDC
    classes: metrics.ClassCoverage

    def values(self) -> dict[str, float]:
        return {"FID": self.fid.value, "precision": self.prdc.precision, "recall": self.prdc.recall,
                "density": self.prdc.density, "coverage": self.prdc.coverage,
                "classes": self.classes.classes_covered, "class KL": self.classes.kl_to_uniform}

    def __str__(self) -> str:
        return f"{self.fid}\n{self.prdc}\n{self.classes}"


def _score(x: torch.Tensor, dataset: str, n: int) -> Eval:
    name = _check(dataset)
    space = f"classifier:{name}"
    test = load(dataset, "test").images
    if n > len(test):
        raise ValueError(f"n = {n} is more than the {len(test)} test images of {dataset}; use n <= {len(test)}.")
    real = test[torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[:n]] if n < len(test) else test
    return Eval(metrics.fid(x, metrics.reference_stats(name, "test", n=n, features=space), space),
                metrics.prdc(x, real, space, k_pr=3, k_dc=5), metrics.class_coverage(x, name))


def evaluate(G: torch.nn.Module, dataset: str = "mnist", n: int = 1000, seed: int = 0, z_dim: int | None = None) -> Eval:
    """Score ``n`` samples of G (latents seeded ``seed``, eval mode) against ``n`` test images of ``dataset``
    (the same seeded subset as :func:`gantut.metrics.reference_stats`)."""
    zd = int(z_dim or getattr(G, "z_dim", 100))
    return _score(generate(G, n, zd, generator=torch.Generator().manual_seed(seed)), dataset, n)


def real_floor(dataset: str = "mnist", n: int = 1000) -> Eval:
    """The real-vs-real floor, the one convention of every MNIST / Fashion-MNIST number in the collection:
    the **first** ``n`` training images scored like a generator against the ``n`` test images every model is
    scored against (:func:`gantut.metrics.reference_stats`). What a perfect generator of this data would
    score at this N, in this feature space (FID's small-N bias). The offline MNIST training split is stored
    digit-balanced, so its first 1,000 images hold 100 of each digit."""
    return _score(load(dataset, "train").images[:n], dataset, n)


def floor_fid(dataset: str = "mnist", n: int = 1000) -> metrics.FIDResult:
    """Only the FID of :func:`real_floor` (classifier features of ``dataset``, N = ``n``)."""
    space = f"classifier:{_check(dataset)}"
    return metrics.fid(load(dataset, "train").images[:n], metrics.reference_stats(_check(dataset), "test", n=n,
                                                                                   features=space), space)


def _fmt(values: Sequence[float], digits: int) -> str:
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"


def table(rows: Mapping[str, Sequence[Eval]]) -> str:
    """Markdown: one row per name, mean ± std (ddof 1) over its evaluations (one per seed)."""
    cols = [("FID", 2), ("precision", 3), ("recall", 3), ("density", 3), ("coverage", 3), ("classes", 1),
            ("class KL", 3)]
    first = next(iter(rows.values()))[0]
    lines = [f"N = {first.fid.n_fake} generated vs {first.fid.n_real} test images, {first.fid.features} features; "
             f"P/R k = {first.prdc.k_pr}, D/C k = {first.prdc.k_dc}; mean ± std over runs.", "",
             "| | runs | " + " | ".join(c for c, _ in cols) + " |", "|---|---|" + "---|" * len(cols)]
    for name, evals in rows.items():
        vals = [e.values() for e in evals]
        lines.append(f"| {name} | {len(evals)} | " + " | ".join(_fmt([v[c] for v in vals], d) for c, d in cols) + " |")
    return "\n".join(lines)


