"""Profiles, device, seeding and paths: the one place that reads the environment.

Profiles
--------
``smoke``  CI and nbval: every chapter in seconds, numbers meaningless.
``cpu``    a laptop CPU: minutes per chapter, real (small) results.
``gpu``    paper scale on a CUDA GPU.

Chosen by ``GANTUT_PROFILE``; else ``smoke`` when ``NBGRADER_EXECUTION`` is set (nbgrader's
autograde/validate); else ``gpu`` when CUDA is available; else ``cpu``.
"""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

PROFILES = ("smoke", "cpu", "gpu")

_notices: set[str] = set()


def _notice(msg: str) -> None:
    """Print a one-line notice once per process."""
    if msg not in _notices:
        _notices.add(msg)
        print(msg)


def profile() -> str:
    """The active profile name (see the module docstring for the rule)."""
    name = os.environ.get("GANTUT_PROFILE", "").strip().lower()
    if name:
        if name not in PROFILES:
            raise ValueError(
                f"GANTUT_PROFILE={name!r} is not a profile; use one of {', '.join(PROFILES)} "
                "(e.g. `export GANTUT_PROFILE=cpu`)."
            )
        return name
    if os.environ.get("NBGRADER_EXECUTION"):
        return "smoke"
    if torch.cuda.is_available():
        return "gpu"
    return "cpu"


def by_profile(smoke: Any, cpu: Any, gpu: Any | None = None) -> Any:
    """Pick the value for the active profile: ``steps = by_profile(smoke=20, cpu=3000, gpu=30000)``.

    ``gpu`` defaults to the ``cpu`` value.
    """
    return {"smoke": smoke, "cpu": cpu, "gpu": cpu if gpu is None else gpu}[profile()]


def is_smoke() -> bool:
    return profile() == "smoke"


def device(prefer: str | None = None) -> torch.device:
    """CUDA when available (or ``GANTUT_DEVICE``/``prefer`` says so), else CPU with a one-line notice."""
    want = prefer or os.environ.get("GANTUT_DEVICE")
    if want:
        dev = torch.device(want)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(
                f"device {want!r} was requested but CUDA is not available; unset GANTUT_DEVICE "
                "or install a CUDA build of torch."
            )
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    _notice("gantut: no CUDA GPU found, running on CPU.")
    return torch.device("cpu")


def threads() -> int:
    """The thread policy, in one place: torch's CPU threads for training and metrics.

    ``GANTUT_THREADS`` if set; else **1**. The nets of this collection are small: on a 2-core machine with
    anything else running, two torch threads were 10-25× slower than one for the 2D MLPs (docs/benchmarks.md),
    and results differ between thread counts (floating-point sums are split differently), so one fixed
    count is also what makes a seed reproducible. :func:`setup` applies it; every timing is quoted with it.
    """
    raw = os.environ.get("GANTUT_THREADS", "").strip()
    if not raw:
        return 1
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"GANTUT_THREADS={raw!r} must be a positive integer (e.g. `export GANTUT_THREADS=1`).")
    return n


def apply_threads() -> int:
    """Set torch's intra-op threads to :func:`threads` and return the count."""
    n = threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def seed_everything(seed: int) -> torch.Generator:
    """Seed ``random``, NumPy and torch (CPU and CUDA); return a CPU ``torch.Generator`` with that seed.

    The same seed gives the same numbers on the same build of torch **at the same thread count**
    (:func:`threads`; :func:`setup` applies it).
    """
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)


def repo_root() -> Path | None:
    """The source checkout containing this package, if gantut runs from one (editable install)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").exists() and (root / "notebooks").is_dir() else None


def _env_folder(var: str, create: bool) -> Path | None:
    """The folder named by the environment variable ``var``, checked: a clear error naming the variable when it
    is a file, missing (``create=False``), or cannot be created or written."""
    raw = os.environ.get(var, "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{var}={raw} is a file, not a folder: point {var} at a folder (or unset it).")
    if not path.exists():
        if not create:
            raise FileNotFoundError(f"{var}={raw} does not exist: create it (mkdir -p {raw}) or unset {var} to use "
                                    "the default.")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PermissionError(f"{var}={raw} cannot be created ({exc.strerror}): point {var} at a folder you can "
                                  "write to (or unset it).") from None
        _notice(f"gantut: created {var} folder {path}")
    if not os.access(path, os.W_OK):
        raise PermissionError(f"{var}={raw} is not writable: point {var} at a folder you can write to (or unset it).")
    return path


def data_dir() -> Path:
    """Where datasets are found and downloaded: ``$GANTUT_DATA`` (an existing folder), else the checkout's
    ``data/``, else ``~/.cache/gantut/data``."""
    path = _env_folder("GANTUT_DATA", create=False)
    if path is not None:
        return path
    path = repo_root() / "data" if repo_root() is not None else Path.home() / ".cache" / "gantut" / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path


def assets_dir() -> Path:
    """Shipped assets (classifier checkpoints): ``data/`` of the checkout, whatever ``GANTUT_DATA`` says."""
    root = repo_root()
    if root is not None:
        return root / "data"
    return Path(__file__).resolve().parent / "assets"


def runs_dir() -> Path:
    """Where runs, checkpoints and executed notebooks go: ``$GANTUT_RUNS`` (created if missing, with a notice),
    else ``./runs`` beside the checkout (or the working directory outside one)."""
    path = _env_folder("GANTUT_RUNS", create=True)
    if path is not None:
        return path
    path = repo_root() / "runs" if repo_root() is not None else Path.cwd() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def progress_enabled() -> bool:
    """Progress bars are off in the smoke profile (nbval compares stderr), under GANTUT_NO_PROGRESS, and
    with ``GANTUT_PROGRESS=off`` (what ``gantut run`` sets: the terminal shows papermill's cell progress
    instead, and the saved notebook keeps no bar remnants)."""
    if os.environ.get("GANTUT_PROGRESS", "").strip().lower() == "off":
        return False
    return profile() != "smoke" and not os.environ.get("GANTUT_NO_PROGRESS")


def progress_bar(**kwargs):
    """A tqdm progress bar: the widget in JupyterLab, plain text when ``GANTUT_PROGRESS=text``, none when
    ``GANTUT_PROGRESS=off`` (headless runs that refresh committed notebooks)."""
    if os.environ.get("GANTUT_PROGRESS", "").lower() == "text":
        from tqdm.std import tqdm

        kwargs.setdefault("file", sys.stderr)
        kwargs.setdefault("mininterval", 2.0)
        kwargs.setdefault("ascii", True)
    else:
        from tqdm.auto import tqdm
    if not progress_enabled():
        kwargs["disable"] = True
    else:
        kwargs.setdefault("disable", False)
    return tqdm(**kwargs)


class Setup(dict):
    """What ``setup`` returns: profile, device, seed and the seeded generator, as keys and attributes."""

    __getattr__ = dict.__getitem__


def setup(seed: int = 0, *, quiet: bool = False) -> Setup:
    """The setup cell of every chapter: choose the profile, device and thread count, seed everything, say so."""
    prof = profile()
    dev = device()
    n_threads = apply_threads()
    gen = seed_everything(seed)
    if not quiet:
        print(f"gantut {_version()} | profile={prof} | device={dev.type} | threads={n_threads} | seed={seed}")
    return Setup(profile=prof, device=dev, seed=seed, generator=gen, threads=n_threads)


def _version() -> str:
    from . import __version__

    return __version__


def in_notebook() -> bool:
    return "ipykernel" in sys.modules
