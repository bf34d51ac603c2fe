"""The one training loop of gantut.

A technique supplies a *step*: a callable ``step(batch) -> {"loss_D": ..., "loss_G": ...}`` that
updates its models and returns scalars. :func:`fit` owns everything else:

* iteration over a batch source (``next()``), device moves (``non_blocking``), optional bf16 autocast;
* a :class:`History` of every scalar the step (or a callback) returns;
* periodic callbacks (:func:`every`) for snapshots and metrics;
* atomic checkpoints and exact resume (models, optimisers, RNGs, batch source, history);
* a guard that stops with a clear message when a loss becomes NaN or infinite;
* a tqdm.auto progress bar (off in the smoke profile).

A finished checkpoint is *load-or-train*: calling ``fit`` again with the same ``checkpoint`` path
loads the trained state and returns its history without training.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import torch

from . import config

__all__ = [
    "FitResult",
    "History",
    "Loop",
    "CheckpointError",
    "NonFiniteLossError",
    "StopTraining",
    "every",
    "fit",
    "run_path",
    "save_checkpoint",
    "load_checkpoint",
]


class NonFiniteLossError(FloatingPointError):
    """Raised by :func:`fit` when a scalar returned by the step is NaN or infinite."""


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read (damaged, truncated or not gantut's)."""


class StopTraining(Exception):
    """Raise from a callback (or call ``loop.stop()``) to end :func:`fit` early, cleanly."""


class History:
    """Scalars over training: ``key -> (steps, values)``.

    ``history["loss_D"]`` is the list of values; ``history.series("loss_D")`` gives ``(steps, values)``
    (metrics computed every n steps have their own steps).
    """

    def __init__(self) -> None:
        self._steps: dict[str, list[int]] = {}
        self._values: dict[str, list[float]] = {}

    def log(self, step: int, scalars: Mapping[str, Any]) -> None:
        for key, value in scalars.items():
            self._steps.setdefault(key, []).append(int(step))
            self._values.setdefault(key, []).append(_to_float(value))

    def keys(self) -> list[str]:
        return list(self._values)

    def __contains__(self, key: str) -> bool:
        return key in self._values

    def __getitem__(self, key: str) -> list[float]:
        if key not in self._values:
            raise KeyError(f"no scalar {key!r} in the history; it has {self.keys()}")
        return self._values[key]

    def series(self, key: str) -> tuple[list[int], list[float]]:
        return self._steps[key], self[key]

    def last(self, key: str) -> float:
        return self[key][-1]

    def __len__(self) -> int:
        return max((len(v) for v in self._values.values()), default=0)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, History) and self.state_dict() == other.state_dict()

    def __repr__(self) -> str:
        parts = [f"{k}: {len(v)} values, last {v[-1]:.4g}" for k, v in self._values.items()]
        return "History(" + "; ".join(parts) + ")"

    def state_dict(self) -> dict:
        return {"steps": {k: list(v) for k, v in self._steps.items()},
                "values": {k: list(v) for k, v in self._values.items()}}

    def load_state_dict(self, state: Mapping) -> None:
        self._steps = {k: list(v) for k, v in state["steps"].items()}
        self._values = {k: list(v) for k, v in state["values"].items()}

    def to_frame(self):
        """A pandas DataFrame indexed by step, one column per scalar."""
        import pandas as pd

        cols = [pd.Series(v, index=self._steps[k], name=k) for k, v in self._values.items()]
        return pd.concat(cols, axis=1) if cols else pd.DataFrame()


class FitResult(History):
    """What :func:`fit` returns: the :class:`History` of the run (all of it, resumed part included), plus

    * ``steps_trained`` — steps this call actually trained (0 when a finished checkpoint was loaded);
    * ``start_step`` — the step it started from (the checkpoint's, or 0);
    * ``seconds`` — wall-clock seconds this call spent training (0.0 when nothing was trained);
    * ``loaded`` — True when nothing was trained (load-or-train found a finished checkpoint);
    * ``train_seconds`` — seconds of training over every call that trained this checkpoint (stored in
      it), so a loaded run still says what it cost.
    """

    def __init__(self) -> None:
        super().__init__()
        self.steps_trained = 0
        self.start_step = 0
        self.seconds = 0.0
        self.train_seconds = 0.0

    @property
    def loaded(self) -> bool:
        return self.steps_trained == 0

    @property
    def history(self) -> History:
        h = History()
        h.load_state_dict(self.state_dict())
        return h


