"""Tuning runs for the MNIST MLP recipes of chapters 02, 03 and 06 (issue #11), on seeds the results never report.

    python scripts/tune_mnist.py --only bn-ema                 # one candidate, seeds 100 and 101
    python scripts/tune_mnist.py --only bn-ema vanilla-ema --seeds 100
    python scripts/tune_mnist.py --render-only                 # rewrite docs/tuning_mnist.md from the cache

Tuning seeds are 100 and 101 only (the chapters and scripts/table_mnist.py report seeds 0, 1, 2).

A candidate is a recipe of gantut.experiments_mnist.RECIPES plus changes to its fields (``lr``,
``betas``, ``dropout``, ``r1_gamma``, ``r1_every``, ``n_critic``, ...), and what this script adds on top of the
built step: separate learning rates ``lr_G`` / ``lr_D`` (set on the optimisers ``build()`` made, before any
step, so it is the same as building them with those rates), EMAs of G (:class:`gantut.ema.EMA`, β and warm-up
start; several β can ride along in one run since they do not change training), a linear lr decay to 0 over
the last ``decay`` fraction (:func:`gantut.callbacks.lr_decay`), and bf16 autocast (``amp``).

Every ``steps // n_evals`` steps the raw G and each EMA are scored on 1,000 samples from latents seeded 1000:
recognisability (gantut.metrics.recognisability, threshold 0.9) and classifier-FID against 1,000 test images.
Without a decay, the score at step s is exactly that of a run of s steps (scoring draws from its own
generator), so one run gives the curve over budgets. The train seconds exclude the scoring time. Training is
on one torch thread; the load average is recorded at the start and end of each run. Each (candidate, seed)
is cached as JSON under runs/tune_mnist/, so the script resumes; the table is written to docs/tuning_mnist.md
and docs/tuning_mnist.json.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gantut import data, metrics
from gantut import experiments_mnist as em
from gantut.callbacks import lr_decay
from gantut.ema import EMA, recompute_batchnorm
from gantut.gan import generate
from gantut.train import every, fit

# name: recipe, steps, batch, build overrides, and the script's own keys (lr_G, lr_D, ema: {label: (β, start)},
# decay, amp, n_evals)
EMAS = {"ema999": (0.999, 500), "ema9995": (0.9995, 500), "ema9999": (0.9999, 500)}
CANDIDATES: dict[str, dict] = {
    "bn-ema": dict(recipe="bn", steps=6000, batch=64, ema=EMAS),
    "vanilla-ema": dict(recipe="vanilla", steps=4500, batch=64, ema=EMAS, n_evals=3),
    "wgan_gp-nc2-ttur": dict(recipe="wgan_gp", steps=3000, batch=64, n_critic=2, lr_G=1e-4, lr_D=3e-4, ema=EMAS,
                             n_evals=3),
    "wgan_gp-ema": dict(recipe="wgan_gp", steps=1500, batch=64, ema=EMAS, n_evals=3),
    "r1-g1": dict(recipe="r1", steps=4500, batch=64, r1_gamma=1.0, ema=EMAS, n_evals=3),
    "r1-ema": dict(recipe="r1", steps=6000, batch=64, ema=EMAS),
    # round 2: a linear lr decay to 0 over the second half (gantut.callbacks.lr_decay), one EMA
    "bn-decay": dict(recipe="bn", steps=6000, batch=64, decay=0.5, ema={"ema999": (0.999, 500)}, n_evals=2),
    "wgan_gp-nc2-ttur-decay": dict(recipe="wgan_gp", steps=3000, batch=64, n_critic=2, lr_G=1e-4, lr_D=3e-4,
                                   decay=0.5, ema={"ema999": (0.999, 500)}, n_evals=2),
    "r1-decay": dict(recipe="r1", steps=4500, batch=64, decay=0.5, ema={"ema999": (0.999, 500)}, n_evals=2),
    # the 32 px image base of chapters 08-12 (issue #14): the DCGAN baseline; base 32 costs 215 ms/step here, 16 costs 67
    "dcgan32-b16": dict(recipe="dcgan32", base=16, steps=6000, batch=64,
                        ema={"ema99": (0.99, 200), "ema999": (0.999, 500)}, n_evals=6),
    "dcgan32-b16-fashion": dict(recipe="dcgan32", base=16, dataset="fashion", steps=6000, batch=64,
                                ema={"ema99": (0.99, 200), "ema999": (0.999, 500)}, n_evals=6),
    # chapter 08's third rung (SN in D, hinge, TTUR) at the same width, longer: does it beat the DCGAN baseline?
    "sn-hinge-ttur32": dict(recipe="dcgan32_sn_hinge_ttur", steps=6000, batch=64, ema={"ema99": (0.99, 200)},
                            n_evals=6),
    # chapter 09's LSGAN (issue #15): seed 003's lr 4e-4 (the recipe) against DCGAN's 2e-4, on Fashion-MNIST
    "lsgan32-fashion": dict(recipe="lsgan32", dataset="fashion", steps=6000, batch=64, n_evals=6),
    "lsgan32-lr2e-4-fashion": dict(recipe="lsgan32", dataset="fashion", lr_G=2e-4, lr_D=2e-4, steps=6000, batch=64,
                                   n_evals=6),
}
FINDINGS = """## Findings (session of 2026-12-01)

