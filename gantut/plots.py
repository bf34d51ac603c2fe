"""Pictures for the chapters: sample grids, 2D scatter snapshots, curves, comparison bars.

Every function makes its own figure, closes it (``plt.close(fig)``) and returns the ``Figure``, so
a notebook cell that ends with the call shows it exactly once, as a PNG. Pass ``path=`` to also
save it to a file. Functions taking ``ax=`` draw into that Axes instead and return the Axes (the
figure is then yours to show).

Images follow the package convention: float tensors in [-1, 1], shape ``N×C×H×W``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
from torchvision.utils import make_grid

STYLE = "whitegrid"  # seaborn style used inside every function (not set globally)


# ----------------------------------------------------------------------------- helpers
def _finish(fig, path: str | Path | None):
    """Save (if asked), close so the inline backend does not show it a second time, return it."""
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return fig


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=float)


def image_grid(images: torch.Tensor, nrow: int = 8, padding: int = 2) -> np.ndarray:
    """``N×C×H×W`` images in [-1, 1] → one ``H'×W'×3`` array in [0, 1] (values outside are clipped)."""
    images = torch.as_tensor(images).detach().float().cpu()
    if images.dim() == 3:  # a single image C×H×W
        images = images.unsqueeze(0)
    if images.dim() != 4:
        raise ValueError(
            f"expected images of shape N×C×H×W (or C×H×W), got shape {tuple(images.shape)}; "
            "reshape flat MNIST samples with `x.view(-1, 1, 28, 28)`."
        )
    # make_grid's old `range=` argument is gone (torchvision 0.15); value_range with normalize
    # maps [-1, 1] to [0, 1] and clamps what lies outside.
    grid = make_grid(images, nrow=nrow, padding=padding, normalize=True, value_range=(-1, 1),
                     pad_value=1.0)
    return grid.permute(1, 2, 0).numpy()


def _draw_grid(ax, images, nrow, title=None):
    ax.imshow(image_grid(images, nrow=nrow), interpolation="nearest", vmin=0.0, vmax=1.0)
    ax.set_axis_off()
    if title:
        ax.set_title(title)


def _centers(mixture) -> np.ndarray | None:
    if mixture is None:
        return None
    if not hasattr(mixture, "centers"):
        raise TypeError(
            f"mixture should have a `.centers` (K×2 tensor) and `.std`, got {type(mixture).__name__}; "
            "pass a gantut.data.Mixture (e.g. `Mixture.ring()`)."
        )
    return _to_numpy(mixture.centers).reshape(-1, 2)


def limits2d(mixture=None, points=None) -> float:
    """Half-width L of the square [-L, L]² shown by the 2D plots.

    With a mixture: L = 1.25·max|centre coordinate| + 4·std, the same for every snapshot, so a
    generator whose samples drift away is seen drifting. Without: 1.1·max|point coordinate|.
    """
    c = _centers(mixture)
    if c is not None:
        std = float(getattr(mixture, "std", 0.0))
        return 1.25 * float(np.abs(c).max()) + 4.0 * std
    if points is None:
        return 1.0
    m = max((float(np.abs(_to_numpy(p)).max()) for p in points if len(p)), default=1.0)
    return 1.1 * m if m > 0 else 1.0


def _scatter_legend(ax) -> None:
    """Which markers are samples and which are mode centres, below the panel (never over the points)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=len(handles), fontsize=7,
                  frameon=False, markerscale=2.0, handletextpad=0.3, columnspacing=1.0)


def _draw_scatter(ax, points, mixture, L, title=None):
    p = _to_numpy(points).reshape(-1, 2)
    ax.scatter(p[:, 0], p[:, 1], s=4, alpha=0.5, color="C0", linewidths=0, label="samples")
    c = _centers(mixture)
    if c is not None:
        ax.scatter(c[:, 0], c[:, 1], s=40, marker="x", color="C3", label="mode centres")
    ax.set_xlim(-L, L)
    ax.set_ylim(-L, L)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)


# ----------------------------------------------------------------------------- images
def show_grid(images: torch.Tensor, nrow: int = 8, title: str | None = None,
              path: str | Path | None = None):
    """A grid of ``N×C×H×W`` images in [-1, 1], ``nrow`` images per row."""
    n = images.shape[0] if torch.as_tensor(images).dim() == 4 else 1
    cols = min(nrow, n)
    rows = math.ceil(n / nrow)
    with sns.axes_style("white"):
        fig, ax = plt.subplots(figsize=(max(2.0, 0.8 * cols), max(2.0, 0.8 * rows) + (0.3 if title else 0)))
        _draw_grid(ax, images, nrow, title)
    return _finish(fig, path)


