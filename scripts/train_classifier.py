"""Train the small CNN used by gantut.metrics and save it to data/classifiers/<dataset>_cnn.pt.

    GANTUT_OFFLINE=1 python scripts/train_classifier.py mnist   [--seed 0] [--epochs N]
    GANTUT_OFFLINE=1 python scripts/train_classifier.py fashion [--seed 0] [--epochs N]

Prints the test accuracy; record it in data/classifiers/README.md.
"""
from __future__ import annotations

import argparse

from gantut.classifier import DATASETS, checkpoint_path, save_classifier, train_classifier


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=DATASETS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=None, help="default: 30 (MNIST subset), 4 (Fashion)")
    ap.add_argument("--out", default=None, help="default: data/classifiers/<dataset>_cnn.pt")
    args = ap.parse_args()
    model = train_classifier(args.dataset, seed=args.seed, epochs=args.epochs)
    path = save_classifier(model, args.out or checkpoint_path(args.dataset))
    print(f"saved {path} ({path.stat().st_size / 1e6:.2f} MB)")
    for k, v in model.meta.items():
        print(f"  {k}: {v}")


if __name__ == "__main__":
    main()