- **No candidate reached the 85 % / 5 % target of the best models** in about 5-6.5 minutes of 1-thread training.
  Closest: +BN, 6,000 steps, EMA β 0.999 (seed 100 76.9 % / 2.5 %, seed 101 79.5 % / 3.2 %; with re-estimated
  BN statistics seed 101 78.1 % / 4.0 %, FID 338, the lowest FID of all runs). WGAN-GP (n_critic 2, TTUR
  lr_G 1e-4 / lr_D 3e-4, 3,000 steps): 68.5 % / 4.2 %. R1 (recipe γ 10) + lr decay over the second half,
  4,500 steps: 70.4 % / 4.0 % raw, 74.7 % / 2.6 % EMA; R1 γ 1 without decay, 4,500 steps: 62.3 % raw, 67.2 % EMA
  (γ and decay changed together: which one helped is not separated). All seed 100 except +BN.
- **The vanilla baseline met its 60 %** at 4,500 steps (raw G 65.3 % and 62.4 %, EMA 0.999 78.5 % and 83.7 % on
  seeds 100 / 101) but drops a digit: its smallest class is 0.0-0.7 %, and its FID is the worst of all.
- **EMA of G** (β 0.999, warm-up 500 steps) raised recognisability at the last evaluation by +1.5 to +21 points in
  the BN, R1 and vanilla runs, and lowered it by 1.6-2.1 points for WGAN-GP; the plain EMA (copied buffers) made the classifier-FID worse in
  every run, and lowered (or kept) the smallest class share in every run: at these short budgets the averaged G draws more
  confident but less varied digits. β 0.9995 and 0.9999 were worse still (after 6,000 steps β 0.9999 keeps
  0.9999^5500 ≈ 58 % of its weight on the step-500 copy). With BatchNorm in G the copied running statistics
  do not belong to the averaged weights; re-estimating them (``+bnstats`` rows,
  gantut.ema.recompute_batchnorm, 20 × 64 latents) brought the EMA's FID below the raw G's (seed 101: 338 vs 470).
- **A linear lr decay to 0 over the second half** did not help +BN or WGAN-GP: +BN 73.0 % raw (74.7 % without), WGAN-GP
  67.1 % / 2.1 % (68.5 % / 4.2 % without), seed 100.
- **bf16 autocast** is about 11× slower on this CPU (no AVX-512 / AMX; docs/benchmarks.md), so ``amp`` was not
  tried in training; batch 128 costs 1.6-2.6× per step and was not tried within the budget.
- Timings drift with the load of the shared machine (other jobs on the other core, load 1-3.5): the same
  step measured 53-88 ms."""
FINDINGS_32 = """## Findings for the 32 px DCGAN of chapter 08 (issue #14; seed 100, one thread, 6,000 G steps, batch 64)