def grid_over_training(snaps: Sequence[tuple[int, torch.Tensor]], nrow: int = 8,
                       path: str | Path | None = None):
    """Sample grids at several training steps side by side; ``snaps`` is a list of ``(step, images)``."""
    if not snaps:
        raise ValueError("snaps is empty; collect (step, images) pairs during training first.")
    k = len(snaps)
    with sns.axes_style("white"):
        fig, axes = plt.subplots(1, k, figsize=(3.0 * k, 3.3), squeeze=False)
        for ax, (step, images) in zip(axes[0], snaps):
            _draw_grid(ax, images, nrow, title=f"step {step}")
    fig.tight_layout()
    return _finish(fig, path)


# ----------------------------------------------------------------------------- 2D
def scatter2d(points: torch.Tensor, mixture=None, ax=None, title: str | None = None,
              path: str | Path | None = None):
    """2D samples (``N×2``) with the mixture's mode centres as crosses, on fixed limits."""
    L = limits2d(mixture, [points])
    if ax is not None:
        _draw_scatter(ax, points, mixture, L, title)
        _scatter_legend(ax)
        return ax
    with sns.axes_style(STYLE):
        fig, ax = plt.subplots(figsize=(4, 4.3))
        _draw_scatter(ax, points, mixture, L, title)
        _scatter_legend(ax)
    fig.tight_layout()
    return _finish(fig, path)


def snapshots2d(snaps: Sequence[tuple[int, torch.Tensor]], mixture=None, ncols: int | None = None,
                path: str | Path | None = None):
    """Scatter panels of generated 2D samples over training (``snaps``: list of ``(step, points)``).

    The picture of mode collapse: the samples jump from mode to mode instead of covering them all.
    All panels share the same limits.
    """
    if not snaps:
        raise ValueError("snaps is empty; collect (step, points) pairs during training first.")
    k = len(snaps)
    ncols = ncols or min(k, 6)
    nrows = math.ceil(k / ncols)
    L = limits2d(mixture, [p for _, p in snaps])
    with sns.axes_style(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.6 * nrows), squeeze=False)
        for i, ax in enumerate(axes.flat):
            if i < k:
                step, points = snaps[i]
                _draw_scatter(ax, points, mixture, L, title=f"step {step}")
                ax.tick_params(labelsize=7)
            else:
                ax.set_axis_off()
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncols=len(handles), fontsize=8, frameon=False, markerscale=1.5)
    fig.tight_layout(rect=(0, 0.1 if nrows == 1 else 0.05, 1, 1))
    return _finish(fig, path)


# ----------------------------------------------------------------------------- curves
def _is_seq(x) -> bool:
    return isinstance(x, (list, tuple, np.ndarray, torch.Tensor))


