"""What a headless run keeps besides the executed notebook: the chapter's headline numbers.

``gantut run`` sets ``GANTUT_OUT_DIR`` to its run folder; a chapter's verdict cell calls
:func:`save_metrics` with the numbers its verdict quotes, and they land in ``<run folder>/metrics.json``
(with the profile and thread count). Figures need no call: ``gantut run`` writes every picture of the
executed notebook to ``<run folder>/figures/`` (:func:`gantut.cli.extract_figures`). In JupyterLab, with no
run folder, :func:`save_metrics` does nothing and returns None.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from . import config

__all__ = ["out_dir", "save_metrics"]


def out_dir() -> Path | None:
    """The run folder of ``gantut run`` (``GANTUT_OUT_DIR``), or None in an interactive session."""
    raw = os.environ.get("GANTUT_OUT_DIR", "").strip()
    return Path(raw) if raw else None


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().tolist()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if hasattr(value, "item") and not isinstance(value, (list, dict)):
        value = value.item()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN / inf
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def save_metrics(metrics: Mapping[str, Any], chapter: str | None = None) -> None:
    """Write ``metrics`` (numbers, strings, nested dicts/lists; tensors are converted) to
    ``<run folder>/metrics.json`` with the profile and threads; merged with what is already there.
    Returns nothing, so that it can end a notebook cell without printing a path."""
    folder = out_dir()
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "metrics.json"
    current = json.loads(path.read_text()) if path.exists() else {}
    current.update({"profile": config.profile(), "threads": torch.get_num_threads(),
                    **({"chapter": chapter} if chapter else {}), **_plain(dict(metrics))})
    path.write_text(json.dumps(current, indent=1, ensure_ascii=False))