Data padded 28 -> 32 px; DCGAN-32 with base 16 channels (base 32 costs 3.2x per step: 215 vs 67 ms,
`benchmarks/bench_mnist.py`). Scores as above, in the classifier space of each dataset (Fashion-MNIST's real test
images: 74.4 % recognisable, so the issue's bar there is 85 % of that, 63.2 %).

- **MNIST, DCGAN (`dcgan32`): 75.5 % recognisable, smallest class 1.3 %, FID 241 after 6,000 steps (514 s)**; the
  best EMA (β 0.999, BatchNorm statistics re-estimated) 77.3 % / 1.6 %. The curve flattens after 3,000 steps
  (71.9 % at 3,000, 73.2 % at 4,000, 74.0 % at 5,000): **the 85 % / 5 % target is missed** at every budget up to
  8.6 minutes, and one digit stays rare (1-3 % of samples).
- **MNIST, SN in D + hinge + TTUR (`dcgan32_sn_hinge_ttur`)**: slower to start (16.2 % at 1,000 steps against 34.3 %)
  and lower at the end (73.1 %), but it keeps every digit: **smallest class 5.0 %** at 6,000 steps (450 s).
- **Fashion-MNIST, DCGAN**: 43.1 % recognisable (58 % of the real images' rate; the bar is 85 % of it), FID 63 after
  6,000 steps (500 s), still falling (FID 238 at 2,000, 91 at 4,000).
- EMA of G (β 0.99 or 0.999) moved recognisability by -1.5 to +1.8 points at 6,000 steps: no lever here.
- Chapter 08's budget is 2,000 G steps (five recipes x two seeds must fit its 30 cpu minutes): there the DCGAN
  baseline scored 67.8 % on MNIST and 23.3 % on Fashion-MNIST in this tuning run."""
FINDINGS_09 = """## Findings for chapter 09's LSGAN (issue #15; Fashion-MNIST 32 px, seed 100, one thread, 6,000 G steps, batch 64)

The recipe `lsgan32` (chapter 08's DCGAN-32 nets, base 16, a = 0, b = c = 1) at seed 003's learning rate against
DCGAN's, both nets alike, Adam β (0.5, 0.999). Scores as above (1,000 samples, latents seeded 1000, classifier space).

- **lr 4e-4 (seed 003, the recipe): FID 137.9 and 33.6 % recognisable after 2,000 G steps** (chapter 09's budget),
  FID 38.4 and 51.3 % after 6,000.
- **lr 2e-4: FID 263.3 and 20.7 % after 2,000 steps**, 58.0 and 45.9 % after 6,000: slower at every evaluation.
- The LSGAN at 4e-4 also beats chapter 08's DCGAN (BCE, 2e-4) on this data: 51.3 % against 43.1 % recognisable at
  6,000 steps (above). Neither reaches the issue's bar (63.2 %), and both keep one class rare (smallest 0.7-0.9 %)."""
OWN_KEYS = ("recipe", "steps", "batch", "lr_G", "lr_D", "ema", "decay", "amp", "n_evals", "dataset")
CACHE = ROOT / "runs" / "tune_mnist"
SCORE_SEED = 1000


def overrides(cand: dict) -> dict:
    return {k: v for k, v in cand.items() if k not in OWN_KEYS}


def score(G: torch.nn.Module, ref, dataset: str = "mnist") -> dict:
    x = generate(G, 1000, em.Z_DIM, generator=torch.Generator().manual_seed(SCORE_SEED))
    rec = metrics.recognisability(x, dataset)
    fid = metrics.fid(x, ref, f"classifier:{dataset}")
    return {"recognisable": 100 * rec.rate, "min_class": 100 * rec.min_class_share, "fid": float(fid)}


def run(name: str, seed: int) -> dict:
    torch.set_num_threads(1)
    cand = CANDIDATES[name]
    steps, batch = cand["steps"], cand["batch"]
    changes = overrides(cand)
    if "lr" in changes:  # one rate for both nets, as the old recipes had
        lr = changes.pop("lr")
        changes.update(lr_G=lr, lr_D=lr)
    changes.update({k: cand[k] for k in ("lr_G", "lr_D") if k in cand})
    r = em.recipe(cand["recipe"], **changes)
    step = em.build(r, seed, "cpu")
    dataset = cand.get("dataset", "mnist")
    train = em.load(dataset, "train", r.img_size)
    batches = data.TensorBatches(train.images, step.real_batch(batch), generator=torch.Generator().manual_seed(seed))
    ref = metrics.reference_stats(dataset, "test", n=1000, features=f"classifier:{dataset}")
    emas = {label: EMA(step.G, beta, start) for label, (beta, start) in cand.get("ema", {}).items()}
    state = {**step.state, **emas}
    callbacks = [e.callback() for e in emas.values()]
    if cand.get("decay"):
        callbacks.append(lr_decay(step.state, steps, cand["decay"]))
    evals, scoring = [], [0.0]

    def evaluate(loop):
        t0 = time.perf_counter()
        row = {"step": loop.step, "G": score(step.G, ref, dataset)}
        row.update({label: score(e.G_ema, ref, dataset) for label, e in emas.items()})
        if cand["recipe"] == "bn" or cand.get("batchnorm") or r.nets != "course":  # EMA with re-estimated BN stats
            for label, e in emas.items():
                G_s = recompute_batchnorm(copy.deepcopy(e.G_ema), em.Z_DIM, 20, 64, torch.Generator().manual_seed(7))
                row[label + "+bnstats"] = score(G_s, ref, dataset)
        evals.append(row)
        scoring[0] += time.perf_counter() - t0
        print(f"  {name} seed {seed} step {loop.step}: " + "; ".join(
            f"{k} {v['recognisable']:.1f} % / {v['min_class']:.1f} % / FID {v['fid']:.1f}"
            for k, v in row.items() if k != "step"), flush=True)

    callbacks.append(every(max(1, steps // cand.get("n_evals", 4)), evaluate))
    load0 = os.getloadavg()[0]
    hist = fit(step, batches, steps, state=state, callbacks=callbacks, amp=cand.get("amp", False), progress=False)
    res = {"name": name, "seed": seed, "candidate": {k: v for k, v in cand.items()}, "steps": steps, "batch": batch,
           "threads": torch.get_num_threads(), "train_seconds": hist.seconds - scoring[0],
           "scoring_seconds": scoring[0], "load_start": load0, "load_end": os.getloadavg()[0], "evals": evals,
           "torch": torch.__version__}
    torch.save({"G": step.G.state_dict(), **{k: e.G_ema.state_dict() for k, e in emas.items()}},
               CACHE / f"{name}-seed{seed}.pt")  # the final nets, to rescore without retraining
    return res


def cache_path(name: str, seed: int) -> Path:
    return CACHE / f"{name}-seed{seed}.json"


def best_of(res: dict) -> tuple[str, dict]:
    """The final evaluation's best model (raw G or an EMA) by recognisability."""
    last = res["evals"][-1]
    label = max((k for k in last if k != "step"), key=lambda k: last[k]["recognisable"])
    return label, last[label]


def render() -> None:
    results = [json.loads(p.read_text()) for p in sorted(CACHE.glob("*.json"))]
    (ROOT / "docs" / "tuning_mnist.json").write_text(json.dumps(results, indent=1))
    lines = [
        "# Tuning the image recipes for a laptop CPU: the MNIST MLP (chapters 02, 03, 06), the 32 px DCGAN (08) and LSGAN (09)",
        "",
        "Written by `scripts/tune_mnist.py` (issue #11). Tuning seeds 100 and 101 only (the chapters and "
        "`scripts/table_mnist.py` report seeds 0, 1, 2). Every run of the MLP recipes: the course MLP (`nets.course_G` / "
        "`course_D`), the 4,000 offline MNIST training images; the 32 px runs (names with 32): DCGAN-32, base 16, "
        "MNIST or the 60,000 Fashion-MNIST training images padded to 32 px; all on one torch thread, on a 2-core machine that shares its other "
        "core with other work (load average at start / end of each run given). Scores on 1,000 samples from "
        "latents seeded 1000: recognisable % (top class probability of the shipped classifier >= 0.9; real test "
        "images 96.6 %), smallest class % (real 8.4 %), classifier-FID against 1,000 test images. A score at step "
        "s of a run without a decay is that of a run of s steps. Train seconds exclude scoring, but include the "
        "EMA updates of every β that rode along (0.35 ms per update each, measured; up to 3 per step).",
        "",
        "Targets (issue #11): +BN, WGAN-GP, R1 >= 85 % recognisable and every class >= 5 %; vanilla >= 60 %.",
        "",
        "## Best per run (last evaluation)",
        "",
        "| candidate | seed | steps | train s | load start/end | best model | recognisable % | smallest class % | FID | raw G % / smallest % / FID |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *[f"| {r['name']} | {r['seed']} | {r['steps']} | {r['train_seconds']:.0f} | {r['load_start']:.2f}/{r['load_end']:.2f} | "
          f"{best_of(r)[0]} | {best_of(r)[1]['recognisable']:.1f} | {best_of(r)[1]['min_class']:.1f} | "
          f"{best_of(r)[1]['fid']:.1f} | {r['evals'][-1]['G']['recognisable']:.1f} / {r['evals'][-1]['G']['min_class']:.1f} / "
          f"{r['evals'][-1]['G']['fid']:.1f} |" for r in results],
        "",
        FINDINGS,
        "",
        FINDINGS_32,
        "",
        FINDINGS_09,
        "",
        "## Candidates",
        "",
        "| candidate | recipe + overrides | script keys |",
        "|---|---|---|",
    ]
    seen = {}
    for r in results:
        seen.setdefault(r["name"], r["candidate"])
    for name, cand in seen.items():
        ov = ", ".join(f"{k}={v}" for k, v in cand.items() if k not in OWN_KEYS) or "-"
        own = ", ".join(f"{k}={v}" for k, v in cand.items() if k in OWN_KEYS and k != "recipe")
        lines.append(f"| {name} | `{cand['recipe']}`: {ov} | {own} |")
    lines += ["", "## Runs", "",
              "| candidate | seed | steps | batch | threads | train s (ms/step) | load start/end | model | "
              "recognisable % | smallest class % | FID |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for ev in r["evals"]:
            frac = ev["step"] / r["steps"]
            secs = r["train_seconds"] * frac
            for label in (k for k in ev if k != "step"):
                s = ev[label]
                lines.append(
                    f"| {r['name']} | {r['seed']} | {ev['step']} | {r['batch']} | {r['threads']} | "
                    f"{secs:.0f}{'' if frac == 1 else ' (est.)'} ({1000 * r['train_seconds'] / r['steps']:.1f}) | "
                    f"{r['load_start']:.2f}/{r['load_end']:.2f} | {label} | {s['recognisable']:.1f} | "
                    f"{s['min_class']:.1f} | {s['fid']:.1f} |")
    lines += ["", "Train seconds at an intermediate step are estimated as the run's ms/step × steps "
              "(marked est.).", ""]
    (ROOT / "docs" / "tuning_mnist.md").write_text("\n".join(lines))
    print("wrote docs/tuning_mnist.md and docs/tuning_mnist.json")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", choices=sorted(CANDIDATES), default=None)
    ap.add_argument("--seeds", nargs="+", type=int, default=[100, 101])
    ap.add_argument("--render-only", action="store_true")
    args = ap.parse_args()
    bad = [s for s in args.seeds if s in (0, 1, 2)]
    if bad:
        raise SystemExit(f"seeds {bad} are the reported seeds (0, 1, 2); tune on others (100, 101).")
    if not args.render_only:
        CACHE.mkdir(parents=True, exist_ok=True)
        for name in args.only or list(CANDIDATES):
            for seed in args.seeds:
                path = cache_path(name, seed)
                if path.exists():
                    continue
                print(f"{name} seed {seed} ...", flush=True)
                res = run(name, seed)
                path.write_text(json.dumps(res, indent=1))
                label, s = best_of(res)
                print(f"{name} seed {seed}: {res['train_seconds']:.0f} s, best {label} {s['recognisable']:.1f} % / "
                      f"{s['min_class']:.1f} % / FID {s['fid']:.1f}", flush=True)
                render()
    render()


if __name__ == "__main__":
    main()
