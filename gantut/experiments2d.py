"""The 2D experiment protocol shared by chapters 01, 03, 04, 05 and 07: train one technique on a
Gaussian mixture for one seed, score it, repeat over seeds, print a table beside the published rows.

Protocol (VEEGAN, Srivastava et al. 2017, arXiv:1705.07761; PacGAN, Lin et al. 2018, arXiv:1712.04086): after training,
**2,500 samples** from G (latent draw seeded by ``1000 + seed``); a sample is high quality (HQ) within
3 σ of its nearest mode; a mode is captured if it is the nearest mode of at least one HQ sample;
reverse KL of the HQ mode histogram to uniform (:func:`gantut.metrics.mode_metrics`). Several seeds,
mean ± std (ddof 1).

A technique is a function ``make_step(seed) -> (step, state)``: it builds the networks (on
``gantut.device()``) and optimisers for one seed (the global RNG is already seeded with ``seed``) and returns the step for
:func:`gantut.fit` and the state ``{"G": G, "D": D, "opt_G": ..., ...}``. ``state["G"]`` is sampled
with the step's latent prior (``step.prior``; z ~ N(0, I) of size ``step.z_dim`` by default).

The recipes of every 2D technique live here, beside the protocol: :func:`gan_2d` (vanilla, unrolled,
R1), :func:`wgan_gp_2d`, :func:`mdgan_2d`, and the named entries of :data:`RECIPES_2D` that the
chapters, ``scripts/table_2d.py`` and ``benchmarks/bench_2d_best.py`` all build from::

    def vanilla(seed):
        G, D = nets.mlp2d_G(), nets.mlp2d_D()
        step = GANStep(G, D, Adam(G.parameters(), 1e-3, betas=(0.5, 0.999)),
                       Adam(D.parameters(), 1e-3, betas=(0.5, 0.999)), z_dim=2)
        return step, step.state

    res = run_2d(vanilla, data.ring(), seed=0, steps=2000, snapshot_every=500)
    print(res.metrics)                                  # modes k/8, HQ %, rKL [N=2500]
    table = compare_2d({"vanilla GAN": vanilla}, data.ring(), seeds=[0, 1, 2], steps=2000)
    table                                               # a markdown table in a notebook
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from . import config, mdgan, metrics, nets
from .callbacks import lr_decay, lr_halvings
from .gan import GANStep, generate
from .pacgan import PackedD
from .priors import Prior, UniformPrior, as_prior
from .unrolled import UnrolledStep
from .train import History, every, fit, load_checkpoint, save_checkpoint

__all__ = ["BEST_GRID", "BEST_GRID_V2", "BEST_RING", "BEST_RING_V2", "N_EVAL", "R1_GAMMA_2D", "RECIPES_2D", "REFERENCE_ROWS", "Recipe2D", "Result", "Table", "compare_2d",
           "gan_2d", "lr_decay", "mdgan_2d", "recipe_2d", "reference_rows", "run_2d", "run_recipe_2d",
           "wgan_gp_2d"]

N_EVAL = 2500  # samples scored per run (VEEGAN / PacGAN)

MakeStep = Callable[[int], "tuple[Callable[[torch.Tensor], Mapping[str, Any]], Mapping[str, Any]]"]

# Published rows (VEEGAN Table 1; PacGAN Table 1): (method, source, mixture, modes, HQ %, reverse KL). Their own networks,
# budgets and spreads (VEEGAN: mean of 5 runs; PacGAN: mean ± standard error of 10 runs).
REFERENCE_ROWS: list[tuple[str, str, str, str, str, str]] = [
    ("GAN", "VEEGAN Table 1", "ring8", "1", "99.3", ""),
    ("Unrolled GAN", "VEEGAN Table 1", "ring8", "7.6", "35.6", ""),
    ("VEEGAN", "VEEGAN Table 1", "ring8", "8", "52.9", ""),
    ("GAN", "PacGAN Table 1 (± s.e.)", "ring8", "6.3 ± 0.5", "98.2 ± 0.2", "0.45 ± 0.09"),
    ("PacGAN4", "PacGAN Table 1 (± s.e.)", "ring8", "7.8 ± 0.1", "95.9 ± 1.4", "0.07 ± 0.02"),
    ("GAN", "VEEGAN Table 1", "grid25", "3.3", "0.5", ""),
    ("Unrolled GAN", "VEEGAN Table 1", "grid25", "23.6", "16", ""),
    ("VEEGAN", "VEEGAN Table 1", "grid25", "24.6", "40", ""),
    ("GAN", "PacGAN Table 1 (± s.e.)", "grid25", "17.3 ± 0.8", "94.8 ± 0.7", "0.70 ± 0.07"),
    ("PacGAN4", "PacGAN Table 1 (± s.e.)", "grid25", "24.8 ± 0.2", "93.6 ± 0.6", "0.04 ± 0.01"),
]


def reference_rows(mixture: str) -> list[tuple[str, str, str, str, str, str]]:
    """The published rows for ``"ring8"`` or ``"grid25"`` (empty for other mixtures)."""
    return [r for r in REFERENCE_ROWS if r[2] == mixture]


@dataclass
class Result:
    """One run: final :class:`~gantut.metrics.ModeMetrics` on ``N_EVAL`` samples, the snapshots
    ``[(step, points)]``, the training :class:`~gantut.train.History`, wall-clock ``seconds`` of training,
    the scored ``samples``, and ``state`` (the trained models; ``None`` when loaded from a cache)."""

    metrics: metrics.ModeMetrics
    snaps: list[tuple[int, torch.Tensor]]
    history: History
    seconds: float
    samples: torch.Tensor
    seed: int
    steps: int
    state: Mapping[str, Any] | None = field(default=None, repr=False)
    threads: int = field(default_factory=torch.get_num_threads)

    def __str__(self) -> str:
        return (f"seed {self.seed}, {self.steps} steps: {self.metrics} ({self.seconds:.0f} s, "
                f"{self.threads} thread{'s' if self.threads > 1 else ''})")

    def to_payload(self) -> dict:
        m = self.metrics
        return {"metrics": [m.modes, m.n_modes, m.hq, m.reverse_kl, m.n, m.n_std],
                "snap_steps": [s for s, _ in self.snaps], "snap_points": [p for _, p in self.snaps],
                "history": self.history.state_dict(), "seconds": self.seconds, "samples": self.samples,
                "seed": self.seed, "steps": self.steps, "threads": self.threads}

    @classmethod
    def from_payload(cls, p: Mapping) -> "Result":
        modes, n_modes, hq, rkl, n, n_std = p["metrics"]
        h = History()
        h.load_state_dict(p["history"])
        return cls(metrics.ModeMetrics(int(modes), int(n_modes), float(hq), float(rkl), int(n), float(n_std)),
                   list(zip(p["snap_steps"], p["snap_points"])), h, float(p["seconds"]), p["samples"],
                   int(p["seed"]), int(p["steps"]), threads=int(p.get("threads", 0)))


# R1's γ for the 2D GAN (chapter 06), per mixture: tuned by single runs (seed 0, 4,000 steps + decay) over
# {0.01, 0.03, 0.1} (ring) and {0.01, 0.1, 1} (grid); scripts/table_2d.py records the runs. The grid is 4× wider,
# so D's input gradients are smaller there and a larger γ is needed for the same effect.
R1_GAMMA_2D = {"ring8": 0.03, "grid25": 0.1}


def gan_2d(*, K: int = 0, order: str = "first", r1_gamma: float = 0.0, lr: float = 1e-3,
           betas: tuple[float, float] = (0.5, 0.999), hidden: int = 128, pack: int = 1) -> MakeStep:
    """``make_step`` for the 2D MLP GAN of chapters 01, 05 and 06 (for :func:`run_2d` / :func:`compare_2d`).

    G = ``nets.mlp2d_G`` (z ~ N(0, I₂)), D = ``nets.mlp2d_D``, both ``hidden`` wide with two hidden layers,
    Adam(``lr``, ``betas``) for both, the non-saturating loss. ``K > 0``: G is updated against D unrolled K
    Adam steps ahead (chapter 05, :class:`gantut.unrolled.UnrolledStep`, ``order`` "first" or "second").
    ``r1_gamma > 0``: the R1 penalty (γ/2)·E‖∇D(x)‖² on real data in D's update (chapter 06).
    ``pack = m > 1``: PacGAN, D judges packs of m samples (:class:`gantut.pacgan.PackedD`; D's input is 2m wide);
    the batch must be a multiple of m.
    """
    def make_step(seed: int):
        G = nets.mlp2d_G(z_dim=2, hidden=hidden).to(config.device())
        D = nets.mlp2d_D(hidden=hidden) if pack == 1 else PackedD(nets.mlp2d_D(hidden=hidden, in_dim=2 * pack), pack)
        D = D.to(config.device())
        opt_G = torch.optim.Adam(G.parameters(), lr, betas=betas)
        opt_D = torch.optim.Adam(D.parameters(), lr, betas=betas)
        if K:
            step = UnrolledStep(G, D, opt_G, opt_D, z_dim=2, K=K, order=order, loss="nonsaturating",
                                g_objective="loss", r1_gamma=r1_gamma)
        else:
            step = GANStep(G, D, opt_G, opt_D, z_dim=2, loss="nonsaturating", r1_gamma=r1_gamma)
        return step, step.state

    return make_step


def wgan_gp_2d(*, gp_lambda: float = 0.1, n_critic: int = 5, lr: float = 1e-4,
               betas: tuple[float, float] = (0.5, 0.9)) -> MakeStep:
    """``make_step`` for the 2D WGAN-GP of chapter 03: the same MLPs as :func:`gan_2d`, the WGAN loss with the
    gradient penalty, 5 critic updates per G update, Adam 1e-4 β (0.5, 0.9), λ = 0.1 (igul222/improved_wgan_training,
    gan_toy.py, uses λ 0.1 for its toy data). A step takes ``n_critic × batch`` real samples."""
    def make_step(seed: int):
        G, D = nets.mlp2d_G(z_dim=2).to(config.device()), nets.mlp2d_D().to(config.device())
        step = GANStep(G, D, torch.optim.Adam(G.parameters(), lr, betas=betas),
                       torch.optim.Adam(D.parameters(), lr, betas=betas), z_dim=2, loss="wgan",
                       gp_lambda=gp_lambda, n_critic=n_critic)
        return step, step.state

    return make_step


def mdgan_2d(*, d: int = 9, sigma2: float = 0.25, lr: float = 1e-3, g_loss: str = "saturating") -> MakeStep:
    """``make_step`` for the 2D MD-GAN of chapter 04 (the paper's 2D nets, :func:`gantut.mdgan.mdgan2d_G` /
    ``mdgan2d_D``; u ~ U[−1, 1]² latents; a d-vertex simplex mixture with σ² = 0.25; Adam ``lr`` β (0.5, 0.999))."""
    def make_step(seed: int):
        G, D = mdgan.mdgan2d_G().to(config.device()), mdgan.mdgan2d_D(d=d).to(config.device())
        opt = lambda m: torch.optim.Adam(m.parameters(), lr, betas=(0.5, 0.999))  # noqa: E731
        step = mdgan.MDGANStep(G, D, opt(G), opt(D), UniformPrior(2), mixture=mdgan.SimplexMixture(d, sigma2),
                               g_loss=g_loss)
        return step, step.state

    return make_step


@dataclass(frozen=True)
class Recipe2D:
    """A named 2D recipe: which ``make_step`` builder with which arguments, its budget and its lr decay.

    ``builder`` is ``"gan"`` (:func:`gan_2d`), ``"wgan_gp"`` (:func:`wgan_gp_2d`) or ``"mdgan"``
    (:func:`mdgan_2d`); ``kwargs`` its arguments; ``steps`` None = the caller's budget; ``decay`` the final
    fraction of training over which every learning rate decays linearly to 0; ``r1_per_mixture`` takes R1's
    γ from :data:`R1_GAMMA_2D` for the mixture; ``mixtures`` the mixtures it is meant for (None = any);
    ``batch_size`` real samples per D update (None = the caller's, 256 in the tables); ``halvings`` fractions of
    training after which every learning rate is halved (MD-GAN's schedule).
    """

    name: str
    chapter: str
    builder: str
    kwargs: tuple = ()
    steps: int | None = None
    decay: float = 0.0
    r1_per_mixture: bool = False
    mixtures: tuple | None = None
    batch_size: int | None = None
    halvings: tuple = ()

    def make_step(self, mixture: str) -> MakeStep:
        kw = dict(self.kwargs)
        if self.r1_per_mixture:
            kw["r1_gamma"] = R1_GAMMA_2D[mixture]
        return {"gan": gan_2d, "wgan_gp": wgan_gp_2d, "mdgan": mdgan_2d}[self.builder](**kw)


BEST_RING = "best (ring): unrolled K=1, 1st order + lr decay"
BEST_GRID = "best (grid): R1 + lr decay"
# session 3: tuned on seeds 100-101 (scripts/tune_2d.py, docs/tuning_2d.md), reported on seeds 0-4
BEST_RING_V2 = "best (ring) v2: PacGAN2 + lr decay, 28k steps"
BEST_GRID_V2 = "best (grid) v2: R1 + lr decay, 18k steps"

# Every 2D technique of chapters 01-06 and the best recipes found (tuning notes: scripts/table_2d.py).
RECIPES_2D: dict[str, Recipe2D] = {r.name: r for r in [
    Recipe2D("vanilla GAN (ch01)", "01", "gan"),
    Recipe2D("PacGAN4 (ch01)", "01", "gan", (("pack", 4),)),
    Recipe2D("WGAN-GP (ch03)", "03", "wgan_gp"),
    Recipe2D("MD-GAN (ch04)", "04", "mdgan", halvings=(0.25, 0.5, 0.75)),
    Recipe2D("unrolled K=5, 1st order (ch05)", "05", "gan", (("K", 5), ("order", "first"))),
    Recipe2D("unrolled K=5, 2nd order (ch05)", "05", "gan", (("K", 5), ("order", "second"))),
    Recipe2D("R1 (ch06; γ 0.03 ring, 0.1 grid)", "06", "gan", r1_per_mixture=True),
    Recipe2D(BEST_RING, "05", "gan", (("K", 1), ("order", "first")), steps=9000, decay=0.5, mixtures=("ring8",)),
    Recipe2D(BEST_GRID, "06", "gan", steps=12000, decay=0.5, r1_per_mixture=True, mixtures=("grid25",)),
    Recipe2D(BEST_RING_V2, "01", "gan", (("pack", 2),), steps=28000, decay=0.5, mixtures=("ring8",)),
    Recipe2D(BEST_GRID_V2, "06", "gan", steps=18000, decay=0.5, r1_per_mixture=True, mixtures=("grid25",)),
]}


def recipe_2d(name: str) -> Recipe2D:
    if name not in RECIPES_2D:
        raise ValueError(f"unknown 2D recipe {name!r}; choose one of {sorted(RECIPES_2D)}.")
    return RECIPES_2D[name]


def _prior(step: Any, state: Mapping[str, Any], z_dim: int | None) -> Prior:
    if z_dim is not None:
        return as_prior(int(z_dim))
    if isinstance(getattr(step, "prior", None), Prior):
        return step.prior
    for obj in (step, state.get("G")):
        if getattr(obj, "z_dim", None) is not None:
            return as_prior(int(obj.z_dim))
    raise ValueError("run_2d cannot tell G's latent: give the step a `prior` (or `z_dim`) attribute, or pass z_dim=.")


def run_2d(make_step: MakeStep, mixture, seed: int = 0, steps: int = 2000, batch_size: int = 256, *,
           snapshot_every: int | None = None, n_snap: int = 1000, n_eval: int = N_EVAL, z_dim: int | None = None,
           batch_multiple: int | None = None, decay: float = 0.0, halvings: Sequence[float] = (),
           cache: str | Path | None = None,
           progress: bool = False, desc: str | None = None) -> Result:
    """Train ``make_step(seed)`` on ``mixture`` for ``steps`` steps and score ``n_eval`` samples.

    Seeding: the global RNGs get ``seed`` before ``make_step`` (weights, latents); the real batches come
    from their own generator seeded ``seed``; the scored latents from one seeded ``1000 + seed``, the
    snapshot latents from one seeded ``seed`` (the same z at every snapshot).

    batch_multiple : real samples per step = ``batch_size × batch_multiple``; default: what the step says it
        consumes (``step.real_batch(batch_size)``: one chunk per critic update).
    decay : if > 0, learning rates decay linearly to 0 over that final fraction of training (:func:`lr_decay`).
    halvings : fractions of training after which every learning rate is halved (:func:`gantut.callbacks.lr_halvings`).
    snapshot_every : also keep ``n_snap`` generated points at step 0, every n steps and at the end.
    cache : a ``.pt`` path: if it exists the Result is loaded from it (``state`` is then None),
        otherwise it is written there after training. Key the name by everything that changes the run
        (e.g. ``gantut.run_path("01", "vanilla", mixture="ring8", seed=0, steps=2000)``).
    """
    if cache is not None and Path(cache).exists():
        payload = load_checkpoint(cache)
        if payload.get("gantut_run_2d") != 1 or payload["seed"] != seed or payload["steps"] != steps:
            raise RuntimeError(f"{cache} does not hold run_2d(seed={seed}, steps={steps}); delete it or use another path.")
        return Result.from_payload(payload)
    config.seed_everything(seed)
    step, state = make_step(seed)
    state = dict(state)
    if "G" not in state:
        raise ValueError(f"make_step must return (step, state) with state['G'] the generator; got keys {sorted(state)}.")
    G, zd = state["G"], _prior(step, state, z_dim)
    if batch_multiple:
        n_real = batch_size * batch_multiple
    else:
        n_real = step.real_batch(batch_size) if hasattr(step, "real_batch") else batch_size
    dev = next(G.parameters()).device
    source = mixture.batches(n_real, generator=torch.Generator().manual_seed(seed), device=dev)
    snaps: list[tuple[int, torch.Tensor]] = []
    callbacks = []
    if snapshot_every:
        def snapshot(loop):
            snaps.append((loop.step, generate(G, n_snap, zd, generator=torch.Generator().manual_seed(seed))))
        callbacks.append(every(snapshot_every, snapshot, at_start=True))
    if decay:
        callbacks.append(lr_decay(state, steps, decay))
    if halvings:
        callbacks.append(lr_halvings(state, steps, tuple(halvings)))
    history = fit(step, source, steps, state=state, callbacks=callbacks, progress=progress,
                  desc=desc or f"{mixture.name} seed {seed}")
    seconds = history.seconds
    samples = generate(G, n_eval, zd, generator=torch.Generator().manual_seed(1000 + seed))
    res = Result(metrics.mode_metrics(samples, mixture), snaps, history, seconds, samples, seed, steps, state)
    if cache is not None:
        save_checkpoint(cache, {**res.to_payload(), "gantut_run_2d": 1})
    return res


def run_recipe_2d(name: str, mixture, seed: int = 0, steps: int | None = None, batch_size: int | None = None,
                  **run_kw: Any) -> Result:
    """:func:`run_2d` of a named recipe of :data:`RECIPES_2D` (its own steps, batch and decay unless overridden;
    batch 256 when neither the recipe nor the caller sets one)."""
    r = recipe_2d(name)
    batch_size = batch_size or r.batch_size or 256
    n = steps if steps is not None else r.steps
    if n is None:
        raise ValueError(f"recipe {name!r} has no budget of its own: pass steps=.")
    run_kw.setdefault("decay", r.decay)
    run_kw.setdefault("halvings", r.halvings)
    return run_2d(r.make_step(mixture.name), mixture, seed, n, batch_size, **run_kw)


def _ms(values: Sequence[float], digits: int) -> str:
    return str(metrics.mean_std(values, digits))


@dataclass
class Table:
    """What :func:`compare_2d` returns: ``results[name]`` is the list of :class:`Result` (one per seed).

    ``rows()`` gives one dict per technique (strings ``mean ± std``); ``markdown()`` the table with the
    published rows under it; in a notebook the object displays as that table.
    """

    results: dict[str, list[Result]]
    mixture: str
    steps: int
    batch_size: int
    reference: bool = True

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for name, rs in self.results.items():
            ms = [r.metrics for r in rs]
            out.append({
                "technique": name, "seeds": len(rs),
                "modes": _ms([m.modes for m in ms], 1), "n_modes": ms[0].n_modes,
                "hq": _ms([100 * m.hq for m in ms], 1),
                "reverse_kl": _ms([m.reverse_kl for m in ms], 2),
                "all_modes": sum(m.modes == m.n_modes for m in ms),
                "seconds": _ms([r.seconds for r in rs], 0),
                "per_seed": ", ".join(f"{m.modes}/{100 * m.hq:.0f}%" for m in ms),
            })
        return out

    def mean(self, name: str, key: str) -> float:
        """Mean over seeds of ``modes``, ``hq`` (a fraction) or ``reverse_kl`` for one technique."""
        return float(np.nanmean([getattr(r.metrics, key) for r in self.results[name]]))

    def markdown(self) -> str:
        n = next(iter(self.results.values()))[0].metrics.n if self.results else N_EVAL
        lines = [f"**{self.mixture}**: {self.steps} steps, batch {self.batch_size}, N = {n} samples per run, "
                 "mean ± std (ddof 1) over seeds; HQ = within 3 σ of the nearest mode.", "",
                 "| technique | seeds | modes | HQ % | reverse KL | runs with all modes | per seed (modes/HQ) | s / run |",
                 "|---|---|---|---|---|---|---|---|"]
        for r in self.rows():
            lines.append(f"| {r['technique']} | {r['seeds']} | {r['modes']} | {r['hq']} | {r['reverse_kl']} | "
                         f"{r['all_modes']}/{r['seeds']} | {r['per_seed']} | {r['seconds']} |")
        refs = reference_rows(self.mixture) if self.reference else []
        for method, source, _, modes, hq, rkl in refs:
            lines.append(f"| *{method} — published, {source}* | | {modes} | {hq} | {rkl or '—'} | | | |")
        if refs:
            lines += ["", "*Published rows*: their own networks, budgets and run counts (VEEGAN: 5 runs; PacGAN: "
                      "10 runs, ± standard error; PacGAN's GAN uses 4×400 BN+ReLU G and a maxout D). Targets, not "
                      "the same setup."]
        return "\n".join(lines)

    __str__ = markdown

    def __repr__(self) -> str:  # the table, not every seed's tensors (a notebook's text/plain fallback)
        return self.markdown()

    def _repr_markdown_(self) -> str:
        return self.markdown()


def compare_2d(techniques: Mapping[str, MakeStep], mixture, seeds: Sequence[int] = (0, 1, 2), steps: int = 2000,
               batch_size: int = 256, *, reference: bool = True, cache_dir: str | Path | None = None,
               verbose: bool = True, **run_kw: Any) -> Table:
    """Run every technique over ``seeds`` with :func:`run_2d` (same mixture, steps, batch, N) and tabulate.

    ``run_kw`` goes to :func:`run_2d` (``snapshot_every``, ``decay``, ``z_dim``...). ``cache_dir``: each
    run is cached as ``<cache_dir>/<technique>-<mixture>-s<seed>-n<steps>-b<batch>.pt`` (nothing else enters the
    name: rename the technique, or use another folder, when its hyperparameters change). With ``verbose`` one
    line per finished run is printed. Returns a :class:`Table`.
    """
    if not techniques:
        raise ValueError("compare_2d needs at least one technique: {'name': make_step}.")
    results: dict[str, list[Result]] = {}
    for name, make_step in techniques.items():
        results[name] = []
        for seed in seeds:
            cache = None
            if cache_dir is not None:
                slug = "".join(c if c.isalnum() else "_" for c in name)
                cache = Path(cache_dir) / f"{slug}-{mixture.name}-s{seed}-n{steps}-b{batch_size}.pt"
            res = run_2d(make_step, mixture, seed, steps, batch_size, cache=cache, **run_kw)
            results[name].append(res)
            if verbose:
                print(f"{name} | {mixture.name} | {res}", flush=True)
    return Table(results, mixture.name, steps, batch_size, reference)
