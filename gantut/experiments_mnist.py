"""The MNIST / Fashion-MNIST protocol of the image chapters (02-07) and of ``scripts/table_mnist.py``:
one recipe per model, one load-or-train, one evaluation, one floor.

* :class:`Recipe` / :data:`RECIPES` — a model as data: nets, loss, step (GAN, MD-GAN or unrolled), penalties,
  optimiser settings, batch size and the extras of a recipe (lr decay from the best state). A chapter, the
  table script and the results chapter build a model from the same name; :func:`recipe` returns a copy with
  changed fields (``recipe("r1", r1_gamma=1.0)``).
* :func:`train` — load-or-train one (recipe, dataset, seed, steps) with :func:`gantut.fit` into one
  checkpoint folder, ``runs/checkpoints/mnist/``, keyed by **every field** of the recipe, the data source,
  the seed, the steps and the evaluation settings: a model trained once (by a chapter or a table) is loaded,
  not retrained, by everything else that asks for the same setup. The history holds the losses and ``fid``
  every ``eval_every`` steps (N generated vs N test images, classifier features; with ``track=True`` also KID, recall,
  coverage, the recognisable share and seed 000's N = 128 FID: :class:`Tracker`); ``run.snaps`` the sample
  grids over training (checkpointed with the models).
* :func:`evaluate` — FID, precision/recall (k = 3), density/coverage (k = 5), class coverage and the
  recognisability rate of N generated images against N test images, in the shipped classifier's features.
* :func:`real_floor` / :func:`floor_fid` — the same numbers for the first N *training* images against the same
  N test images: what a perfect generator of this data would score at this N (FID's small-N bias).
* :func:`table` — mean ± std over seeds as a markdown table.

A "step" is one G update (``n_critic`` D updates).
"""
from __future__ import annotations

import dataclasses
import functools
import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch

from . import config, data, dls, lfm, mdgan, metrics, nets
from .callbacks import BestCheckpointDecay, Snapshots, fid_every
from .ema import EMA, recompute_batchnorm
from .gan import AdversarialStep, GANStep, generate
from .lsgan import AlphaLSGANStep, AlphaSchedule, Oscillation, equilibrium_losses, oscillation
from .progressive import DPretrainStep, GrowingG, L1StageStep, PairedBatches
from .train import FitResult, every, fit, run_path
from .unrolled import UnrolledStep

__all__ = ["DATASETS", "Z_DIM", "Recipe", "RECIPES", "recipe", "alpha_schedule", "build", "Pretrained", "pretrain", "PRETRAIN_STORE", "Run", "Eval", "load", "training_images", "train",
           "evaluate", "score", "test_images", "TRACKED", "SMALL_N", "TRACK_EVALS", "track_every", "Tracker", "tracker", "tracked_floor", "Curve", "curve", "INVERSION_N", "INVERTED", "inversion", "inversion_tracker", "fid_of", "loss_oscillation", "oscillation_table", "LSGAN_RAMP", "DRSRun", "drs_sample", "real_floor", "reference_images", "reference_rows", "floor_fid", "table"]

DATASETS = {"mnist": "mnist", "fashion": "fashion"}  # parameter value -> classifier / reference_stats name
Z_DIM = 100


def _check(dataset: str) -> str:
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {sorted(DATASETS)}, got {dataset!r}.")
    return DATASETS[dataset]


@functools.lru_cache(maxsize=4)
def load(dataset: str, split: str, size: int = 28) -> data.ImageData:
    """``dataset`` = "mnist" | "fashion", ``split`` = "train" | "test", ``size`` 28 or 32 (padded:
    :func:`gantut.data.pad_to_32`); loaded once per process."""
    return data.load(_check(dataset), split, size=size)