def _series(history, key: str) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` for ``key`` from a ``History`` (anything with ``.series(key)``), or a
    mapping key → list of values, key → list of ``(step, value)`` pairs, or key → ``(steps, values)``."""
    if hasattr(history, "series"):
        steps, values = history.series(key)
        return _to_numpy(steps), _to_numpy([float(v) for v in values])
    if not isinstance(history, Mapping):
        raise TypeError(
            f"history should be a gantut History or a dict of lists, got {type(history).__name__}."
        )
    if key not in history:
        raise KeyError(f"no series {key!r} in the history; it has {', '.join(map(str, history))}.")
    s = history[key]
    if isinstance(s, tuple) and len(s) == 2 and _is_seq(s[0]) and _is_seq(s[1]) and len(s[0]) == len(s[1]):
        steps, values = s  # (steps, values)
    elif len(s) and all(_is_seq(item) and len(item) == 2 for item in s):
        steps, values = [p[0] for p in s], [p[1] for p in s]  # [(step, value), ...]
    else:
        steps, values = range(len(s)), s  # [value, ...]
    return (np.asarray([float(t) for t in steps]), np.asarray([float(v) for v in values]))


def _keys(history) -> list[str]:
    return list(history.keys())


def ema(values: Sequence[float], smooth: float) -> np.ndarray:
    """Exponential moving average s_t = smooth·s_{t-1} + (1 − smooth)·x_t, with s_0 = x_0."""
    if not 0.0 <= smooth < 1.0:
        raise ValueError(f"smooth must be in [0, 1) (0 = no smoothing), got {smooth}.")
    x = np.asarray(values, dtype=float)
    s = np.empty_like(x)
    for t, v in enumerate(x):
        s[t] = v if t == 0 else smooth * s[t - 1] + (1.0 - smooth) * v
    return s


def curves(history, keys: Sequence[str] | Sequence[Sequence[str]] | None = None, smooth: float = 0.0,
           logy: bool = False, title: str | None = None, path: str | Path | None = None):
    """Loss / metric curves against the training step.

    ``keys``: a list of names drawn on one Axes (default: every series), or a list of lists, one
    panel per inner list (e.g. ``[["loss_D", "loss_G"], ["fid"]]``). ``smooth`` in [0, 1) draws an
    EMA (see :func:`ema`) over the raw curve, which stays faint behind it.
    """
    if keys is None:
        keys = _keys(history)
    keys = list(keys)
    groups = [list(k) for k in keys] if keys and not isinstance(keys[0], str) else [keys]
    with sns.axes_style(STYLE):
        fig, axes = plt.subplots(1, len(groups), figsize=(5.0 * len(groups), 3.2), squeeze=False)
        for ax, group in zip(axes[0], groups):
            for i, key in enumerate(group):
                steps, values = _series(history, key)
                color = f"C{i % 10}"
                if smooth > 0:
                    ax.plot(steps, values, color=color, alpha=0.25, linewidth=0.8)
                    ax.plot(steps, ema(values, smooth), color=color, label=key)
                else:
                    ax.plot(steps, values, color=color, label=key)
            if logy:
                ax.set_yscale("log")
            ax.set_xlabel("step")
            ax.set_ylabel(group[0] if len(group) == 1 else "value")
            if len(group) > 1:  # below the panel, so it never hides a curve
                ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=min(len(group), 4), frameon=False,
                          fontsize=8)
        if title:
            (fig.suptitle(title) if len(groups) > 1 else axes[0][0].set_title(title))
    fig.tight_layout()
    return _finish(fig, path)


# ----------------------------------------------------------------------------- bars
def _rows(table, metric: str, err: str | None) -> list[tuple[str, float, float | None]]:
    """(name, mean, std or None) for each row of a dict or a pandas DataFrame."""
    rows = []
    if hasattr(table, "iterrows"):  # pandas DataFrame, one row per method
        for name, row in table.iterrows():
            if metric not in row:
                raise KeyError(f"no column {metric!r} in the table; columns: {', '.join(map(str, table.columns))}.")
            std = float(row[err]) if err is not None else None
            rows.append((str(name), float(row[metric]), std))
        return rows
    for name, v in table.items():
        if isinstance(v, Mapping):
            std = float(v[err]) if err is not None and err in v else None
            rows.append((str(name), float(v[metric]), std))
        elif _is_seq(v) and len(v) == 2:
            rows.append((str(name), float(v[0]), float(v[1])))
        else:
            rows.append((str(name), float(v), None))
    return rows


def _number(v: float) -> str:
    """A bar label a student reads at a glance: 7,580 / 84.2 / 0.875, never e-notation."""
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 0.01 or a == 0:
        return f"{v:.3g}"
    return f"{v:.1g}" if a >= 1e-4 else "≈0"


def bars(table, metric: str, err: str | None = None, title: str | None = None,
         path: str | Path | None = None):
    """Comparison bars with ±std error bars.

    ``table``: dict name → ``(mean, std)`` (or a plain mean, or a dict of columns), or a pandas
    DataFrame indexed by name. ``metric`` names the column to draw (and labels the y axis); ``err``
    names the std column for DataFrames and dicts of columns.
    """
    rows = _rows(table, metric, err)
    names = [r[0] for r in rows]
    means = np.array([r[1] for r in rows])
    stds = [r[2] for r in rows]
    yerr = None if all(s is None for s in stds) else np.array([0.0 if s is None else s for s in stds])
    with sns.axes_style(STYLE):
        fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(rows) + 1.5), 3.2))
        x = np.arange(len(rows))
        ax.bar(x, means, yerr=yerr, capsize=4, color=[f"C{i % 10}" for i in range(len(rows))])
        for i, (m, s) in enumerate(zip(means, stds)):
            label = _number(m) if s is None else f"{_number(m)} ± {_number(s)}"
            ax.annotate(label, (x[i], m), textcoords="offset points", xytext=(0, 3),
                        ha="center", va="bottom", fontsize=8)
        ax.set_xticks(x, names, rotation=30 if len(rows) > 4 else 0, ha="right" if len(rows) > 4 else "center")
        ax.set_ylabel(metric)
        if title:
            ax.set_title(title)
    fig.tight_layout()
    return _finish(fig, path)


__all__ = ["show_grid", "grid_over_training", "scatter2d", "snapshots2d", "curves", "bars",
           "ema", "image_grid", "limits2d"]
