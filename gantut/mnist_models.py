"""Load-or-train the MNIST models of chapters 02, 03 and 06, for the chapters and tables that reuse them.

Chapter 07 (DRS) needs the chapter 02 vanilla GAN and the chapter 03 WGAN-GP; the MNIST results table
(scripts/table_mnist.py) needs every technique over seeds. They all call :func:`load_or_train`, which
trains with :func:`gantut.fit` into a checkpoint under ``runs/checkpoints/mnist/`` keyed by the recipe,
the seed, the number of steps, the batch size and the data source — so a model trained once (by a
chapter or the table) is loaded, not retrained, by everything else that asks for the same setup.

The recipes (chapters 02, 03, 06): the course MLP (``nets.course_G`` / ``nets.course_D``), z 100,
batch 64 real images per D update.

============  =================================================================================
recipe        what
============  =================================================================================
vanilla       non-saturating BCE, D with dropout 0.3 (the widely copied template), Adam 2e-4 (0.5, 0.999)
bn            vanilla + BatchNorm1d after each hidden layer of G (seed 004's "+BN")
wgan          WGAN, weight clipping ±0.01, n_critic 5, RMSprop 5e-5, no dropout
wgan_gp       WGAN-GP, λ 10, n_critic 5, Adam 1e-4 (0.5, 0.9) (igul222 gan_mnist.py), no dropout
wgan_gp_decay wgan_gp + :class:`gantut.callbacks.BestCheckpointDecay`: FID every ``steps // 8`` steps on
              1,000 *training* images; at 3/4 of the steps go back to the best state, halve both rates
r1            non-saturating BCE + R1 (γ = 10, paper's γ/2 convention), Adam 2e-4 (0.5, 0.999), no dropout
============  =================================================================================

A "step" is one G update (n_critic D updates). Pass ``overrides`` (e.g. ``r1_gamma=1.0``) to change a
hyperparameter; it enters the checkpoint key.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import config, data, metrics, nets
from .callbacks import BestCheckpointDecay
from .gan import GANStep, generate
from .train import History, fit, run_path

__all__ = ["RECIPES", "Trained", "build", "load_or_train", "chapter02", "fid_test", "Z_DIM"]

Z_DIM = 100

RECIPES: dict[str, dict[str, Any]] = {
    "vanilla": dict(loss="nonsaturating", dropout=0.3, opt="adam", lr=2e-4, betas=(0.5, 0.999)),
    "bn": dict(loss="nonsaturating", dropout=0.3, batchnorm=True, opt="adam", lr=2e-4, betas=(0.5, 0.999)),
    "wgan": dict(loss="wgan", n_critic=5, clip=0.01, opt="rmsprop", lr=5e-5),
    "wgan_gp": dict(loss="wgan", n_critic=5, gp_lambda=10.0, opt="adam", lr=1e-4, betas=(0.5, 0.9)),
    "wgan_gp_decay": dict(loss="wgan", n_critic=5, gp_lambda=10.0, opt="adam", lr=1e-4, betas=(0.5, 0.9),
                          decay=True),
    "r1": dict(loss="nonsaturating", r1_gamma=10.0, opt="adam", lr=2e-4, betas=(0.5, 0.999)),
}

_STEP_KEYS = ("loss", "n_critic", "gp_lambda", "r1_gamma", "r1_every", "clip")


@dataclass
class Trained:
    """A trained (or loaded) model: G, D, the step, its history, the checkpoint and how long it took."""

    name: str
    G: torch.nn.Module
    D: torch.nn.Module
    step: GANStep
    history: History
    path: Path
    seconds: float  # wall-clock seconds of training, as recorded when it was trained
    loaded: bool  # True when nothing was trained in this call
    z_dim: int = Z_DIM

    def __str__(self) -> str:
        how = "loaded from the checkpoint of an earlier run" if self.loaded else "trained"
        return f"{self.name}: {how} ({self.seconds:.0f} s of training)"


def _recipe(name: str, overrides: dict[str, Any]) -> dict[str, Any]:
    if name not in RECIPES:
        raise ValueError(f"unknown MNIST recipe {name!r}; choose one of {sorted(RECIPES)}.")
    unknown = set(overrides) - set(RECIPES[name]) - set(_STEP_KEYS) - {"dropout", "batchnorm", "betas", "lr"}
    if unknown:
        raise ValueError(f"unknown hyperparameters {sorted(unknown)} for recipe {name!r}.")
    return {**RECIPES[name], **overrides}


def build(name: str, seed: int = 0, device: torch.device | str | None = None, **overrides: Any) -> GANStep:
    """Fresh networks, optimisers and step of a recipe, initialised under ``seed``."""
    r = _recipe(name, overrides)
    config.seed_everything(seed)
    dev = torch.device(device) if device is not None else config.device()
    G = nets.course_G(Z_DIM, batchnorm=r.get("batchnorm", False)).to(dev)
    D = nets.course_D(dropout=r.get("dropout", 0.0)).to(dev)
    if r["opt"] == "rmsprop":
        opt_G, opt_D = (torch.optim.RMSprop(m.parameters(), lr=r["lr"]) for m in (G, D))
    else:
        opt_G, opt_D = (torch.optim.Adam(m.parameters(), lr=r["lr"], betas=tuple(r["betas"])) for m in (G, D))
    kw = {k: r[k] for k in _STEP_KEYS if k in r}
    return GANStep(G, D, opt_G, opt_D, Z_DIM, **kw)


def fid_test(G: torch.nn.Module, n: int = 1000, seed: int = 0, split: str = "test") -> metrics.FIDResult:
    """Classifier-feature FID of ``n`` samples of G (latents from ``seed``) against ``n`` MNIST images of ``split``."""
    x = generate(G, n, Z_DIM, generator=torch.Generator().manual_seed(seed))
    return metrics.fid(x, metrics.reference_stats("mnist", split, n=n), "classifier:mnist")


def load_or_train(name: str, steps: int, seed: int = 0, batch_size: int = 64, *,
                  device: torch.device | str | None = None, progress: bool | None = None,
                  **overrides: Any) -> Trained:
    """Load the checkpoint of (recipe, overrides, seed, steps, batch_size, data) if it is finished, else train.

    An unfinished checkpoint (an interrupted run) is resumed. Returns a :class:`Trained`.
    """
    r = _recipe(name, overrides)
    train = data.load_mnist("train")
    path = run_path("mnist", name, seed=seed, steps=steps, batch_size=batch_size, data=train.source,
                    **{k: v for k, v in r.items()})
    step = build(name, seed, device, **overrides)
    dev = next(step.G.parameters()).device
    batches = data.TensorBatches(train.images, step.real_batch(batch_size),
                                 generator=torch.Generator().manual_seed(seed), device=dev)
    state = dict(step.state)
    callbacks = []
    if r.get("decay"):
        fid_fn = lambda loop: float(fid_test(step.G, 1000, seed=seed + 1000, split="train"))  # noqa: E731
        cb = BestCheckpointDecay(max(1, steps // 8), fid_fn, key="fid_train", at_step=(3 * steps) // 4)
        callbacks.append(cb)
        state["decay"] = cb
    history = fit(step, batches, steps, state=state, callbacks=callbacks, checkpoint=path,
                  desc=f"MNIST {name} seed {seed}", progress=progress)
    return Trained(name, step.G, step.D, step, history, Path(path), history.train_seconds, history.loaded)


def chapter02(recipe: str = "vanilla", steps: int = 1500, seed: int = 0, n_eval: int = 1000,
              eval_every: int | None = None, batch_size: int = 64) -> Trained:
    """Chapter 02's own run of ``recipe`` (``"vanilla"`` or ``"bn"``), loaded from its checkpoint when chapter 02
    has run with the same arguments, else trained the same way (:func:`gantut.experiments_mnist.train` with
    FID and sample grids every ``eval_every`` steps; chapter 02's default is ``steps // 6`` in the cpu profile).
    """
    from . import experiments_mnist as em

    eval_every = eval_every or max(1, steps // config.by_profile(smoke=2, cpu=6, gpu=10))
    run = em.train(recipe, lambda s: build(recipe, s), "mnist", seed, steps, batch_size, eval_every=eval_every,
                   n_eval=n_eval, key=RECIPES[recipe])
    return Trained(f"{recipe} (chapter 02)", run.step.G, run.step.D, run.step, run.history,
                   config.runs_dir() / "checkpoints" / "images" / "mnist", run.seconds, run.loaded)
