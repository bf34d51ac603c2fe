"""Wall-clock of the two best 2D recipes (issue 4: "each run under 2 minutes on these 2-core machines").

    python benchmarks/bench_2d_best.py               # both recipes, seed 0, one torch thread
    python benchmarks/bench_2d_best.py --seeds 0 1 --threads 2

Each recipe is trained exactly as scripts/table_2d.py trains it (its run_one: experiments2d.run_2d, batch 256,
its own steps and lr decay) and scored on 2,500 samples; printed: seconds of training, ms per step, the load
average before and after (another job on the machine inflates the time), and the scores, so a timing is
never quoted without the run it timed. Results are recorded in docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from table_2d import BEST_GRID_V2, BEST_RING_V2, TECHNIQUES, run_one  # noqa: E402

from gantut.experiments2d import N_EVAL  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{a.threads} thread(s)")
    for name in (BEST_RING_V2, BEST_GRID_V2):
        recipe = TECHNIQUES[name]
        for mixture in recipe.mixtures:
            for seed in a.seeds:
                load0 = os.getloadavg()[0]
                r = run_one(name, mixture, seed, recipe.steps, threads=a.threads)
                print(f"{name} | {mixture} | seed {seed} | {r['steps']} steps | {r['seconds']:.1f} s "
                      f"({r['ms_per_step']:.2f} ms/step) | load {load0:.2f} -> {r['load_avg']:.2f} | "
                      f"modes {r['modes']}/{r['n_modes']}, HQ {100 * r['hq']:.1f}%, rKL {r['reverse_kl']:.2f} "
                      f"[N={N_EVAL}]", flush=True)


if __name__ == "__main__":
    main()