# ---------------------------------------------------------------------------------------------------
# recipes
# ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recipe:
    """One MNIST model, everything that changes its trained weights (all of it enters the checkpoint key).

    step : ``"gan"`` (:class:`~gantut.gan.GANStep`), ``"mdgan"`` (:class:`~gantut.mdgan.MDGANStep`, D with
        ``D_out`` outputs on the unit simplex mixture, σ² 0.25) or ``"unrolled"``
        (:class:`~gantut.unrolled.UnrolledStep`, ``K`` steps of ``order``, G's objective ``g_objective``).
    nets : ``"course"`` (the course MLP, ``nets.course_G`` / ``nets.course_D``), ``"dcgan"`` (DCGAN at ``img_size``
        28 or 32 px, ``base`` channels, DCGAN init; ``G_bn`` / ``D_bn`` BatchNorm, ``sn_G`` / ``sn_D`` spectral
        norm, ``attn`` a self-attention block at that resolution in both nets) or ``"mlp_attn"`` (a DCGAN G and
        seed 004's D: an MLP with self-attention after its FC layers, :class:`gantut.sagan.MLPAttentionD`,
        ``D_sigmoid`` for its sigmoid output). ``D_head`` = (a, b) appends ``a·σ(·) + b`` to D (MD-GAN's bound).
    ema : β of an exponential moving average of G's weights (:class:`gantut.ema.EMA`, from step ``ema_start``;
        0 = none). With an EMA, :attr:`Run.G` is the averaged G, with its BatchNorm statistics re-estimated.
    opt : ``"adam"`` (``betas``) or ``"rmsprop"``; ``lr_G``, ``lr_D`` the two learning rates.
    decay : the seed's lr decay from the best state (:class:`~gantut.callbacks.BestCheckpointDecay`: FID of
        1,000 samples vs 1,000 *training* images every ``steps // 8`` steps; at 3/4 of the steps go back to the
        best state and halve both rates).
    """

    name: str
    chapter: str
    step: str = "gan"
    loss: str = "nonsaturating"
    nets: str = "course"
    batchnorm: bool = False
    dropout: float = 0.0
    base: int = 32
    D_out: int = 1
    D_head: tuple[float, float] | None = None
    opt: str = "adam"
    lr_G: float = 2e-4
    lr_D: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    n_critic: int = 1
    clip: float | None = None
    gp_lambda: float = 0.0
    r1_gamma: float = 0.0
    r1_every: int = 1
    g_loss: str = "saturating"
    K: int = 0
    order: str = "first"
    g_objective: str = "loss"
    decay: bool = False
    batch_size: int = 64
    # the image base of chapters 08-12 (they enter the key only when changed: older models keep their checkpoints)
    img_size: int = 28
    G_bn: bool = True
    D_bn: bool = True
    sn_G: bool = False
    sn_D: bool = False
    attn: int | None = None
    D_sigmoid: bool = False
    ema: float = 0.0
    ema_start: int = 0
    # chapter 09: LSGAN's fake target a = α(t) (loss "ls"), 0 until alpha_start, then alpha_kind up to alpha_max over
    # alpha_length; start and length are fractions of the run's G steps, so one recipe serves every profile's budget
    alpha_max: float = 0.0
    alpha_kind: str = "linear"
    alpha_start: float = 0.0
    alpha_length: float = 0.0
    # chapter 10: nets="growing" (gantut.progressive.GrowingG) and seed 003's pretraining before the GAN: pretrain_steps
    # L1 updates per G stage (4, 8, 16, 32 px) and as many D updates on stored fakes (cpu; pretrain_gpu_steps on a GPU),
    # latents paired with the images once ("fixed") or redrawn per batch, the new head faded in over `fade` of a stage
    pretrain_steps: int = 0
    pretrain_gpu_steps: int = 0
    pairing: str = "fixed"
    fade: float = 0.5
    pretrain_lr: float = 1e-3
    # chapter 11: limited data (the first `subset` training images, or `subset_kind="stratified"`: as many of each
    # class; 0 = all) and seed 000's LFM (gantut.lfm): `lfm` = "adversarial" (Eq. 4) or "cooperative" (the code),
    # orthogonal latent pairs with threshold `lfm_T` (or antipodal pairs), a feature head on D (frozen at init
    # with lfm_head=False), weights lam_D, lam_G
    subset: int = 0
    subset_kind: str = "first"
    lfm: str = ""
    lfm_T: float = 1.5
    lfm_pairs: str = "orthogonal"
    lfm_head: bool = True
    lam_D: float = 0.5
    lam_G: float = 0.5
    # chapter 12: seed 001's encoder head on D (gantut.dls), trained with weight lam_enc in both players' losses:
    # `dls` = "mse" (the plain squared error on z, s = 1: the baseline), "sma" or "ema" (the dynamic latent scale, v
    # traced over the last dls_window batch means of ẑ², or by an EMA with β = dls_beta)
    dls: str = ""
    lam_enc: float = 1.0
    dls_window: int = 512
    dls_beta: float = 0.999
    steps: int = 1500              # the budget in G steps of the cpu profile (and of the table)
    gpu_steps: int = 187_500       # ... of the gpu profile: the seeds' 200 epochs of the full MNIST at batch 64


    def __post_init__(self) -> None:
        for what, value, allowed in [("step", self.step, ("gan", "mdgan", "unrolled")),
                                     ("nets", self.nets, ("course", "dcgan", "mlp_attn", "growing")),
                                     ("pairing", self.pairing, ("fixed", "redrawn")),
                                     ("subset_kind", self.subset_kind, ("first", "stratified")),
                                     ("lfm", self.lfm, ("", *lfm.FORMS)), ("lfm_pairs", self.lfm_pairs,
                                                                          ("orthogonal", "antipodal")),
                                     ("dls", self.dls, ("", "mse", *dls.KINDS)),
                                     ("opt", self.opt, ("adam", "rmsprop")), ("img_size", self.img_size, (28, 32))]:
            if value not in allowed:
                raise ValueError(f"Recipe {self.name!r}: {what} must be one of {allowed}, got {value!r}.")
        if self.nets == "course" and self.img_size != 28:
            raise ValueError(f"Recipe {self.name!r}: the course MLP is a 28 px net; use nets='dcgan' for 32 px.")
        if self.alpha_max and (self.loss != "ls" or self.step != "gan"):
            raise ValueError(f"Recipe {self.name!r}: alpha_max is the fake target of the LSGAN loss; it needs "
                             f"loss='ls' and step='gan' (got loss={self.loss!r}, step={self.step!r}).")
        if self.pretrain_steps and self.nets != "growing":
            raise ValueError(f"Recipe {self.name!r}: pretraining grows G in stages; it needs nets='growing'.")
        if self.lfm and (self.nets != "dcgan" or self.step != "gan" or self.loss != "nonsaturating"):
            raise ValueError(f"Recipe {self.name!r}: LFM is seed 000's DCGAN term; it needs nets='dcgan', step='gan' "
                             f"and loss='nonsaturating' (got {self.nets!r}, {self.step!r}, {self.loss!r}).")
        if self.dls and (self.nets != "dcgan" or self.step != "gan" or self.lfm or self.loss == "ls"):
            raise ValueError(f"Recipe {self.name!r}: DLS puts an encoder head on chapter 08's DCGAN D; it needs "
                             f"nets='dcgan', step='gan', no LFM and no LSGAN loss.")
        if self.subset < 0:
            raise ValueError(f"Recipe {self.name!r}: subset is a number of training images (0 = all), got {self.subset}.")
        if not (0.0 <= self.alpha_start <= 1.0 and 0.0 <= self.alpha_length <= 1.0):
            raise ValueError(f"Recipe {self.name!r}: alpha_start and alpha_length are fractions of the run's G steps, "
                             f"in [0, 1]; got {self.alpha_start} and {self.alpha_length}.")

    def key(self) -> dict[str, Any]:
        """Every field but ``chapter`` (where it is taught does not change the weights) and the budgets (a run's
        own number of steps enters its key in :func:`train`)."""
        return {k: v for k, v in dataclasses.asdict(self).items()
                if k not in ("chapter", "steps", "gpu_steps", "pretrain_steps", "pretrain_gpu_steps")
                and not (k in _LATER_DEFAULTS and v == _LATER_DEFAULTS[k])}

    def budget(self) -> int:
        """G steps in the current profile: 8 (smoke), :attr:`steps` (cpu), :attr:`gpu_steps` (gpu)."""
        return int(config.by_profile(smoke=8, cpu=self.steps, gpu=self.gpu_steps))

    def pretrain_budget(self) -> int:
        """Pretraining updates per stage (and for D) in the current profile: 0 without pretraining, else 4 (smoke),
        :attr:`pretrain_steps` (cpu), :attr:`pretrain_gpu_steps` (gpu)."""
        if not self.pretrain_steps:
            return 0
        return int(config.by_profile(smoke=4, cpu=self.pretrain_steps, gpu=self.pretrain_gpu_steps))


# fields added after the first checkpoints were written (the 32 px image base, chapters 09-10): in the key only when changed
_LATER_FIELDS = ("img_size", "G_bn", "D_bn", "sn_G", "sn_D", "attn", "D_sigmoid", "ema", "ema_start", "alpha_max",
                 "alpha_kind", "alpha_start", "alpha_length", "pairing", "fade", "pretrain_lr", "subset", "subset_kind",
                 "lfm", "lfm_T", "lfm_pairs", "lfm_head", "lam_D", "lam_G", "dls", "lam_enc", "dls_window", "dls_beta")
_LATER_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Recipe) if f.name in _LATER_FIELDS}

PRETRAIN_CPU, PRETRAIN_GPU = 250, 9375  # chapter 10's pretraining updates per stage (gpu: 10 epochs of 60,000 at 64)
LSGAN_RAMP = (0.4, 0.3)  # chapter 09's α ramp (start, length) as fractions of a run's G steps: α_max from 70 % on

