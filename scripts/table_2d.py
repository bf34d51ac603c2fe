"""The 2D results table: every technique of chapters 01-05 on the 8-mode ring and the 25-mode grid.

    python scripts/table_2d.py                 # 5 seeds, ring + grid, all techniques -> docs/results_2d.md/.json
    python scripts/table_2d.py --quick         # 2 seeds, 300 steps: a check that everything runs (~2 min)
    python scripts/table_2d.py --jobs 2        # two worker processes (one torch thread each)

Protocol (VEEGAN, arXiv:1705.07761 / PacGAN, arXiv:1712.04086): after training, 2,500 samples; a sample is high quality (HQ) within
3 std of its nearest mode; a mode is captured if it is the nearest mode of at least one HQ sample; reverse KL
of the HQ mode histogram to uniform. Mean ± std (ddof 1) over seeds; seconds are wall-clock per run on the
machine that ran it (shared machines inflate them: the table records the load average).

Each finished run is cached as JSON under runs/table_2d/ (keyed by technique, mixture, seed, steps), so an
interrupted table resumes and a changed technique reruns only its own rows.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gantut import data, metrics  # noqa: E402
from gantut import experiments2d as ex  # noqa: E402
from gantut.experiments2d import (BEST_GRID, BEST_GRID_V2, BEST_RING, BEST_RING_V2, N_EVAL,  # noqa: E402,F401
                                  REFERENCE_ROWS, run_2d)
from gantut.train import NonFiniteLossError  # noqa: E402

# The recipes are the shared registry gantut.experiments2d.RECIPES_2D (the chapters build from it too):
# name -> Recipe2D (builder and its arguments, chapter, own steps and lr decay for the best recipes, mixtures).
TECHNIQUES = ex.RECIPES_2D
MIXTURES = {"ring8": data.ring, "grid25": data.grid}

# How the best recipes were chosen: single runs (one seed each) made while writing chapters 04-06 with the same
# nets, batch 256, Adam beta (0.5, 0.999), 2,500 samples; "decay" = every lr decayed linearly to 0 over the second
# half; "EMA" = sampling from an exponential moving average of G's weights. Recorded here, not recomputed.
TUNING_NOTES = [
    "Session 1 (load 5-8): grid25, seed 0, 4,000 steps + decay: MD-GAN 22/25 modes, 45.6 % HQ; vanilla 17/25, 7.7 %; "
    "unrolled K=5 1st order (3,000 steps) 21/25, 13.4 %; WGAN-GP with n_critic 1, lr 1e-3 4/25, 1.9 %. ring8, seed 0, "
    "4,000 steps + decay: vanilla 8/8, 30.8 %; MD-GAN 8/8, 60.1 %; unrolled K=5 1st order (3,000 steps) 8/8, 90.8 %.",
    "Session 1, the former best recipes: ring8 unrolled K=5 1st order, 5,000 steps + decay: 8/8, 94.3 % (seed 0, "
    "809 s), 94.1 % (seed 1); grid25 MD-GAN + decay, 8,000 steps: 24/25, 66.5 % (seed 0, 625 s); 10,000 steps "
    "25/25, 86.4 % (seed 2, 491 s). Both took far over 2 minutes. EMA of G's weights never helped (β 0.99: no "
    "change; 0.999: worse).",
    "Session 2 (seed 0, + decay, one other single-thread job on the machine). R1's γ, 4,000 steps: ring8 γ 0.01 8/8 "
    "60.4 %, γ 0.03 8/8 77.6 %, γ 0.1 8/8 73.5 %; grid25 γ 0.01 22/25 17.7 %, γ 0.1 25/25 20.9 %, γ 1 21/25 8.8 % "
    "(vanilla without R1: grid 17/25, 7.7 %).",
    "Session 2, ring8: 6,000 steps: R1 γ 0.03 85.5 %; unrolled K=1 1st order 93.0 % (70 s); unrolled K=1 + R1 0.03 "
    "88.6 %; R1 with BatchNorm in G 55.2 %; R1 with a 3×256 G collapsed (0 modes). Longer: R1 γ 0.03 12,000 steps "
    "92.2 % (112 s), lazy R1 every 4 90.6 % (90 s); MD-GAN's bounded G (uniform latent, 1.5·tanh) + R1 10,000 steps "
    "89.4 %; unrolled K=1 9,000 steps 95.4 % (94 s) -> the best ring recipe; the same with the decay over the last 80 % "
    "instead of 50 %: 95.4 % (no change).",
    "Session 2, grid25: R1 γ 0.1 12,000 steps 25/25, 88.5 % (116 s) -> the best grid recipe; lazy R1 every 4 "
    "84.1 % (84 s); MD-GAN 15,000 steps 25/25, 82.6 % (142 s); MD-GAN batch 1,024, 6,000 steps 25/25, 63.4 % (128 s); "
    "MD-GAN lr 3e-3 14/25; unrolled K=1 6,000 steps 24/25, 40.6 %; unrolled K=1 + R1 0.1 6,000 steps 24/25, 65.2 % "
    "(95 s); MD-GAN's bounded G + R1 10,000 steps 25/25, 85.7 %.",
    "Session 2, DRS (ch07) on top of these G, D calibrated 10 steps with G frozen: the 95th-percentile γ raises HQ "
    "(ring 95.4 -> 99.7 %, grid 88.5 -> 93.3 %) but unbalances the modes (reverse KL 0.01 -> 0.17-1.4, 6-23 % "
    "accepted). On the lazy-R1 ring G (90.6 %), 300-1,000 calibration steps did not change that trade-off, and exact "
    "rejection (γ = 0) kept the balance but added only about 2 points (92.2-92.7 %); on MD-GAN's 6,000-step grid G "
    "(57.2 %), a fresh D calibrated 1,000-3,000 steps gave 52-66 %. The best recipes therefore report G's own samples.",
    "Session 3 (seeds 100-101, never reported here): PacGAN packing (m = 2, 4, with and without R1 or unrolling), "
    "larger batches, longer budgets and a longer decay; every run and its numbers are in docs/tuning_2d.md, "
    "generated from the cached runs by scripts/tune_2d.py. Longer training is what raised HQ; packing helped on the "
    "ring (pairs) and hurt on the grid -> the v2 recipes.",
]


def run_one(technique: str, mixture: str, seed: int, steps: int, batch_size: int = 256, threads: int = 1) -> dict:
    """Train one technique on one mixture for one seed with the shared 2D protocol
    (:func:`gantut.experiments2d.run_2d`: fit, seeded batches, 2,500 scored samples from seed 1000 + seed);
    return its metrics and wall-clock seconds. A run whose losses become NaN/inf is scored as collapsed
    (0 modes, 0 % HQ). ``threads``: torch intra-op threads (1 is fastest on a shared 2-core machine)."""
    torch.set_num_threads(threads)
    recipe = TECHNIQUES[technique]
    mix = MIXTURES[mixture]()
    t0 = time.perf_counter()
    try:
        batch_size = recipe.batch_size or batch_size
        res = run_2d(recipe.make_step(mixture), mix, seed, steps, batch_size, decay=recipe.decay,
                     halvings=recipe.halvings)
        m, seconds = res.metrics, res.seconds
    except NonFiniteLossError:
        m = metrics.ModeMetrics(0, mix.n_modes, 0.0, float("nan"), N_EVAL)
        seconds = time.perf_counter() - t0
    return {"technique": technique, "mixture": mixture, "seed": seed, "steps": steps, "batch_size": batch_size,
            "modes": m.modes, "n_modes": m.n_modes, "hq": m.hq, "reverse_kl": m.reverse_kl, "seconds": seconds,
            "ms_per_step": 1000 * seconds / steps, "load_avg": os.getloadavg()[0]}


def _cache_path(cache: Path, technique: str, mixture: str, seed: int, steps: int) -> Path:
    slug = "".join(c if c.isalnum() else "_" for c in technique)
    return cache / f"{slug}-{mixture}-s{seed}-n{steps}.json"


def _job(args):
    technique, mixture, seed, steps, path = args
    res = run_one(technique, mixture, seed, steps)
    Path(path).write_text(json.dumps(res))
    return res


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--steps", type=int, default=1000, help="training steps per run (G updates) of the baselines")
    p.add_argument("--quick", action="store_true", help="2 seeds, 300 steps, written to runs/ (not docs/)")
    p.add_argument("--tiny", action="store_true", help="1 seed, 20 steps: `gantut report --profile smoke`'s check")
    p.add_argument("--only", default="", help="comma-separated substrings: run only matching techniques")
    p.add_argument("--mixtures", default="ring8,grid25")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--render-only", action="store_true",
                   help="write the table from the cached runs only (rows with missing seeds show fewer seeds)")
    p.add_argument("--out", default=None, help="output stem (default docs/results_2d, runs/table_2d_quick with --quick)")
    a = p.parse_args(argv)
    if a.quick:
        a.seeds, a.steps = 2, 300
    if a.tiny:
        a.quick, a.seeds, a.steps = True, 1, 20
    out = Path(a.out) if a.out else (ROOT / "runs" / "table_2d_quick" if a.quick else ROOT / "docs" / "results_2d")
    cache = ROOT / "runs" / "table_2d"
    cache.mkdir(parents=True, exist_ok=True)
    techniques = [t for t in TECHNIQUES if not a.only or any(s.strip() in t for s in a.only.split(","))]
    mixtures = a.mixtures.split(",")
    todo, results = [], []
    for t in techniques:
        for mix in mixtures:
            if mix not in (TECHNIQUES[t].mixtures or [mix]):
                continue
            steps = a.steps if a.quick else (TECHNIQUES[t].steps or a.steps)
            for seed in range(a.seeds):
                path = _cache_path(cache, t, mix, seed, steps)
                if path.exists():
                    results.append(json.loads(path.read_text()))
                elif not a.render_only:
                    todo.append((t, mix, seed, steps, str(path)))
    print(f"{len(results)} runs cached, {len(todo)} to train ({a.jobs} process(es))", flush=True)
    if a.jobs > 1 and todo:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(a.jobs) as pool:
            for res in pool.imap_unordered(_job, todo):
                print(json.dumps(res), flush=True)
                results.append(res)
    else:
        for job in todo:
            res = _job(job)
            print(json.dumps(res), flush=True)
            results.append(res)
    write_table(results, techniques, mixtures, a, out)


# The performance goal (issues 4 and 19): (mixture, best recipe, modes, HQ fraction, seconds per run)
GOALS = [("ring8", BEST_RING_V2, 8, 0.98, 120.0), ("grid25", BEST_GRID_V2, 25, 0.97, 120.0)]


def goal_lines(results) -> list[str]:
    """The goal, checked on the cached runs of the best recipes: every seed with all modes, the mean HQ,
    and how many runs took under the time limit (on a loaded machine, so alone see bench_2d_best.py)."""
    out = ["", "## The performance goal, checked on the runs above", "",
           "Met only when every seed has all modes, HQ at least the target and reverse KL <= 0.02, and every run is under "
           "the time limit. The v2 recipes were tuned on seeds 100-101 (`python scripts/tune_2d.py`, "
           "[docs/tuning_2d.md](tuning_2d.md)); the seeds here (0-4) were used by no tuning run of theirs.", ""]
    for mix, name, modes, hq, limit in GOALS:
        rs = [r for r in results if r["technique"] == name and r["mixture"] == mix]
        if not rs:
            out.append(f"- {mix}: no run of {name!r} yet.")
            continue
        mean_hq = sum(r["hq"] for r in rs) / len(rs)
        all_modes = sum(r["modes"] == modes for r in rs)
        fast = sum(r["seconds"] < limit for r in rs)
        rkl_ok = sum(r["reverse_kl"] <= 0.02 for r in rs)
        hq_ok = sum(r["hq"] >= hq for r in rs)
        ok = all_modes == hq_ok == rkl_ok == fast == len(rs)
        verdict = "met" if ok else "missed"
        out.append(f"- {mix}, target {modes}/{modes} modes with >= {100 * hq:.0f} % HQ, each run under {limit:.0f} s: "
                   f"**{verdict}**. {name}: all modes in {all_modes} of {len(rs)} seeds, mean HQ {100 * mean_hq:.1f} % "
                   f"({100 * (mean_hq - hq):+.1f} points), HQ >= {100 * hq:.0f} % in {hq_ok} of {len(rs)} seeds "
                   f"(lowest {100 * min(r['hq'] for r in rs):.1f} %), reverse KL <= 0.02 in {rkl_ok} of {len(rs)}, "
                   f"{fast} of {len(rs)} runs under {limit:.0f} s "
                   f"({min(r['seconds'] for r in rs):.0f}–{max(r['seconds'] for r in rs):.0f} s at load "
                   f"{min(r['load_avg'] for r in rs):.1f}–{max(r['load_avg'] for r in rs):.1f}).")
    return out


def write_table(results, techniques, mixtures, a, out: Path) -> None:
    rows = []
    for t in techniques:
        for mix in mixtures:
            rs = sorted((r for r in results if r["technique"] == t and r["mixture"] == mix), key=lambda r: r["seed"])
            if not rs:
                continue
            rows.append({"technique": t, "mixture": mix, "n_seeds": len(rs), "steps": rs[0]["steps"],
                         "modes": str(metrics.mean_std([r["modes"] for r in rs], 1)),
                         "hq": str(metrics.mean_std([100 * r["hq"] for r in rs], 1)),
                         "reverse_kl": str(metrics.mean_std([r["reverse_kl"] for r in rs], 2)),
                         "seconds": str(metrics.mean_std([r["seconds"] for r in rs], 0)),
                         "all_modes_runs": sum(r["modes"] == r["n_modes"] for r in rs),
                         "load_avg": f"{sum(r['load_avg'] for r in rs) / len(rs):.1f}"})
    command = "python scripts/table_2d.py" + (" --quick" if a.quick else f" --seeds {a.seeds} --steps {a.steps}")
    setup = (f"2D mixtures: ring8 (8 modes, radius 1, std 0.01) and grid25 ({{-4..4}}^2, std 0.05); {a.steps} "
             f"training steps for the techniques of the chapters (the best recipes: their own, listed), batch 256, seeds 0-{a.seeds - 1}; 2,500 samples per run; HQ = within 3 std of the "
             "nearest mode; mean ± std (ddof 1) over seeds; seconds = wall-clock per run, 1 torch thread, on a "
             "shared 2-core machine (mean load average in the last column).")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"command": command, "setup": setup, "rows": rows,
                                                    "runs": results}, indent=1))
    lines = ["# 2D results: modes, high-quality samples, reverse KL", "", f"Reproduce: `{command}`", "", setup, "",
             "Techniques (all: 2D MLPs G 2→128→128→2 ReLU, D 2→128→128→1 LeakyReLU 0.2, z ~ N(0, I₂), Adam):",
             "- vanilla GAN (ch01): non-saturating loss, lr 1e-3 both, β (0.5, 0.999).",
             "- PacGAN4 (ch01): the vanilla GAN with D judging packs of 4 samples (Lin et al. 2018; D's input is 8 wide).",
             "- WGAN-GP (ch03): λ = 0.1, 5 critic steps per G step (each on its own real batch), Adam 1e-4, β (0.5, 0.9) "
             "(igul222 gan_toy.py's toy settings).",
             "- MD-GAN (ch04): the paper's 2D nets (U[−1,1]² latent, 6·tanh output, D → 9 → 5σ−2.5), unit simplex, "
             "σ² = 0.25, λ at the centroid, lr 1e-3, both rates halved at 25, 50 and 75 % of training (the paper's code).",
             "- unrolled (ch05): K = 5 Adam steps of D unrolled (moments too), non-saturating G loss at θ_D^K, lr 1e-3 "
             "both; first order drops dθ_D^K/dθ_G, second order keeps it.",
             "- R1 (ch06): the vanilla GAN above with the R1 penalty (γ/2)·E‖∇D(x)‖² on real data, γ 0.03 (ring) and "
             "0.1 (grid) (gantut.experiments2d.R1_GAMMA_2D).",
             "- best (ring): unrolled K = 1 first order, 9,000 steps; best (grid): R1 (γ 0.1), 12,000 steps; both with "
             "every learning rate decayed linearly to 0 over the second half of training (chosen in sessions 1-2 by "
             "single runs on seed 0: see the tuning notes below).",
             "- best v2 (ring): PacGAN2 (D judges pairs), 28,000 steps; best v2 (grid): R1 (γ 0.1), 18,000 steps; the "
             "same decay; chosen on seeds 100-101 (docs/tuning_2d.md), so seeds 0-4 are held out for them "
             "(gantut.experiments2d.RECIPES_2D; wall-clock also measured alone by benchmarks/bench_2d_best.py).", "",
             "| technique | mixture | seeds | steps | modes | HQ % | reverse KL | s / run | runs with all modes | load avg |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['technique']} | {r['mixture']} | {r['n_seeds']} | {r['steps']} | {r['modes']} | {r['hq']} | "
                     f"{r['reverse_kl']} | {r['seconds']} | {r['all_modes_runs']}/{r['n_seeds']} | {r['load_avg']} |")
    for method, source, mix, modes, hq, rkl in REFERENCE_ROWS:  # published: other nets and budgets
        if mix in mixtures:
            lines.append(f"| *{method} ({source})* | {mix} | published | | {modes} | {hq} | {rkl} | | | |")
    short = [f"{r['technique']} on {r['mixture']} ({r['n_seeds']} of {a.seeds} seeds)" for r in rows
             if r["n_seeds"] < a.seeds]
    done = {(r["technique"], r["mixture"]) for r in rows}
    missing = [f"{t} on {m}" for t in techniques for m in mixtures
               if (t, m) not in done and m in (TECHNIQUES[t].mixtures or [m])]
    if short or missing:
        lines += ["", "**Incomplete:** " + "; ".join(short + [f"{x} (no run yet)" for x in missing]) + ". Rerun the "
                  "command to complete them (finished runs are cached in runs/table_2d/ and kept)."]
    lines += ["", "Published rows use their own networks, budgets and spreads (PacGAN: mean ± standard error over "
              "10 runs); they are the targets, not comparable setups."]
    lines += goal_lines(results)
    lines += ["", "Where the remaining samples go (`python scripts/gap_2d.py`, [docs/gap_2d.md](gap_2d.md)): G's modes are "
              "narrower than the mixture's, and what is lost is mass between the modes, not modes drawn too wide."]
    lines += ["",
              "## How the best recipes were chosen (single tuning runs, not recomputed by this script)", ""]
    lines += [f"- {note}" for note in TUNING_NOTES] + [""]
    out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
