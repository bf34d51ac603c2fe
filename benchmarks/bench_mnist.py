"""Milliseconds per G step of the image recipes (gantut.experiments_mnist), by threads, batch, bf16 autocast, compile.

    python benchmarks/bench_mnist.py                      # vanilla and wgan_gp, threads 1 2, batch 64 128, amp off/on
    python benchmarks/bench_mnist.py --recipes r1 bn --threads 1 --compile
    python benchmarks/bench_mnist.py --recipes dcgan32 sagan32 --threads 1 --batch 64 --amp off   # chapter 08, 32 px
    python benchmarks/bench_mnist.py --recipes sagan32 --attn 16 --base 16 32 --threads 1 --batch 64 --amp off

A "step" is one call of the recipe's GANStep (n_critic D updates and one G update) on a real batch of
``real_batch(B)`` MNIST-shaped images, timed as fit runs it (the step alone, no callbacks). ``amp`` sets the
step's bf16 autocast exactly as ``fit(amp=True)`` does. ``--compile`` also times ``torch.compile`` of G and D
(inductor; needs a C compiler, no network). Median over ``--repeats`` timings of ``--steps`` steps each, after
warm-up steps; prints a Markdown table with the thread count, the load average and the machine.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gantut import experiments_mnist as em


def time_step(recipe, threads: int, batch: int, amp: bool, compiled: bool, steps: int, repeats: int,
              warmup: int) -> float:
    torch.set_num_threads(threads)
    recipe = em.recipe(recipe)
    step = em.build(recipe, seed=0, device="cpu")
    if compiled:
        step.G, step.D = torch.compile(step.G), torch.compile(step.D)
    step.amp_device = "cpu" if amp else None
    g = torch.Generator().manual_seed(0)
    x = torch.rand(step.real_batch(batch), 1, recipe.img_size, recipe.img_size, generator=g) * 2 - 1
    for _ in range(warmup):
        step(x)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            out = step(x)
        float(out["loss_G"])
        times.append((time.perf_counter() - t0) / steps * 1000)
    return statistics.median(times)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipes", nargs="+", default=["vanilla", "wgan_gp"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--batches", nargs="+", type=int, default=[64, 128])
    ap.add_argument("--amp", nargs="+", choices=["off", "on"], default=["off", "on"])
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (threads 1, amp off)")
    ap.add_argument("--steps", type=int, default=20, help="steps per timing (wgan recipes: a quarter)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--base", nargs="+", type=int, default=None, help="DCGAN widths to time (default: the recipe's)")
    ap.add_argument("--attn", type=int, default=None, help="attention resolution for recipes that have one")
    args = ap.parse_args()

    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; torch {torch.__version__}; "
          f"load average at start {os.getloadavg()[0]:.2f}")
    print()
    print("| recipe | threads | batch | amp (bf16) | compile | ms per G step | load (1 min) |")
    print("|---|---|---|---|---|---|---|")
    recipes = []
    for name in args.recipes:
        r = em.recipe(name)
        changes = {"attn": args.attn} if args.attn and r.attn is not None else {}
        for base in (args.base or [r.base]):
            variant = em.recipe(r, base=base, **changes)
            recipes.append(variant)
    cases = [(r, t, b, a == "on", False) for r in recipes for t in args.threads for b in args.batches
             for a in args.amp]
    if args.compile:
        cases += [(r, 1, b, False, True) for r in recipes for b in args.batches]
    for recipe, threads, batch, amp, compiled in cases:
        n = max(2, args.steps // 4) if recipe.n_critic > 1 else args.steps
        try:
            ms = f"{time_step(recipe, threads, batch, amp, compiled, n, args.repeats, args.warmup):.1f}"
        except Exception as err:  # compile without a compiler, say
            ms = f"failed ({type(err).__name__}: {str(err).splitlines()[0][:80]})"
        label = recipe.name + ("" if recipe.nets == "course" else f" (base {recipe.base}"
                               + (f", attention {recipe.attn} px" if recipe.attn else "") + ")")
        print(f"| {label} | {threads} | {batch} | {'on' if amp else 'off'} | {'on' if compiled else 'off'} | "
              f"{ms} | {os.getloadavg()[0]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