# cpu budgets (``steps``) chosen so that a chapter runs from scratch in <= 30 min on a 2-core machine with one torch
# thread and its models draw digits where the budget allows it (docs/tuning_mnist.md: tuning seeds 100-101)
RECIPES: dict[str, Recipe] = {r.name: r for r in [
    # chapter 02: the widely copied template (D dropout 0.3) and seed 004's "+BN" in G
    Recipe("vanilla", "02", dropout=0.3, steps=4500),
    Recipe("bn", "02", dropout=0.3, batchnorm=True, steps=4500),
    # (WGAN family: 200 epochs = 187,500 critic batches = 37,500 G steps of 5 critic updates)
    # chapter 03: WGAN (RMSprop, clipping), WGAN-GP (igul222's gan_mnist.py settings), and with the seed's decay
    Recipe("wgan", "03", loss="wgan", n_critic=5, clip=0.01, opt="rmsprop", lr_G=5e-5, lr_D=5e-5, steps=1200,
           gpu_steps=37_500),
    Recipe("wgan_gp", "03", loss="wgan", n_critic=5, gp_lambda=10.0, lr_G=1e-4, lr_D=1e-4, betas=(0.5, 0.9), steps=1200,
           gpu_steps=37_500),
    Recipe("wgan_gp_decay", "03", loss="wgan", n_critic=5, gp_lambda=10.0, lr_G=1e-4, lr_D=1e-4, betas=(0.5, 0.9),
           decay=True, steps=1200, gpu_steps=37_500),
    # chapter 04: the plain step it is compared with, MD-GAN (paper: saturating G loss), bounded D, non-saturating G
    Recipe("gan_nodropout", "04", steps=2000, gpu_steps=20000),
    Recipe("mdgan", "04", step="mdgan", D_out=9, steps=2000, gpu_steps=20000),
    Recipe("mdgan_bounded", "04", step="mdgan", D_out=9, D_head=(5.0, -2.5), steps=2000, gpu_steps=20000),
    Recipe("mdgan_ns", "04", step="mdgan", D_out=9, g_loss="nonsaturating", steps=2000, gpu_steps=20000),
    Recipe("mdgan_dcgan", "04", step="mdgan", nets="dcgan", D_out=9, steps=1000, gpu_steps=10000),
    # chapter 05: unrolled GAN, poolio's learning-rate ratio; K = 0 is the plain step
    Recipe("unrolled_k0", "05", step="unrolled", K=0, lr_G=1e-3, lr_D=1e-4, steps=1000, gpu_steps=10000),
    Recipe("unrolled_k5", "05", step="unrolled", K=5, lr_G=1e-3, lr_D=1e-4, steps=1000, gpu_steps=10000),
    Recipe("unrolled_dcgan_k5", "05", step="unrolled", K=5, nets="dcgan", lr_G=1e-3, lr_D=1e-4, steps=1000,
           gpu_steps=10000),
    # chapter 06: R1 (γ = 10, the paper's γ/2 convention)
    Recipe("r1", "06", r1_gamma=10.0, steps=2000),
    # chapters 08-12: the 32 px DCGAN baseline (data padded 28 -> 32 px; base 16: 32 costs 3.2x per step on a CPU); 2,000
    # G steps: chapter 08's five recipes x 2 seeds fit its 30 cpu minutes (docs/tuning_mnist.md has longer runs)
    Recipe("dcgan32", "08", nets="dcgan", img_size=32, base=16, steps=2000),
    # chapter 08: the ladder to SAGAN (Zhang et al. 2019): SN in D (replacing its BatchNorm), + hinge + TTUR (lr_D 4e-4,
    # lr_G 1e-4, Adam (0, 0.9)), + SN in G and self-attention in both nets (at 8 px here: 16 px costs 3.2x per step on
    # a CPU; the chapter's gpu profile puts it at 16), and seed 004's MLP D with attention after its FC layers
    Recipe("dcgan32_sn", "08", nets="dcgan", img_size=32, base=16, sn_D=True, D_bn=False, steps=2000),
    Recipe("dcgan32_sn_hinge_ttur", "08", nets="dcgan", img_size=32, base=16, sn_D=True, D_bn=False, loss="hinge",
           lr_G=1e-4, lr_D=4e-4, betas=(0.0, 0.9), steps=2000),
    Recipe("sagan32", "08", nets="dcgan", img_size=32, base=16, sn_G=True, sn_D=True, D_bn=False, attn=8, loss="hinge",
           lr_G=1e-4, lr_D=4e-4, betas=(0.0, 0.9), steps=2000),
    Recipe("sagan32_seed004", "08", nets="mlp_attn", img_size=32, base=16, sn_D=True, D_sigmoid=True, loss="hinge",
           lr_G=1e-4, lr_D=4e-4, betas=(0.0, 0.9), steps=2000),
    # chapter 09: LSGAN (a = 0, b = c = 1, linear D output) at seed 003's lr 4e-4 (tuning seed 100: FID 138 after 2,000
    # steps against 263 at 2e-4, docs/tuning_mnist.md), and its α ramps: α_max 0.3 / 0.5 / 0.9 x linear / smooth-step /
    # step, starting at 40 % of the run and reaching α_max at 70 % (LSGAN_RAMP), so the last 30 % is read at full α.
    # gpu: the seed's 100k steps.
    Recipe("lsgan32", "09", nets="dcgan", img_size=32, base=16, loss="ls", lr_G=4e-4, lr_D=4e-4, steps=2000,
           gpu_steps=100_000),
    *[Recipe(f"lsgan32_alpha{round(10 * a_max)}_{kind}", "09", nets="dcgan", img_size=32, base=16, loss="ls", lr_G=4e-4,
             lr_D=4e-4, alpha_max=a_max, alpha_kind=kind, alpha_start=LSGAN_RAMP[0], alpha_length=LSGAN_RAMP[1],
             steps=2000, gpu_steps=100_000)
      for a_max in (0.3, 0.5, 0.9) for kind in ("linear", "smoothstep", "step")],
    # chapter 10: seed 003's stacked pretraining (GrowingG 4 -> 32 px, L1 stages of 250 updates each, then 250 D updates
    # on stored fakes; gpu: the seed's 10 epochs of the 60,000 images per stage) before its LSGAN (lr_G 4e-4, lr_D 3e-4),
    # with and without chapter 09's ramp; and the same G from scratch at the same number of updates (2,000 GAN steps +
    # 5 x 250 pretraining updates = 3,250 steps)
    Recipe("lsgan_grow32_pre", "10", nets="growing", img_size=32, base=16, loss="ls", lr_G=4e-4, lr_D=3e-4,
           pretrain_steps=PRETRAIN_CPU, pretrain_gpu_steps=PRETRAIN_GPU, steps=2000, gpu_steps=100_000),
    Recipe("lsgan_grow32_pre_alpha", "10", nets="growing", img_size=32, base=16, loss="ls", lr_G=4e-4, lr_D=3e-4,
           pretrain_steps=PRETRAIN_CPU, pretrain_gpu_steps=PRETRAIN_GPU, alpha_max=0.5, alpha_start=LSGAN_RAMP[0],
           alpha_length=LSGAN_RAMP[1], steps=2000, gpu_steps=100_000),
    Recipe("lsgan_grow32", "10", nets="growing", img_size=32, base=16, loss="ls", lr_G=4e-4, lr_D=3e-4,
           steps=2000 + 5 * PRETRAIN_CPU, gpu_steps=100_000 + 5 * PRETRAIN_GPU),
    # chapter 11: seed 000's DCGAN-LFM on limited data (the first `subset` training images): the paper's adversarial
    # form (Eq. 4), the reference code's cooperative form (both players minimise |R|, weight 0.5 each as the code's
    # (BCE + |R|/2)/2), and Section 4.3's ablation (G only, the head frozen at init); orthogonal pairs with T = 1.5
    # (src/LFMz.py). Chapter 11 runs each with the plain dcgan32 at every size (subset=...); gpu: the seed's 300k steps
    Recipe("dcgan32_lfm", "11", nets="dcgan", img_size=32, base=16, lfm="adversarial", steps=2000, gpu_steps=300_000),
    Recipe("dcgan32_lfm_code", "11", nets="dcgan", img_size=32, base=16, lfm="cooperative", steps=2000,
           gpu_steps=300_000),
    Recipe("dcgan32_lfm_G", "11", nets="dcgan", img_size=32, base=16, lfm="adversarial", lam_D=0.0, lfm_head=False,
           steps=2000, gpu_steps=300_000),
    # chapter 12: seed 001's encoder head on chapter 08's DCGAN D (λ_enc = 1 in both players' losses), with the plain
    # squared error on z (s = 1) and with the dynamic latent scale (v traced by the SMA of the last 512 batch means of
    # ẑ², DLSGAN_old; or the EMA 0.999 of the current code); gpu: 100k steps (about 107 epochs of the 60,000 images)
    Recipe("dcgan32_enc", "12", nets="dcgan", img_size=32, base=16, dls="mse", steps=2000, gpu_steps=100_000),
    Recipe("dcgan32_dls", "12", nets="dcgan", img_size=32, base=16, dls="sma", steps=2000, gpu_steps=100_000),
    Recipe("dcgan32_dls_ema", "12", nets="dcgan", img_size=32, base=16, dls="ema", steps=2000, gpu_steps=100_000),
]}