def _to_float(value: Any) -> float:
    if isinstance(value, torch.Tensor):
        return float(value.detach())
    return float(value)


class Loop:
    """What callbacks see: the step count done, the history, the state being trained."""

    def __init__(self, steps: int, history: History, state: Mapping[str, Any], device: torch.device,
                 data: Any) -> None:
        self.step = 0
        self.steps = steps
        self.history = history
        self.state = state
        self.device = device
        self.data = data
        self._stop = False

    def stop(self) -> None:
        """Ask :func:`fit` to end after this step (a checkpoint is still written)."""
        self._stop = True

    @property
    def is_last(self) -> bool:
        return self.step >= self.steps


class every:
    """A periodic callback: ``every(500, fn)`` calls ``fn(loop)`` after steps 500, 1000, ... and the last.

    ``fn`` may return a dict of scalars (e.g. an FID), logged in the history at that step.
    ``at_start=True`` also calls it once before the first step (step 0).
    """

    def __init__(self, n: int, fn: Callable[[Loop], Mapping[str, Any] | None], *, at_start: bool = False,
                 at_end: bool = True) -> None:
        if n < 1:
            raise ValueError(f"every(n, ...) needs n >= 1, got {n}")
        self.n, self.fn, self.at_start, self.at_end = int(n), fn, at_start, at_end

    def due(self, step: int, steps: int) -> bool:
        return step % self.n == 0 or (self.at_end and step == steps)

    def __call__(self, loop: Loop) -> Mapping[str, Any] | None:
        return self.fn(loop)


# ---------------------------------------------------------------------------------------------------
# checkpoints


def run_path(*name: str, ext: str = ".pt", **key: Any) -> Path:
    """A checkpoint path under the runs directory, keyed by everything that changes the result.

    ``run_path("02", "vanilla", profile="cpu", lr=2e-4, steps=3000)`` ->
    ``runs/checkpoints/02/vanilla-<hash of the key>.pt``. Change a hyperparameter, get a new file.
    """
    blob = json.dumps(key, sort_keys=True, default=str)
    digest = hashlib.sha1(blob.encode()).hexdigest()[:10]
    folder = config.runs_dir() / "checkpoints" / Path(*name[:-1]) if len(name) > 1 else config.runs_dir() / "checkpoints"
    stem = name[-1] if name else "run"
    return folder / f"{stem}-{digest}{ext}"


def save_checkpoint(path: str | os.PathLike, payload: Mapping[str, Any]) -> Path:
    """``torch.save`` to a temporary file in the same folder, then rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(dict(payload), tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu",
                    fix: str = "delete it and run again to retrain") -> dict:
    """Read a gantut checkpoint: the one function every checkpoint read goes through.

    ``weights_only=True`` (plain tensors and containers only) and ``map_location`` (default the CPU, so
    a file written on a GPU loads on a machine without one). A missing, truncated or foreign file gives
    one message that names the file and ``fix``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: {fix}.")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception:
        raise CheckpointError(
            f"could not read the checkpoint {path}: it is damaged, was cut short (an interrupted run or copy), or "
            f"was not written by gantut. Fix: {fix}."
        ) from None


