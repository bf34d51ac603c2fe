"""Tuning runs for the best 2D recipes, on seeds that the results table never reports (100-104).

    python scripts/tune_2d.py                          # every candidate, seeds 100 and 101, 2 processes
    python scripts/tune_2d.py --seeds 100 101 102 103 104 --only pack4
    python scripts/tune_2d.py --render-only            # rewrite docs/tuning_2d.md from the cached runs

A candidate is a gantut.experiments2d.gan_2d configuration (unrolling K, R1's γ, PacGAN packing m) with a
budget (steps, batch, final lr decay). Each run goes through the shared protocol (experiments2d.run_2d: seeded
batches, 2,500 scored samples) on one torch thread and is cached as JSON under runs/tune_2d/, so the script
resumes. The winners become named recipes of experiments2d.RECIPES_2D, which scripts/table_2d.py then reports
on seeds 0-4 (held out from tuning).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gantut import data  # noqa: E402
from gantut import experiments2d as ex  # noqa: E402

# name: (mixture, gan_2d kwargs, steps, batch, decay fraction)
CANDIDATES = {
    "ring unrolled K1 (current best)": ("ring8", {"K": 1}, 9000, 256, 0.5),
    "ring pack2": ("ring8", {"pack": 2}, 12000, 256, 0.5),
    "ring pack4": ("ring8", {"pack": 4}, 12000, 256, 0.5),
    "ring unrolled K1 pack2": ("ring8", {"K": 1, "pack": 2}, 9000, 256, 0.5),
    "ring R1 0.03 pack4": ("ring8", {"r1_gamma": 0.03, "pack": 4}, 12000, 256, 0.5),
    "grid R1 0.1 (current best)": ("grid25", {"r1_gamma": 0.1}, 12000, 256, 0.5),
    "grid pack4": ("grid25", {"pack": 4}, 12000, 256, 0.5),
    "grid R1 0.1 pack2": ("grid25", {"r1_gamma": 0.1, "pack": 2}, 12000, 256, 0.5),
    "grid R1 0.1 pack4": ("grid25", {"r1_gamma": 0.1, "pack": 4}, 12000, 256, 0.5),
    "grid R1 0.4 pack4": ("grid25", {"r1_gamma": 0.4, "pack": 4}, 12000, 256, 0.5),
    "grid R1 0.1 pack4 b512": ("grid25", {"r1_gamma": 0.1, "pack": 4}, 12000, 512, 0.5),
    # round 2: longer, within the 2-minute budget
    "ring unrolled K1 15k": ("ring8", {"K": 1}, 15000, 256, 0.5),
    "ring pack2 20k": ("ring8", {"pack": 2}, 20000, 256, 0.5),
    "ring vanilla 20k": ("ring8", {}, 20000, 256, 0.5),
    "grid R1 0.1 18k": ("grid25", {"r1_gamma": 0.1}, 18000, 256, 0.5),
    "grid R1 0.1 b512": ("grid25", {"r1_gamma": 0.1}, 12000, 512, 0.5),
    "grid R1 0.1 18k decay0.8": ("grid25", {"r1_gamma": 0.1}, 18000, 256, 0.8),
    # round 3
    "ring pack2 28k": ("ring8", {"pack": 2}, 28000, 256, 0.5),
    "ring unrolled K1 12k": ("ring8", {"K": 1}, 12000, 256, 0.5),
}
MIXTURES = {"ring8": data.ring, "grid25": data.grid}
CACHE = ROOT / "runs" / "tune_2d"


def run(name: str, seed: int) -> dict:
    torch.set_num_threads(1)
    mix_name, kw, steps, batch, decay = CANDIDATES[name]
    res = ex.run_2d(ex.gan_2d(**kw), MIXTURES[mix_name](), seed, steps, batch, decay=decay)
    m = res.metrics
    return {"candidate": name, "mixture": mix_name, "kwargs": kw, "steps": steps, "batch_size": batch, "decay": decay,
            "seed": seed, "modes": m.modes, "n_modes": m.n_modes, "hq": m.hq, "reverse_kl": m.reverse_kl,
            "seconds": res.seconds, "threads": res.threads, "load_avg": os.getloadavg()[0]}


def _path(name: str, seed: int) -> Path:
    return CACHE / ("".join(c if c.isalnum() else "_" for c in name) + f"-s{seed}.json")


def _job(args):
    name, seed = args
    res = run(name, seed)
    _path(name, seed).write_text(json.dumps(res))
    return res


def render(results: list[dict], out: Path) -> None:
    lines = ["# 2D tuning runs (seeds 100-104; never reported in docs/results_2d.md)", "",
             "Reproduce: `python scripts/tune_2d.py --seeds 100 101 102 103 104` (cached in runs/tune_2d/). Each run: "
             "the shared 2D protocol (gantut.experiments2d.run_2d), 2D MLPs 2x128, non-saturating loss, Adam 1e-3 "
             "β (0.5, 0.999), every learning rate decayed linearly to 0 over the final `decay` fraction, 2,500 scored "
             "samples, HQ = within 3σ of the nearest mode, 1 torch thread, wall-clock seconds of training on a shared "
             "2-core machine (load average in the last column).", "",
             "| candidate | mixture | steps | batch | decay | seeds | all modes | HQ % (mean, min) | reverse KL (max) | s / run | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in CANDIDATES:
        rs = sorted((r for r in results if r["candidate"] == name), key=lambda r: r["seed"])
        if not rs:
            continue
        hq = [100 * r["hq"] for r in rs]
        lines.append(f"| {name} | {rs[0]['mixture']} | {rs[0]['steps']} | {rs[0]['batch_size']} | {rs[0]['decay']} | "
                     f"{','.join(str(r['seed']) for r in rs)} | {sum(r['modes'] == r['n_modes'] for r in rs)}/{len(rs)} | "
                     f"{sum(hq) / len(hq):.1f}, {min(hq):.1f} | {max(r['reverse_kl'] for r in rs):.3f} | "
                     f"{max(r['seconds'] for r in rs):.0f} | {sum(r['load_avg'] for r in rs) / len(rs):.1f} |")
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    p.add_argument("--only", default="", help="comma-separated substrings of candidate names")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--render-only", action="store_true")
    a = p.parse_args(argv)
    CACHE.mkdir(parents=True, exist_ok=True)
    names = [n for n in CANDIDATES if not a.only or any(s.strip() in n for s in a.only.split(","))]
    todo = [(n, s) for n in names for s in a.seeds if not _path(n, s).exists()]
    if not a.render_only and todo:
        print(f"{len(todo)} runs to train ({a.jobs} processes)", flush=True)
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(a.jobs) as pool:
            for res in pool.imap_unordered(_job, todo):
                print(json.dumps(res), flush=True)
    results = [json.loads(f.read_text()) for f in sorted(CACHE.glob("*.json"))]
    render(results, ROOT / "docs" / "tuning_2d.md")


if __name__ == "__main__":
    main()