def recipe(r: str | Recipe, /, **changes: Any) -> Recipe:
    """The recipe named ``r`` (or a Recipe), with ``changes`` to its fields (they change its checkpoint key)."""
    if isinstance(r, Recipe):
        base = r
    elif r in RECIPES:
        base = RECIPES[r]
    else:
        raise ValueError(f"unknown MNIST recipe {r!r}; choose one of {sorted(RECIPES)}.")
    fields = {f.name for f in dataclasses.fields(Recipe)}
    unknown = set(changes) - fields
    if unknown:
        raise ValueError(f"unknown hyperparameters {sorted(unknown)} for recipe {base.name!r}; "
                         f"a recipe has {sorted(fields)}.")
    return dataclasses.replace(base, **changes)


def _nets(r: Recipe) -> tuple[torch.nn.Module, torch.nn.Module]:
    if r.nets == "growing":  # chapter 10: the stage-wise G at its full size, chapter 08's DCGAN D
        return (nets.init_dcgan_weights(GrowingG(Z_DIM, r.img_size, 1, r.base)),
                nets.init_dcgan_weights(nets.dcgan_D(r.img_size, 1, r.base, spectral_norm=r.sn_D, batchnorm=r.D_bn)))
    if r.nets in ("dcgan", "mlp_attn"):
        G = nets.init_dcgan_weights(nets.dcgan_G(Z_DIM, r.img_size, 1, r.base, batchnorm=r.G_bn, spectral_norm=r.sn_G,
                                                 attention_at=r.attn if r.nets == "dcgan" else None))
        if r.nets == "dcgan":
            D = nets.init_dcgan_weights(nets.dcgan_D(r.img_size, 1, r.base, spectral_norm=r.sn_D, batchnorm=r.D_bn,
                                                     out_dim=r.D_out, attention_at=r.attn))
            if r.lfm:  # seed 000's feature head beside the classifier (DCGAN init): the trunk is the plain DCGAN's
                D = lfm.FeatureHeadD(D, Z_DIM, trainable=r.lfm_head)
                nets.init_dcgan_weights(D.extractor)
            if r.dls:  # seed 001's encoder head, and G with its latent scale (s = 1 for the plain encoder, "mse")
                D = dls.EncoderHeadD(D, Z_DIM)
                nets.init_dcgan_weights(D.extractor)
                kind = "sma" if r.dls == "mse" else r.dls
                G = dls.ScaledLatentG(G, dls.VarianceTracker(Z_DIM, kind, r.dls_window, r.dls_beta),
                                      dynamic=r.dls != "mse")
        else:
            from .sagan import MLPAttentionD
            D = MLPAttentionD(r.img_size, 1, spectral_norm=r.sn_D, sigmoid=r.D_sigmoid)
    else:
        G = nets.course_G(Z_DIM, batchnorm=r.batchnorm)
        D = nets.course_D(dropout=r.dropout, out_dim=r.D_out)
    if r.D_head is not None:
        D = torch.nn.Sequential(D, mdgan.ScaledSigmoid(*r.D_head))
    return G, D


def alpha_schedule(r: str | Recipe, steps: int | None = None) -> AlphaSchedule:
    """The α(t) of an LSGAN recipe for a run of ``steps`` G steps (default: its budget in this profile)."""
    r = recipe(r)
    steps = r.budget() if steps is None else int(steps)
    return AlphaSchedule(r.alpha_max, round(r.alpha_start * steps), round(r.alpha_length * steps), r.alpha_kind)


def build(r: str | Recipe, seed: int = 0, device: torch.device | str | None = None,
          steps: int | None = None) -> AdversarialStep:
    """Fresh networks (initialised under ``seed``), optimisers and step of a recipe, on ``device``
    (default :func:`gantut.device`). ``steps`` (default: the budget) places an LSGAN recipe's α ramp."""
    r = recipe(r)
    config.seed_everything(seed)
    dev = torch.device(device) if device is not None else config.device()
    G, D = (m.to(dev) for m in _nets(r))
    if r.opt == "rmsprop":
        opt_G, opt_D = torch.optim.RMSprop(G.parameters(), lr=r.lr_G), torch.optim.RMSprop(D.parameters(), lr=r.lr_D)
    else:
        opt_G = torch.optim.Adam(G.parameters(), lr=r.lr_G, betas=tuple(r.betas))
        opt_D = torch.optim.Adam(D.parameters(), lr=r.lr_D, betas=tuple(r.betas))
    if r.step == "mdgan":
        return mdgan.MDGANStep(G, D, opt_G, opt_D, Z_DIM, mixture=mdgan.SimplexMixture(r.D_out, 0.25),
                               g_loss=r.g_loss)
    if r.step == "unrolled":
        return UnrolledStep(G, D, opt_G, opt_D, Z_DIM, K=r.K, order=r.order, loss=r.loss,
                            g_objective=r.g_objective, r1_gamma=r.r1_gamma)
    kw = dict(n_critic=r.n_critic, gp_lambda=r.gp_lambda, r1_gamma=r.r1_gamma, r1_every=r.r1_every, clip=r.clip)
    if r.dls:
        return dls.DLSStep(G, D, opt_G, opt_D, lam_enc=r.lam_enc, loss=r.loss, **kw)
    if r.lfm:
        prior = lfm.OrthogonalPairPrior(Z_DIM, r.lfm_T, antipodal=r.lfm_pairs == "antipodal")
        return lfm.LFMStep(G, D, opt_G, opt_D, prior, lfm.LFMTerm(r.lam_D, r.lam_G, r.lfm), **kw)
    if r.loss == "ls":  # LSGAN (a = α(t), b = c = 1); α = 0 throughout unless the recipe ramps it
        return AlphaLSGANStep(G, D, opt_G, opt_D, Z_DIM, alpha_schedule(r, steps), **kw)
    return GANStep(G, D, opt_G, opt_D, Z_DIM, loss=r.loss, **kw)


# ---------------------------------------------------------------------------------------------------
# load-or-train
# ---------------------------------------------------------------------------------------------------