def _rng_state() -> dict:
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping) -> None:
    torch.set_rng_state(state["torch"])
    npst = state["numpy"]
    np.random.set_state(("MT19937", npst["keys"].numpy().astype(np.uint32), npst["pos"],
                         npst["has_gauss"], npst["cached_gaussian"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        # one state per GPU of the machine that wrote it: restore those this machine has (a 2-GPU run resumes on 1)
        for index, gpu_state in enumerate(list(state["cuda"])[:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(gpu_state, index)


# ---------------------------------------------------------------------------------------------------
# the loop


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        if batch.device == device:
            return batch
        # non_blocking only for host -> accelerator copies (a non-blocking copy to the host can be read early)
        return batch.to(device, non_blocking=batch.device.type == "cpu" and device.type != "cpu")
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(b, device) for b in batch)
    return batch


def _next_batch(data: Any) -> Any:
    if data is None:
        return None
    if hasattr(data, "next"):
        return data.next()
    return next(data)


def _log_checked(buffer: list[tuple[int, Mapping[str, Any]]], history: History) -> None:
    """Move buffered scalars into the history, stopping at the first NaN/inf with a clear message."""
    for step, scalars in buffer:
        for key, value in scalars.items():
            v = _to_float(value)
            if not math.isfinite(v):
                steps, values = history.series(key) if key in history else ([], [])
                last = f" (last finite value {values[-1]:.4g} at step {steps[-1]})" if values else ""
                raise NonFiniteLossError(
                    f"{key} became {v} at step {step}{last}. Training stopped. Usual fixes: lower the "
                    "learning rates, add a gradient penalty or clip gradients, and check the loss is "
                    "computed from logits with a stable formula (softplus, not log(sigmoid))."
                )
        history.log(step, scalars)


def fit(
    step: Callable[[Any], Mapping[str, Any]],
    data: Any,
    steps: int,
    *,
    state: Mapping[str, Any] | None = None,
    callbacks: Iterable[every] = (),
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    resume: bool = True,
    device: torch.device | str | None = None,
    amp: bool = False,
    log_every: int = 25,
    desc: str | None = None,
    progress: bool | None = None,
) -> FitResult:
    """Run ``step`` for ``steps`` iterations over ``data``; return a :class:`FitResult` (the history,
    the steps this call trained and its seconds).

    Parameters
    ----------
    step : ``step(batch) -> dict`` of scalars (tensors or floats). It updates its own models.
    data : a batch source with ``next()`` (``gantut.data.TensorBatches``, ``MixtureBatches``), a
        Python iterator, or ``None`` (the step is then called with ``None``). Batch sources with
        ``state_dict()`` are checkpointed, so a resumed run sees the same batches.
    state : ``{"G": G, "D": D, "opt_G": ..., ...}`` — everything with a ``state_dict`` that the
        checkpoint must hold.
    callbacks : :func:`every` objects; what they return is logged at their step.
    checkpoint : a path (see :func:`run_path`). Written atomically every ``checkpoint_every`` steps and
        at the end. If it exists and ``resume`` is true, training continues from it; if it is
        finished, nothing is trained (load-or-train).
    device : where training runs (default: the device of the state's first module). Every module of
        ``state`` must already be there: fit raises a clear error rather than moving models silently.
    amp : bfloat16 autocast around the step's forward passes and losses only (never its backward or
        optimiser steps, per PyTorch's autocast guidance), on CUDA and on CPU. The step must support it
        (gantut's adversarial steps do: they expose ``amp_device``).
    log_every : scalars are moved to the history (and checked for NaN/inf) every this many steps.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    state = dict(state or {})
    dev = torch.device(device) if device is not None else _infer_device(state)
    _check_devices(state, dev)
    history = FitResult()
    start, before = 0, 0.0
    if checkpoint is not None and resume and Path(checkpoint).exists():
        start, before = _restore(Path(checkpoint), state, history, data)
        if start > steps:
            raise ValueError(
                f"the checkpoint {checkpoint} has already trained {start} steps, more than steps={steps}. "
                "Pass a larger steps, another checkpoint path, or resume=False to start over."
            )
    loop = Loop(steps, history, state, dev, data)
    loop.step = start
    callbacks = list(callbacks)
    if start == 0:
        for cb in callbacks:
            if cb.at_start:
                _log_callback(cb, loop)

    show = config.progress_enabled() if progress is None else progress
    bar = None
    if show and start < steps:
        bar = config.progress_bar(total=steps, initial=start, desc=desc or "training", leave=True, disable=False)

    if amp:
        if not hasattr(step, "amp_device"):
            raise TypeError(f"fit(amp=True) needs a step that autocasts its own forward passes (an attribute "
                            f"amp_device, as gantut.gan.AdversarialStep has); {type(step).__name__} has none.")
        if dev.type == "cuda" and not torch.cuda.is_bf16_supported():
            warnings.warn("this GPU has no native bfloat16: amp=True will be slow; train without it.", stacklevel=2)
        step.amp_device = dev.type
    buffer: list[tuple[int, Mapping[str, Any]]] = []

    def flush() -> None:
        if not buffer:
            return
        _log_checked(buffer, history)
        if bar is not None:
            bar.update(buffer[-1][0] - bar.n)
            bar.set_postfix({k: f"{_to_float(v):.3g}" for k, v in buffer[-1][1].items()}, refresh=False)
        buffer.clear()

    t0 = time.perf_counter()
    try:
        for i in range(start, steps):
            batch = _to_device(_next_batch(data), dev)
            out = step(batch)
            loop.step = i + 1
            buffer.append((i + 1, {k: (v.detach() if isinstance(v, torch.Tensor) else v)
                                   for k, v in (out or {}).items()}))
            if (i + 1) % log_every == 0:
                flush()
            for cb in callbacks:
                if cb.due(i + 1, steps):
                    flush()
                    _log_callback(cb, loop)
            if checkpoint is not None and checkpoint_every and (i + 1) % checkpoint_every == 0 and i + 1 < steps:
                flush()
                _save(Path(checkpoint), loop, before + time.perf_counter() - t0)
            if loop._stop:
                break
        flush()
    except StopTraining:
        flush()
    finally:
        if bar is not None:
            bar.close()
        if amp:
            step.amp_device = None
    history.seconds = time.perf_counter() - t0 if loop.step > start else 0.0
    history.start_step, history.steps_trained = start, loop.step - start
    history.train_seconds = before + history.seconds
    if checkpoint is not None and loop.step > start:
        _save(Path(checkpoint), loop, history.train_seconds)
    return history


def _log_callback(cb: every, loop: Loop) -> None:
    try:
        extra = cb(loop)
    except StopTraining:
        loop.stop()
        return
    if extra:
        loop.history.log(loop.step, extra)


def _check_devices(state: Mapping[str, Any], dev: torch.device) -> None:
    for key, obj in state.items():
        if isinstance(obj, torch.nn.Module):
            for p in obj.parameters():
                if p.device.type != dev.type or (dev.index is not None and p.device.index not in (None, dev.index)):
                    raise RuntimeError(
                        f"state[{key!r}] is on {p.device} but fit trains on {dev}: build the models on "
                        f"gantut.device() (e.g. G.to(gantut.device())) before creating their optimisers.")
                break


def _infer_device(state: Mapping[str, Any]) -> torch.device:
    for obj in state.values():
        if isinstance(obj, torch.nn.Module):
            for p in obj.parameters():
                return p.device
    return torch.device("cpu")


def _save(path: Path, loop: Loop, train_seconds: float) -> None:
    payload = {
        "step": loop.step,
        "train_seconds": float(train_seconds),
        "steps": loop.steps,
        "state": {k: v.state_dict() for k, v in loop.state.items()},
        "history": loop.history.state_dict(),
        "rng": _rng_state(),
        "data": loop.data.state_dict() if hasattr(loop.data, "state_dict") else None,
        "gantut_checkpoint": 1,
    }
    save_checkpoint(path, payload)


def _restore(path: Path, state: Mapping[str, Any], history: History, data: Any) -> tuple[int, float]:
    ckpt = load_checkpoint(path, map_location="cpu")
    if ckpt.get("gantut_checkpoint") != 1:
        raise RuntimeError(f"{path} is not a checkpoint written by gantut.fit; delete it or pick another path.")
    missing = set(state) - set(ckpt["state"])
    if missing:
        raise RuntimeError(
            f"the checkpoint {path} has no state for {sorted(missing)} (it holds {sorted(ckpt['state'])}). "
            "It was written by another setup: use another checkpoint path or delete it."
        )
    for key, obj in state.items():
        obj.load_state_dict(ckpt["state"][key])
    history.load_state_dict(ckpt["history"])
    _set_rng_state(ckpt["rng"])
    if ckpt.get("data") is not None and hasattr(data, "load_state_dict"):
        data.load_state_dict(ckpt["data"])
    return int(ckpt["step"]), float(ckpt.get("train_seconds", 0.0))
