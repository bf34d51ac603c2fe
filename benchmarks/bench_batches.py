"""TensorBatches vs torch DataLoader(TensorDataset) on MNIST-size data.

    python benchmarks/bench_batches.py [--device cpu] [--batch 64] [--repeats 5] [--threads N]

Data: 60,000×1×28×28 float32 (random values: only the size matters), labels 0..9. One "run" draws
one epoch of batches (60,000 // batch, drop_last) and touches each batch (a sum) so that lazy
work is not skipped. Reported: median over ``--repeats`` runs, µs per batch and seconds per epoch.
The DataLoader holds the data on the CPU (its usual setup) and moves each batch to the device;
TensorBatches holds the data on the device. No worker processes (the tests and benchmarks run on
2 cores; for in-memory tensors workers only add pickling).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from gantut.data import TensorBatches


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_epoch(next_batch, n_batches: int, device: torch.device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    acc = torch.zeros((), device=device)
    for _ in range(n_batches):
        batch = next_batch()
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        acc += x.sum()
    _sync(device)
    return time.perf_counter() - t0


def loader_source(ds: TensorDataset, batch: int, device: torch.device, seed: int):
    """An endless iterator over a shuffling DataLoader, each batch moved to ``device``."""
    loader = DataLoader(ds, batch_size=batch, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(seed),
                        pin_memory=device.type == "cuda")

    def gen():
        while True:
            for b in loader:
                yield [t.to(device, non_blocking=True) for t in b]

    it = gen()
    return lambda: next(it)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n", type=int, default=60000)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    g = torch.Generator().manual_seed(0)
    x = torch.rand(args.n, 1, 28, 28, generator=g) * 2 - 1
    y = torch.randint(0, 10, (args.n,), generator=g)
    n_batches = args.n // args.batch

    sources = {
        "TensorBatches": lambda s: TensorBatches(x, args.batch, generator=torch.Generator().manual_seed(s),
                                                 device=device).next,
        "DataLoader(TensorDataset)": lambda s: loader_source(TensorDataset(x), args.batch, device, s),
        "TensorBatches (x, labels)": lambda s: TensorBatches(x, args.batch, labels=y, device=device,
                                                             generator=torch.Generator().manual_seed(s)).next,
        "DataLoader (x, labels)": lambda s: loader_source(TensorDataset(x, y), args.batch, device, s),
    }
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
          f"data {tuple(x.shape)} float32, batch {args.batch}, epoch = {n_batches} batches, "
          f"median of {args.repeats} runs")
    print(f"{'source':<28} {'µs/batch':>10} {'epoch (s)':>10}")
    for name, make in sources.items():
        next_batch = make(0)
        time_epoch(next_batch, 20, device)  # warm-up
        times = [time_epoch(make(r + 1), n_batches, device) for r in range(args.repeats)]
        med = statistics.median(times)
        print(f"{name:<28} {1e6 * med / n_batches:>10.1f} {med:>10.3f}")


if __name__ == "__main__":
    main()
