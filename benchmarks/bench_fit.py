"""Overhead of gantut.fit over a hand-written loop running the same step on the same data (CPU).

    python benchmarks/bench_fit.py                # both cases, 7 repeats
    python benchmarks/bench_fit.py --repeats 11 --case 2d

For each case and repeat, both loops start from the same seed (same weights, same batches); their
order alternates between repeats so that warm-up and background load fall on both. Reported: median
seconds per step of each, and the overhead of fit = median(fit) / median(hand) − 1.
The target is <= 5 % (issue 2); results are recorded in docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from gantut import data, nets
from gantut.gan import GANStep
from gantut.train import fit


def make_case(case: str, seed: int):
    """A fresh GAN step and batch source for the case, from ``seed``."""
    torch.manual_seed(seed)
    if case == "2d":
        G, D, z_dim, batch = nets.mlp2d_G(z_dim=2), nets.mlp2d_D(), 2, 256
        x = data.grid().sample(20_000, generator=torch.Generator().manual_seed(seed))
    else:
        G, D, z_dim, batch = nets.course_G(), nets.course_D(), 100, 64
        x = torch.rand(5_000, 1, 28, 28, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    step = GANStep(G, D, opt_G, opt_D, z_dim)
    batches = data.TensorBatches(x, batch, generator=torch.Generator().manual_seed(seed))
    return step, batches


def hand_loop(case: str, steps: int, seed: int) -> float:
    step, batches = make_case(case, seed)
    t0 = time.perf_counter()
    for _ in range(steps):
        step(batches.next())
    return (time.perf_counter() - t0) / steps


def fit_loop(case: str, steps: int, seed: int) -> float:
    step, batches = make_case(case, seed)
    t0 = time.perf_counter()
    fit(step, batches, steps, state=step.state, progress=False)
    return (time.perf_counter() - t0) / steps


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=["2d", "mnist", "both"], default="both")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps-2d", type=int, default=1000)
    parser.add_argument("--steps-mnist", type=int, default=200)
    args = parser.parse_args(argv)
    cases = ["2d", "mnist"] if args.case == "both" else [args.case]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print("| case | steps × repeats | hand loop ms/step | fit ms/step | fit overhead |")
    print("|---|---|---|---|---|")
    for case in cases:
        steps = args.steps_2d if case == "2d" else args.steps_mnist
        hand_loop(case, 20, 0), fit_loop(case, 20, 0)  # warm-up
        hand, fitted = [], []
        for r in range(args.repeats):
            order = [(hand_loop, hand), (fit_loop, fitted)]
            for fn, out in (order if r % 2 == 0 else order[::-1]):
                out.append(fn(case, steps, seed=r))
        h, f = statistics.median(hand), statistics.median(fitted)
        print(f"| {case} | {steps} × {args.repeats} | {h * 1e3:.2f} | {f * 1e3:.2f} | {100 * (f / h - 1):+.1f} % |")


if __name__ == "__main__":
    main()