@dataclass
class Run:
    """One trained (or loaded) model of the protocol."""

    recipe: Recipe
    dataset: str
    seed: int
    steps: int
    step: AdversarialStep          # the GAN step (``step.G``, ``step.D``)
    history: FitResult
    snaps: list[tuple[int, torch.Tensor]]
    seconds: float                 # wall-clock seconds of training, as recorded when it was trained
    loaded: bool                   # True when this call trained nothing
    G_sample: torch.nn.Module | None = None  # the G to sample: the EMA of G when the recipe has one
    pretrained: "Pretrained | None" = None   # chapter 10: the pretraining the GAN started from
    scales: list | None = None               # chapter 12: [(step, s, v), ...] of a DLS run (gantut.dls.ScaleTrace)

    @property
    def name(self) -> str:
        return self.recipe.name

    @property
    def G(self) -> torch.nn.Module:
        """The generator to sample and evaluate: the trained G, or its EMA (BatchNorm statistics re-estimated)."""
        return self.G_sample if self.G_sample is not None else self.step.G

    @property
    def D(self) -> torch.nn.Module:
        return self.step.D

    def __str__(self) -> str:
        how = "loaded (trained earlier)" if self.loaded else "trained"
        fid = f", last FID {self.history.last('fid'):.1f}" if "fid" in self.history else ""
        return f"{self.name} seed {self.seed}: {how}, {self.steps} steps, {self.seconds:.0f} s of training{fid}"


def fid_of(G: torch.nn.Module, dataset: str = "mnist", split: str = "test", n: int = 1000,
           seed: int = 0) -> metrics.FIDResult:
    """Classifier-feature FID of ``n`` samples of G (latents seeded ``seed``) against ``n`` images of ``split``."""
    name = _check(dataset)
    x = generate(G, n, Z_DIM, generator=torch.Generator().manual_seed(seed))
    return metrics.fid(x, metrics.reference_stats(name, split, n=n, features=f"classifier:{name}"),
                       f"classifier:{name}")


def oscillation_table(osc: Mapping[str, Sequence[Mapping[str, Oscillation]]],
                      alpha_max: Mapping[str, float] | None = None) -> str:
    """Markdown: one row per label of :func:`loss_oscillation` results (one per seed), mean ± std over seeds of std,
    cv and spikes for ``loss_D`` and ``loss_G``; with ``alpha_max`` (label -> α_max) also each loss at D = D*,
    p_g = p_d (:func:`gantut.lsgan.equilibrium_losses`), the level the spread should be read against."""
    head = ["variant"]
    for k in ("loss_D", "loss_G"):
        head += ([f"L_{k[-1]} at D*"] if alpha_max is not None else []) + [f"{k} std", f"{k} cv", f"{k} spikes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, os_ in osc.items():
        cells = []
        for i, k in enumerate(("loss_D", "loss_G")):
            if alpha_max is not None:
                cells.append(f"{equilibrium_losses(alpha_max[label])[i]:.4f}")
            cells += [str(metrics.mean_std([getattr(o[k], w) for o in os_], d)) for w, d in (("std", 4), ("cv", 3),
                                                                                             ("spikes", 1))]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def loss_oscillation(run: Run, window: int | None = None, after: int | None = None) -> dict[str, Oscillation]:
    """:func:`gantut.lsgan.oscillation` of ``loss_D`` and ``loss_G`` of a run after step ``after`` (default: where
    chapter 09's ramps reach α_max, 70 % of the run, so that a base LSGAN is read over the same steps), in windows
    of ``window`` steps (default 100, fewer when a short run leaves less than 4 windows)."""
    after = round(sum(LSGAN_RAMP) * run.steps) if after is None else int(after)
    window = window or min(100, max(2, (run.steps - after) // 4))
    return {k: oscillation(*run.history.series(k), after=after, window=window) for k in ("loss_D", "loss_G")}


PRETRAIN_STORE = 5000  # chapter 10: fakes G draws once its stages are trained, for D's pretraining


@dataclass
class Pretrained:
    """Seed 003's pretraining of one (recipe, dataset, seed): G after its last L1 stage, D after its regression on
    stored fakes, each stage's history (``l1``, ``fade``) and 16 fixed-latent samples at each stage's size."""

    G: GrowingG
    D: torch.nn.Module
    stages: list[FitResult]
    D_history: FitResult
    samples: list[torch.Tensor]
    steps: int                     # updates per stage (and of D)
    seconds: float                 # of every stage and of D, as recorded when trained

    @property
    def updates(self) -> int:
        """Every pretraining update, G stages and D: what a from-scratch comparison adds to its GAN steps."""
        return self.steps * (len(self.stages) + 1)


def pretrain(r: str | Recipe, seed: int = 0, dataset: str = "fashion", steps: int | None = None,
             device: torch.device | str | None = None, progress: bool | None = None) -> Pretrained:
    """Load-or-train seed 003's pretraining for recipe ``r`` (nets ``"growing"``), ``steps`` updates per stage
    (default :meth:`Recipe.pretrain_budget`): stage k trains blocks and heads 0 … k of a :class:`GrowingG` with L1
    toward the training images averaged down to 4·2^k px (Adam ``pretrain_lr``, β (0.5, 0.999), a fresh optimiser
    per stage, the new head faded in over ``fade`` of the stage), each stage its own :func:`gantut.fit` run and
    checkpoint (a stage resumes exactly; a finished one is loaded); then :data:`PRETRAIN_STORE` fakes of the last
    stage are stored and a fresh DCGAN D regresses (D(x) − y)² on them (y = 0) and on real images (y = 1).

    Runs inside its own random stream (``torch.random.fork_rng``, seeded per stage), so whether it trains or loads,
    the caller's stream is the same afterwards."""
    r = recipe(r)
    if r.nets != "growing":
        raise ValueError(f"recipe {r.name!r} has nets={r.nets!r}; pretraining needs nets='growing'.")
    P = r.pretrain_budget() if steps is None else int(steps)
    train_set = load(dataset, "train", r.img_size)
    dev = torch.device(device) if device is not None else config.device()
    N = len(train_set)
    key = dict(img_size=r.img_size, base=r.base, pairing=r.pairing, fade=r.fade, lr=r.pretrain_lr, steps=P,
               batch=r.batch_size, seed=seed, source=train_set.source)
    adam = lambda params: torch.optim.Adam(params, lr=r.pretrain_lr, betas=(0.5, 0.999))  # noqa: E731
    stages, samples, seconds = [], [], 0.0
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        config.seed_everything(seed)
        G = nets.init_dcgan_weights(GrowingG(Z_DIM, r.img_size, 1, r.base)).to(dev)
        z_table = (torch.randn(N, Z_DIM, generator=torch.Generator().manual_seed(seed + 17))
                   if r.pairing == "fixed" else None)
        for k in range(G.n_stages):
            config.seed_everything(1000 * seed + k)  # the stage's own stream: the same whether stage k − 1 trained or loaded
            step = L1StageStep(G, adam(list(G.stage_parameters(k))), k, z_table, fade_steps=round(r.fade * P))
            batches = data.TensorBatches(train_set.images, r.batch_size, labels=torch.arange(N),
                                         generator=torch.Generator().manual_seed(1000 * seed + k), device=dev)
            hist = fit(step, batches, P, state=step.state, checkpoint=run_path("pretrain", dataset, f"G-stage{k}", **key),
                       desc=f"{dataset} pretraining G stage {k} ({G.sizes[k]} px) seed {seed}", progress=progress)
            stages.append(hist)
            seconds += hist.train_seconds
            G.stage, G.fade_alpha = k, 1.0
            samples.append(generate(G, 16, Z_DIM, generator=torch.Generator().manual_seed(seed + 1000)))
        G.stage, G.fade_alpha = G.n_stages - 1, 1.0
        config.seed_everything(1000 * seed + 99)
        fakes = generate(G, PRETRAIN_STORE, Z_DIM, generator=torch.Generator().manual_seed(seed + 23))
        D = nets.init_dcgan_weights(nets.dcgan_D(r.img_size, 1, r.base, spectral_norm=r.sn_D, batchnorm=r.D_bn)).to(dev)
        d_step = DPretrainStep(D, adam(D.parameters()))
        pairs = PairedBatches(
            data.TensorBatches(train_set.images, r.batch_size, generator=torch.Generator().manual_seed(seed + 31), device=dev),
            data.TensorBatches(fakes, r.batch_size, generator=torch.Generator().manual_seed(seed + 37), device=dev))
        d_hist = fit(d_step, pairs, P, state=d_step.state,
                     checkpoint=run_path("pretrain", dataset, "D", store=PRETRAIN_STORE, D_bn=r.D_bn, sn_D=r.sn_D, **key),
                     desc=f"{dataset} pretraining D seed {seed}", progress=progress)
    return Pretrained(G, D, stages, d_hist, samples, P, seconds + d_hist.train_seconds)


TRACKED = ("fid", "fid128", "kid", "recall", "coverage", "recognisable", "classes")  # what train(track=True) logs
SMALL_N = 128  # seed 000's FID: 128 generated images against the statistics of the whole real set
TRACK_EVALS = 16  # a tracked run is scored this many times (and at step 0): chapter 11 and the table share its runs


def track_every(steps: int) -> int:
    """Steps between two scorings of a tracked run of ``steps`` G steps (``train(track=True)``'s default)."""
    return max(1, int(steps) // TRACK_EVALS)


class Tracker:
    """Scores an image set against the ``n`` test images of :func:`test_images`, from one pass of the classifier:
    FID, KID (all n against all n), recall and coverage (k = 3 and 5), the recognisable share (top probability
    >= 0.9) and the number of classes predicted (:data:`TRACKED`); ``fid128`` is seed 000's figure, the first
    :data:`SMALL_N` images against the statistics of the whole test split. The real side is computed once."""

    def __init__(self, dataset: str, n: int = 1000) -> None:
        name = _check(dataset)
        self.n = n
        self.space = metrics.feature_space(f"classifier:{name}")
        self.real_f = self.space.features(test_images(dataset, n))
        self.real = metrics.Stats.from_features(self.real_f, self.space.name)
        self.full = metrics.reference_stats(name, "test", n=None, features=self.space.name)

    def scores(self, x: torch.Tensor) -> dict[str, float]:
        if len(x) != self.n:
            raise ValueError(f"the tracker compares {self.n} images with {self.n} test images; got {len(x)}.")
        f, p = self.space.features(x), self.space.probs(x)
        fake, small = metrics.Stats.from_features(f, self.space.name), metrics.Stats.from_features(f[:SMALL_N],
                                                                                                    self.space.name)
        pr = metrics.prdc_metrics(self.real_f, f, 3, 5, self.space.name)
        with warnings.catch_warnings():  # 128 samples in 128-d features: singular by design, as in the seed (2048-d)
            warnings.filterwarnings("ignore", message="frechet_distance: sigma1 is singular", category=UserWarning)
            fid128 = metrics.frechet_distance(small.mu, small.sigma, self.full.mu, self.full.sigma)
        return {"fid": metrics.frechet_distance(fake.mu, fake.sigma, self.real.mu, self.real.sigma), "fid128": fid128,
                "kid": metrics.kid_from_features(self.real_f, f).value, "recall": pr.recall, "coverage": pr.coverage,
                "recognisable": metrics.recognisability_from_probs(p).rate,
                "classes": float(len(set(p.argmax(1).tolist())))}


@functools.lru_cache(maxsize=4)
def _tracker(dataset: str, n: int) -> Tracker:
    """One :class:`Tracker` per (dataset, n) and process: its real side is the same for every run."""
    return Tracker(dataset, n)


def tracker(G: torch.nn.Module, dataset: str, n: int = 1000, seed: int = 1000) -> Any:
    """A function of the training loop: :meth:`Tracker.scores` of ``n`` samples of G (fixed latents, ``seed``).
    The real side is built at the first scoring (a loaded run never needs it). Chapter 11 watches a model collapse
    through it."""
    return lambda loop: _tracker(dataset, n).scores(generate(G, n, Z_DIM, generator=torch.Generator().manual_seed(seed)))


def tracked_floor(dataset: str, n: int = 1000, draws: int = 5) -> dict[str, list[float]]:
    """:meth:`Tracker.scores` of real training images (``draws`` disjoint random sets of ``n``, seeded; fewer when the
    split has not that many: the offline MNIST's 4,000 hold 4 of 1,000): what a perfect generator scores on every
    tracked number at this N (FID's small-N bias, KID's absence of it). Each list has one value per draw."""
    t, train_x = _tracker(dataset, n), load(dataset, "train").images
    draws = min(int(draws), len(train_x) // n)
    if draws < 1:
        raise ValueError(f"one draw of {n} needs {n:,} training images; {dataset} has {len(train_x):,}.")
    order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(0))
    rows = [t.scores(train_x[order[k * n:(k + 1) * n]]) for k in range(draws)]
    return {key: [r[key] for r in rows] for key in TRACKED}


@dataclass
class Curve:
    """What a tracked run's FID curve says (chapter 11): its minimum and where, the end, and the collapse signal.

    ``collapsed`` is this collection's rule, not the seed's: at the end the FID is at least ``COLLAPSE_RISE`` × its
    minimum **and** the recall has fallen to at most ``COLLAPSE_RECALL`` × its value at the minimum (samples got
    worse and less varied: what mode collapse looks like in these two numbers)."""

    min_fid: float
    min_step: int
    final_fid: float
    recall_at_min: float
    final_recall: float
    min_fid128: float

    @property
    def rise(self) -> float:
        return self.final_fid / self.min_fid - 1.0

    @property
    def collapsed(self) -> bool:
        return self.final_fid >= COLLAPSE_RISE * self.min_fid and self.final_recall <= COLLAPSE_RECALL * self.recall_at_min


COLLAPSE_RISE, COLLAPSE_RECALL = 1.2, 0.8


def curve(run: Run) -> Curve:
    """:class:`Curve` of a run trained with ``track=True``."""
    h = run.history
    missing = [k for k in TRACKED if k not in h]
    if missing:
        raise ValueError(f"{run.name} has no {missing} in its history: train it with track=True.")
    steps, fid = h.series("fid")
    _, recall = h.series("recall")
    i = min(range(len(fid)), key=fid.__getitem__)
    return Curve(fid[i], steps[i], fid[-1], recall[i], recall[-1], min(h["fid128"]))


def training_images(r: str | Recipe, dataset: str) -> data.ImageData:
    """The training split of ``dataset`` at the recipe's size, cut to its ``subset`` (chapter 11's limited data:
    :func:`gantut.data.subset`, the first n or class-stratified)."""
    r = recipe(r)
    full = load(dataset, "train", r.img_size)
    return data.subset(full, r.subset, stratified=r.subset_kind == "stratified") if r.subset else full


def train(r: str | Recipe, steps: int | None = None, seed: int = 0, dataset: str = "mnist", *, eval_every: int | None = None,
          n_eval: int = 1000, n_snap: int = 64, device: torch.device | str | None = None,
          checkpoint: bool = True, progress: bool | None = None, pretrain_steps: int | None = None,
          track: bool = False) -> Run:
    """Load-or-train recipe ``r`` for ``steps`` G steps (default: the recipe's budget in this profile,
    :meth:`Recipe.budget`) under ``seed`` on the training split of ``dataset``.

    eval_every : FID of ``n_eval`` samples (fixed latents, seed + 1000) against ``n_eval`` test images (capped at
        the test split's size), and a grid of ``n_snap`` samples, every this many steps (default ``steps // 8``).
    A finished checkpoint is loaded, an unfinished one resumed; ``checkpoint=False`` always trains.
    pretrain_steps : a recipe with pretraining (chapter 10) first runs :func:`pretrain` with this many updates per
        stage (default: :meth:`Recipe.pretrain_budget`) and starts the GAN from its G and D.
    track : log all of :data:`TRACKED` every ``eval_every`` steps (:func:`tracker`; default :func:`track_every`),
        not only the FID.
    """
    r = recipe(r)
    steps = r.budget() if steps is None else int(steps)
    train_set, name = training_images(r, dataset), _check(dataset)
    n_eval = min(n_eval, len(load(dataset, "test")))
    eval_every = eval_every or (track_every(steps) if track else max(1, steps // 8))
    P = r.pretrain_budget() if pretrain_steps is None else int(pretrain_steps)
    pre = pretrain(r, seed, dataset, steps=P, device=device, progress=progress) if r.pretrain_steps and P else None
    step = build(r, seed, device, steps)
    if pre is not None:  # the GAN starts from the pretrained pair (the optimisers built on these very parameters)
        step.G.load_state_dict(pre.G.state_dict())
        step.D.load_state_dict(pre.D.state_dict())
    dev = nets.device_of(step.G)
    batches = data.TensorBatches(train_set.images, step.real_batch(r.batch_size),
                                 generator=torch.Generator().manual_seed(seed), device=dev)
    ema = EMA(step.G, r.ema, start=r.ema_start) if r.ema else None
    G_watch = ema.G_ema if ema else step.G  # the snapshots and the FID curve follow the G that is sampled
    snaps = Snapshots(G_watch, Z_DIM, n_snap, seed)
    real = metrics.reference_stats(name, "test", n=n_eval, features=f"classifier:{name}")
    callbacks = ([ema.callback()] if ema else []) + [
        snaps.callback(eval_every),
        every(eval_every, tracker(G_watch, dataset, n_eval, seed + 1000), at_start=True) if track else
        fid_every(eval_every, G_watch, Z_DIM, real, n_fake=n_eval, features=f"classifier:{name}", seed=seed + 1000,
                  at_start=True)]
    state = {**step.state, "snaps": snaps, **({"ema": ema} if ema else {})}
    if r.dls:  # chapter 12: s and v over training, and the inversion scores beside the FID
        trace = dls.ScaleTrace(step.G)
        state["trace"] = trace
        callbacks += [trace.callback(max(1, steps // 40)),
                      every(eval_every, inversion_tracker(step.G, step.D, dataset, INVERSION_N, seed + 1000), at_start=True)]
    if r.attn is not None or r.nets == "mlp_attn":  # SAGAN's γ over training
        from .sagan import gamma_log
        callbacks.append(every(max(1, steps // 40), gamma_log(step.G, step.D), at_start=True))
    if r.decay:
        decay = BestCheckpointDecay(max(1, steps // 8),
                                    lambda loop: float(fid_of(step.G, dataset, "train", min(1000, len(train_set)),
                                                              seed=seed + 1000)),
                                    key="fid_train", at_step=(3 * steps) // 4)
        callbacks.append(decay)
        state["decay"] = decay
    path = None
    if checkpoint:
        path = run_path("mnist", dataset, r.name, seed=seed, steps=steps, n_eval=n_eval, n_snap=n_snap,
                        eval_every=eval_every, source=train_set.source, **r.key(), **({"track": True} if track else {}),
                        **({"pretrain": pre.steps} if pre is not None else {}))
    history = fit(step, batches, steps, state=state, callbacks=callbacks, checkpoint=path,
                  desc=f"{dataset} {r.name} seed {seed}", progress=progress)
    G_final = step.G
    if ema:
        G_final = recompute_batchnorm(ema.G_ema, Z_DIM, 20, r.batch_size, torch.Generator().manual_seed(seed + 7))
    return Run(r, dataset, seed, steps, step, history, snaps.items, history.train_seconds, history.loaded, G_final, pre,
               state["trace"].items if r.dls else None)


INVERSION_N = 256  # chapter 12: generated and test images reconstructed at every scoring of a DLS run
INVERTED = ("enc_gen", "psnr_gen", "ssim_gen", "psnr_test", "ssim_test")  # what a DLS run logs at each scoring


def inversion(G: torch.nn.Module, D: torch.nn.Module, dataset: str, n: int = INVERSION_N, seed: int = 1000) -> dict[str, float]:
    """Seed 001's inversion scores of a DLS model (:mod:`gantut.dls`), both nets in eval mode: ``enc_gen`` = L_enc of
    ẑ on ``n`` generated images G(z ⊙ s) (fixed latents, ``seed``), PSNR/SSIM of their reconstructions G(ẑ ⊙ s), and
    PSNR/SSIM of the reconstructions of the first ``n`` test images of :func:`test_images`."""
    z = torch.randn(n, Z_DIM, generator=torch.Generator().manual_seed(seed))  # the latents generate() draws
    x_gen = dls.decode(G, z)
    z_hat, rec_gen = dls.reconstruct(G, D, x_gen)
    x_test = test_images(dataset, n, x_gen.shape[-1])
    _, rec_test = dls.reconstruct(G, D, x_test)
    gen, test = dls.psnr_ssim(rec_gen, x_gen), dls.psnr_ssim(rec_test, x_test)
    return {"enc_gen": float(dls.encoder_loss(z, z_hat, G.s.cpu())), "psnr_gen": gen["psnr"], "ssim_gen": gen["ssim"],
            "psnr_test": test["psnr"], "ssim_test": test["ssim"]}


def inversion_tracker(G: torch.nn.Module, D: torch.nn.Module, dataset: str, n: int = INVERSION_N, seed: int = 1000) -> Any:
    """:func:`inversion` as a function of the training loop (``every(k, inversion_tracker(...))``)."""
    return lambda loop: inversion(G, D, dataset, n, seed)


# ---------------------------------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------------------------------

@dataclass
class Eval:
    """FID, PRDC, class coverage and recognisability of one set of images, each carrying its N and features."""

    fid: metrics.FIDResult
    prdc: metrics.PRDC
    classes: metrics.ClassCoverage
    recognisable: metrics.Recognisability

    def values(self) -> dict[str, float]:
        return {"FID": self.fid.value, "recognisable %": 100 * self.recognisable.rate,
                "smallest class %": 100 * self.recognisable.min_class_share,
                "precision": self.prdc.precision, "recall": self.prdc.recall,
                "density": self.prdc.density, "coverage": self.prdc.coverage,
                "classes": self.classes.classes_covered, "class KL": self.classes.kl_to_uniform}

    def __str__(self) -> str:
        return f"{self.fid}\n{self.recognisable}\n{self.prdc}\n{self.classes}"


def test_images(dataset: str, n: int, size: int = 28) -> torch.Tensor:
    """The ``n`` test images every generator is scored against (a seeded draw; the same subset as
    :func:`gantut.metrics.reference_stats`), at ``size`` 28 or 32 px (padded)."""
    test = load(dataset, "test", size).images
    if n > len(test):
        raise ValueError(f"n = {n} is more than the {len(test)} test images of {dataset}; use n <= {len(test)}.")
    return test[torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[:n]] if n < len(test) else test


def score(x: torch.Tensor, dataset: str, n: int) -> Eval:
    name = _check(dataset)
    space = f"classifier:{name}"
    real = test_images(dataset, n)
    return Eval(metrics.fid(x, metrics.reference_stats(name, "test", n=n, features=space), space),
                metrics.prdc(x, real, space, k_pr=3, k_dc=5), metrics.class_coverage(x, name),
                metrics.recognisability(x, name))


def evaluate(G: torch.nn.Module, dataset: str = "mnist", n: int = 1000, seed: int = 0, z_dim: int | None = None) -> Eval:
    """Score ``n`` samples of G (latents seeded ``seed``, eval mode) against ``n`` test images of ``dataset``
    (the same seeded subset as :func:`gantut.metrics.reference_stats`)."""
    zd = int(z_dim or getattr(G, "z_dim", Z_DIM))
    return score(generate(G, n, zd, generator=torch.Generator().manual_seed(seed)), dataset, n)


def real_floor(dataset: str = "mnist", n: int = 1000) -> Eval:
    """The real-vs-real floor, the one convention of every MNIST / Fashion-MNIST number in the collection:
    the **first** ``n`` training images scored like a generator against the ``n`` test images every model is
    scored against (:func:`gantut.metrics.reference_stats`). What a perfect generator of this data would
    score at this N, in this feature space (FID's small-N bias). The offline MNIST training split is stored
    digit-balanced, so its first 1,000 images hold 100 of each digit."""
    return score(load(dataset, "train").images[:n], dataset, n)


def reference_images(dataset: str = "mnist", n: int = 1000, seed: int = 0) -> dict[str, torch.Tensor]:
    """The image sets every FID of the collection is read against (scored by :func:`reference_rows`):

    * ``real (floor)`` — the first ``n`` training images (:func:`real_floor`);
    * ``real + noise σ 0.5`` — the same images with Gaussian pixel noise of std 0.5 (images in [−1, 1]), clamped;
    * ``real, blurred`` — the same images under a 5×5 Gaussian blur of σ 1.5 px;
    * ``one class only`` — training images of a single class (label 1), repeated to ``n``: total collapse onto
      real images of one digit;
    * ``untrained G`` — ``n`` samples of the course MLP G at initialisation (seed ``seed``): noise.
    """
    import torchvision.transforms.functional as TF

    train_set = load(dataset, "train")
    if train_set.labels is None:
        raise ValueError(f"{dataset} has no labels here: the 'one class only' row needs them.")
    real = train_set.images[:n]
    noisy = (real + 0.5 * torch.randn(real.shape, generator=torch.Generator().manual_seed(seed))).clamp(-1, 1)
    ones = train_set.images[train_set.labels == 1]
    config.seed_everything(seed)
    untrained = generate(nets.course_G(Z_DIM), n, Z_DIM, generator=torch.Generator().manual_seed(seed))
    return {"real (floor)": real, "real + noise σ 0.5": noisy,
            "real, blurred": TF.gaussian_blur(real, kernel_size=5, sigma=1.5),
            "one class only": ones.repeat((n + len(ones) - 1) // len(ones), 1, 1, 1)[:n], "untrained G": untrained}


def reference_rows(dataset: str = "mnist", n: int = 1000, seed: int = 0) -> dict[str, Eval]:
    """:func:`reference_images` scored like a generator (:func:`score`)."""
    return {name: score(x, dataset, n) for name, x in reference_images(dataset, n, seed).items()}


def floor_fid(dataset: str = "mnist", n: int = 1000) -> metrics.FIDResult:
    """Only the FID of :func:`real_floor` (classifier features of ``dataset``, N = ``n``)."""
    space = f"classifier:{_check(dataset)}"
    return metrics.fid(load(dataset, "train").images[:n], metrics.reference_stats(_check(dataset), "test", n=n,
                                                                                   features=space), space)


# ---------------------------------------------------------------------------------------------------
# discriminator rejection sampling on a trained model (chapter 07 and the table)
# ---------------------------------------------------------------------------------------------------

@dataclass
class DRSRun:
    """DRS on one trained model: the accepted samples and acceptance rate (``result``), the calibrated logit and
    the calibration losses, with the settings used."""

    result: Any                    # gantut.drs.DRSResult
    logit: Any                     # gantut.drs.CalibratedLogit
    calibration: list[float]
    head: str | None
    lr: float
    calib_steps: int


def drs_sample(run: Run, n: int, calib_steps: int, *, epsilon: float = 1e-8, gamma_q: float | None = 95.0,
               burn_in: int = 5000, max_draws: int | None = None) -> DRSRun:
    """Calibrate D of ``run`` (G frozen) for ``calib_steps`` steps on training batches, then draw ``n`` accepted
    samples with Eq. 8 of Azadi et al. (2019). The one DRS protocol of chapter 07 and the table.

    A BCE-trained D is fine-tuned (Adam 2e-4, the paper's "further training"); a WGAN critic's output is no
    logit, so an affine head ``a·D(x) + b`` is fitted on the frozen critic (Adam 1e-2: two parameters).
    Batches are seeded ``run.seed + 1``, the calibration ``run.seed + 3``, the sampler ``run.seed + 2``.
    """
    from . import drs

    head, lr = ("affine", 1e-2) if run.recipe.loss == "wgan" else (None, 2e-4)
    batches = data.TensorBatches(load(run.dataset, "train", run.recipe.img_size).images, run.recipe.batch_size,
                                 generator=torch.Generator().manual_seed(run.seed + 1),
                                 device=nets.device_of(run.G))
    config.seed_everything(run.seed + 3)
    logit, losses = drs.calibrate(run.D, run.G, batches, Z_DIM, calib_steps, head=head, lr=lr)
    sampler = drs.DRS(run.G, logit, Z_DIM, epsilon=epsilon, gamma_q=gamma_q, burn_in=burn_in)
    result = sampler.sample(n, torch.Generator().manual_seed(run.seed + 2), max_draws=max_draws)
    return DRSRun(result, logit, losses, head, lr, calib_steps)


TABLE_COLUMNS = [("FID", 1), ("recognisable %", 1), ("smallest class %", 1), ("precision", 3), ("recall", 3),
                 ("density", 3), ("coverage", 3), ("classes", 1), ("class KL", 3)]


def table(rows: Mapping[str, Sequence[Eval]], columns: Sequence[tuple[str, int]] = TABLE_COLUMNS) -> str:
    """Markdown: one row per name, mean ± std (ddof 1) over its evaluations (one per seed)."""
    first = next(iter(rows.values()))[0]
    lines = [f"N = {first.fid.n_fake} generated vs {first.fid.n_real} test images, {first.fid.features} features; "
             f"recognisable = top class probability >= {first.recognisable.threshold:g}; "
             f"P/R k = {first.prdc.k_pr}, D/C k = {first.prdc.k_dc}; mean ± std over runs.", "",
             "| | runs | " + " | ".join(c for c, _ in columns) + " |", "|---|---|" + "---|" * len(columns)]
    for name, evals in rows.items():
        vals = [e.values() for e in evals]
        lines.append(f"| {name} | {len(evals)} | "
                     + " | ".join(str(metrics.mean_std([v[c] for v in vals], d)) for c, d in columns) + " |")
    return "\n".join(lines)
