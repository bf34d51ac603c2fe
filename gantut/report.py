"""``gantut report``: every seed's claim beside what the collection measured, on one page (chapter 13).

:func:`build` runs the collection's three results tables through their scripts (load-or-train through the recipes;
every trained model and every score is cached, so a rerun only composes):

* ``scripts/table_2d.py`` — the 2D ring and grid (chapters 01 and 03-07), modes / high-quality share / reverse KL;
* ``scripts/table_mnist.py`` — MNIST with the course MLP (chapters 02, 03, 06, 07);
* ``scripts/table_mnist.py --family images`` — 32 px Fashion-MNIST (chapters 08-12);

then reads their JSON and writes ``results.md`` + ``results.json``: one table per family whose rows are the seed
reports' claims (:data:`CLAIMS`), each with the seed's number and setup, ours (mean ± std over seeds, with its
setup) and a verdict computed from those numbers by the claim's rule. Profiles:

* ``smoke`` — 1 seed, 2-20 steps per model, N = 150, into ``runs/report/``: proves the chain runs (about 2 minutes
  on a 2-core CPU); no result.
* ``cpu`` — each table at its defaults (the chapters' cpu budgets; seeds 0-4 in 2D, 0-2 for images), regenerating
  ``docs/results_2d.md``, ``docs/results_mnist.md``, ``docs/results_images.md`` and ``docs/results.md``.
"""
from __future__ import annotations

import importlib.util
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from . import config, metrics

__all__ = ["Claim", "CLAIMS", "VERDICTS", "build", "compose", "table_runs", "render"]

VERDICTS = ("reproduced", "partly", "not reproduced", "not tested")


@dataclass(frozen=True)
class Claim:
    """One seed report's claim: where it is taught, what it says (with the seed's setup), and ``rule(results) ->
    (ours, verdict, why)`` on the tables' JSON (``results["2d"]``, ``["mnist"]``, ``["images"]``)."""

    chapter: str
    seed: str
    family: str
    claim: str
    seed_setup: str
    rule: Callable[[Mapping[str, Any]], tuple[str, str, str]]


# --- reading the tables ------------------------------------------------------------------------------

def _ms(values: Sequence[float], digits: int = 1) -> str:
    return str(metrics.mean_std(values, digits))  # the collection's one mean ± std formatter


def _rows(results: Mapping[str, Any], family: str, label: str) -> list[dict]:
    rows = results[family]["results"].get(label)
    if not rows:
        raise KeyError(f"the {family} table has no row {label!r}; rerun `gantut report` (or its table script).")
    return rows


def _metric(results, family, label, key="FID") -> list[float]:
    return [float(r[key]) for r in _rows(results, family, label)]


def _runs2d(results, technique, mixture) -> list[dict]:
    rs = [r for r in results["2d"]["runs"] if r["technique"] == technique and r["mixture"] == mixture]
    if not rs:
        raise KeyError(f"the 2D table has no runs of {technique!r} on {mixture}; rerun `gantut report`.")
    return rs


def _lower(a: Sequence[float], b: Sequence[float]) -> bool:
    """a below b on every seed (paired by seed)."""
    return all(x < y for x, y in zip(a, b))


def _fid_pair(results, family, better, worse) -> tuple[str, bool]:
    a, b = _metric(results, family, better), _metric(results, family, worse)
    return f"FID {_ms(a)} vs {_ms(b)} ({len(a)} seeds)", _lower(a, b)


# --- the claims (REFERENCE section 13 and the chapters' seed claims) ------------------------------------

def _vanilla_collapses(res):
    rs = _runs2d(res, "vanilla GAN (ch01)", "ring8")
    full = sum(r["modes"] == r["n_modes"] for r in rs)
    ours = f"ring8: {_ms([r['modes'] for r in rs])} of 8 modes, all 8 in {full} of {len(rs)} seeds"
    return ours, ("reproduced" if full == 0 else "partly" if full < len(rs) else "not reproduced"), \
        "the vanilla GAN misses modes on every seed" if full == 0 else "some seeds keep every mode"


def _two_d_ok(technique):
    def rule(res):
        rs = _runs2d(res, technique, "ring8")
        full = sum(r["modes"] == r["n_modes"] for r in rs)
        ours = f"ring8: {_ms([r['modes'] for r in rs])} of 8 modes (all in {full} of {len(rs)} seeds), " \
               f"{_ms([100 * r['hq'] for r in rs])} % high quality"
        verdict = "reproduced" if full == len(rs) else "partly" if full else "not reproduced"
        return ours, verdict, f"at the table's {rs[0]['steps']:,} steps"
    return rule


def _pacgan_anchor(res):
    ring = _runs2d(res, "best (ring) v2: PacGAN2 + lr decay, 28k steps", "ring8")
    grid = _runs2d(res, "best (grid) v2: R1 + lr decay, 18k steps", "grid25")
    hq_r, hq_g = [100 * r["hq"] for r in ring], [100 * r["hq"] for r in grid]
    ours = f"best recipes: ring8 {_ms(hq_r)} % HQ, grid25 {_ms(hq_g)} % HQ ({len(ring)} and {len(grid)} held-out seeds)"
    ahead = (statistics.mean(hq_r) > 95.9, statistics.mean(hq_g) > 93.6)
    verdict = "reproduced" if all(ahead) else "partly" if any(ahead) else "not reproduced"
    return ours, verdict, ("ahead of PacGAN4 on " + " and ".join(m for m, a in zip(("the ring", "the grid"), ahead) if a)
                           if any(ahead) else "behind PacGAN4 on both") + " (the anchor of issue 19)"


def _order(family, better, worse, what):
    def rule(res):
        ours, lower = _fid_pair(res, family, better, worse)
        return f"{better} vs {worse}: {ours}", ("reproduced" if lower else "not reproduced"), \
            f"{what} on every seed" if lower else f"not {what} on every seed"
    return rule


def _r1_worse(res):
    a, b = _metric(res, "mnist", "R1 (γ = 10)"), _metric(res, "mnist", "vanilla")
    worse = all(x > y for x, y in zip(a, b))
    return (f"R1 vs vanilla: FID {_ms(a)} vs {_ms(b)} ({len(a)} seeds)", "reproduced" if worse else "not reproduced",
            "R1 is worse on every seed" if worse else "R1 is not worse: it is better on "
            f"{sum(x < y for x, y in zip(a, b))} of {len(a)} seeds")


def _drs(res):
    parts, gains = [], []
    for base, drs in (("vanilla", "vanilla + DRS"), ("WGAN-GP + lr decay", "WGAN-GP + decay + DRS")):
        a, b = _metric(res, "mnist", drs), _metric(res, "mnist", base)
        spread = statistics.stdev(b) if len(b) > 1 else 0.0
        gains.append(_lower(a, b) and statistics.mean(b) - statistics.mean(a) > spread)
        parts.append(f"{base} {_ms(b)} → {_ms(a)}")
    verdict = "reproduced" if all(gains) else "partly" if any(gains) else "not reproduced"
    return "FID " + "; ".join(parts), verdict, "lower on every seed by more than the seeds' spread" if all(gains) else \
        "no gain beyond the seeds' spread" + ("" if not any(gains) else " for one of the two")


def _sagan_best(res):
    ladder = ["DCGAN", "+ SN (D)", "+ SN + hinge + TTUR", "SAGAN (attention at 8 px)", "seed 004's SAGAN (MLP D + attention)"]
    means = {label: statistics.mean(_metric(res, "images", label)) for label in ladder}
    best = min(means, key=means.get)
    ours = f"best FID: {best} ({means[best]:,.1f}); SAGAN {means['SAGAN (attention at 8 px)']:,.1f}"
    return ours, ("reproduced" if best.startswith("SAGAN") or best.startswith("seed 004") else "not reproduced"), \
        f"at 2,000 G steps the lowest FID is {best}'s"


def _lsgan_alpha(res):
    base = _metric(res, "images", "LSGAN", "loss_D cv")
    best = min((label for label in res["images"]["results"] if label.startswith("LSGAN α")),
               key=lambda label: statistics.mean(_metric(res, "images", label, "loss_D cv")))
    cv = _metric(res, "images", best, "loss_D cv")
    fid0, fid1 = _metric(res, "images", "LSGAN"), _metric(res, "images", best)
    lower = _lower(cv, base)
    return (f"D's loss cv over the last 30 %: LSGAN {_ms(base, 3)}, the steadiest ramp ({best}) {_ms(cv, 3)}; FID "
            f"{_ms(fid0)} vs {_ms(fid1)}", "reproduced" if lower else "not reproduced",
            "relative oscillation lower on every seed" if lower else
            "relative to their level the losses do not oscillate less")


def _pretraining(res):
    a, b = _metric(res, "images", "+ stacked pretraining"), _metric(res, "images", "LSGAN, growing G, from scratch")
    lower = _lower(a, b)
    return (f"pretrained vs from scratch at equal updates: FID {_ms(a)} vs {_ms(b)}", "partly" if lower else
            "not reproduced", "lower FID on every seed; the seed's claim is about structure, judged in chapter 10"
            if lower else "not lower on every seed")


def _lfm(res):
    a, b = _metric(res, "images", "DCGAN-LFM (paper), 512 images", "min FID"), _metric(res, "images",
                                                                                       "DCGAN, 512 images", "min FID")
    collapsed = sum(int(r["collapsed"]) for r in _rows(res, "images", "DCGAN, 512 images"))
    lower = _lower(a, b)
    verdict = "not tested" if not collapsed else "reproduced" if lower else "not reproduced"
    return (f"512 images, min FID: LFM (paper) {_ms(a)} vs DCGAN {_ms(b)}; DCGAN collapsed in {collapsed} of {len(b)}",
            verdict, "nothing collapses at the cpu budget, so there is no collapse to delay" if not collapsed else
            ("lower on every seed" if lower else "not lower on every seed"))


def _dls(res):
    label0, label1 = "DCGAN + encoder, no scale", "DLS (SMA of v)"
    e0, e1 = _metric(res, "images", label0, "enc_gen"), _metric(res, "images", label1, "enc_gen")
    p0, p1 = _metric(res, "images", label0, "psnr_test"), _metric(res, "images", label1, "psnr_test")
    g0, g1 = _metric(res, "images", label0, "psnr_gen"), _metric(res, "images", label1, "psnr_gen")
    f0, f1 = _metric(res, "images", label0), _metric(res, "images", label1)
    checks = {"L_enc lower": _lower(e1, e0), "PSNR of generated higher": _lower(g0, g1),
              "PSNR of test higher": _lower(p0, p1)}
    ours = (f"L_enc {_ms(e1, 3)} (DLS) vs {_ms(e0, 3)}; PSNR generated {_ms(g1, 2)} vs {_ms(g0, 2)} dB, test "
            f"{_ms(p1, 2)} vs {_ms(p0, 2)} dB; FID {_ms(f1)} vs {_ms(f0)}")
    held = [k for k, v in checks.items() if v]
    verdict = "reproduced" if len(held) == len(checks) else "partly" if held else "not reproduced"
    return ours, verdict, ("on every seed: " + ", ".join(held) if held else "none of L_enc, PSNR on every seed") + \
        ("" if len(held) == len(checks) else "; not: " + ", ".join(k for k in checks if k not in held))


CLAIMS: list[Claim] = [
    Claim("01", "002", "2d", "the vanilla GAN collapses to a few modes of the ring",
          "2D ring of 8 Gaussians, the course code's MLPs", _vanilla_collapses),
    Claim("01", "PacGAN", "2d", "PacGAN4 (Lin et al. 2018) keeps all modes with 95.9 % (ring) / 93.6 % (grid) high-quality "
          "samples", "published table, ring8 / grid25", _pacgan_anchor),
    Claim("04", "002", "2d", "MD-GAN works in 2D with a smaller MLP", "2D ring, the seed's MLPs", _two_d_ok("MD-GAN (ch04)")),
    Claim("05", "002", "2d", "unrolling keeps the ring's modes in 2D", "2D ring, K = 5",
          _two_d_ok("unrolled K=5, 1st order (ch05)")),
    Claim("02", "004", "mnist", "+BN in G lowers the FID (vanilla 29.28 → 26.68)", "pytorch-fid, the seed's platform, "
          "MNIST", _order("mnist", "+BN (G)", "vanilla", "lower")),
    Claim("03", "004", "mnist", "WGAN-GP beats WGAN (FID 40.45 vs 58.41)", "pytorch-fid, MNIST",
          _order("mnist", "WGAN-GP", "WGAN (clip 0.01)", "lower")),
    Claim("03", "002", "mnist", "halving the lr from the best checkpoint improves WGAN-GP (FID 28 → 16)",
          "pytorch-fid on JPGs, MNIST, 200 epochs", _order("mnist", "WGAN-GP + lr decay", "WGAN-GP", "lower")),
    Claim("06", "002", "mnist", "R1 is worse than the vanilla GAN (FID 42 > 38)", "pytorch-fid, MNIST", _r1_worse),
    Claim("07", "002", "mnist", "DRS lowers the FID (vanilla 38 → 22, WGAN-GP 16 → 15)", "pytorch-fid, 10k samples, MNIST",
          _drs),
    Claim("08", "004", "images", "SAGAN is the best of the ladder (FID 18.19 after 200 epochs)", "pytorch-fid, the seed's "
          "platform", _sagan_best),
    Claim("09", "003", "images", "the α ramp makes the LSGAN losses oscillate less", "qualitative, CelebA 64 px",
          _lsgan_alpha),
    Claim("10", "003", "images", "stacked pretraining gives the GAN a better start (face structure)",
          "qualitative, CelebA 64 px", _pretraining),
    Claim("11", "000", "images", "LFM delays collapse and lowers the min FID on 512 images (158.48 → 152.01)",
          "Inception FID of 128 samples, CelebA 64 px, 300k iterations", _lfm),
    Claim("12", "001", "images", "with DLS L_enc keeps falling and reconstructions are much better; without it L_enc "
          "\"hardly changes from 1\"; FID barely changes", "figures, CelebA 128 px", _dls),
]


# --- running the tables ---------------------------------------------------------------------------------

def _script(name: str):
    root = config.repo_root()
    if root is None or not (root / "scripts" / f"{name}.py").exists():
        raise FileNotFoundError(f"`gantut report` runs scripts/{name}.py of a gantut checkout; none found (clone the "
                                "repository: the results tables are not part of the installed package).")
    spec = importlib.util.spec_from_file_location(name, root / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def table_runs(profile: str, out_dir: Path) -> dict[str, tuple[str, list[str]]]:
    """family -> (script, argv) of the profile: ``smoke`` tiny budgets into ``out_dir``, ``cpu`` the tables' defaults."""
    if profile == "smoke":
        tiny = ["--seeds", "0", "--n", "150", "--inception-seeds"]  # 8 image steps: chapter 09's oscillation needs 2 windows
        return {"2d": ("table_2d", ["--tiny", "--out", str(out_dir / "results_2d")]),
                "mnist": ("table_mnist", tiny + ["--steps", "2", "--calib-steps", "2",
                                                 "--out", str(out_dir / "results_mnist.md")]),
                "images": ("table_mnist", tiny + ["--steps", "8", "--family", "images",
                                                  "--out", str(out_dir / "results_images.md")])}
    if profile == "cpu":
        # the commands of the committed pages (their "Reproduce" lines): MNIST without Inception (5 min per model here)
        return {"2d": ("table_2d", []), "mnist": ("table_mnist", ["--inception-seeds"]),
                "images": ("table_mnist", ["--family", "images"])}
    raise ValueError(f"`gantut report` has the smoke and cpu profiles (the gpu profile's tables are not built yet), "
                     f"got {profile!r}.")


def _json_of(family: str, argv: Sequence[str]) -> Path:
    out = Path(argv[argv.index("--out") + 1]) if "--out" in argv else config.repo_root() / "docs" / {
        "2d": "results_2d", "mnist": "results_mnist.md", "images": "results_images.md"}[family]
    return out.with_suffix(".json")


def build(profile: str | None = None, out_dir: str | Path | None = None, *, only: Sequence[str] | None = None,
          log: Callable[[str], None] = print) -> Path:
    """Run the tables of ``profile`` (default: the current one), then :func:`compose` the page; returns its path.
    ``only`` (family names) reruns those tables and reads the others' last JSON in the output folder (the page says
    which)."""
    profile = profile or config.profile()
    out = Path(out_dir) if out_dir else (config.repo_root() / "docs" if profile == "cpu"
                                         else config.runs_dir() / "report")
    out.mkdir(parents=True, exist_ok=True)
    runs = table_runs(profile, out)
    unknown = set(only or ()) - set(runs)
    if unknown:
        raise ValueError(f"unknown families {sorted(unknown)}; `gantut report --only` takes {sorted(runs)}.")
    results, reused, t0 = {}, [], time.perf_counter()
    for family, (script, argv) in runs.items():
        if only and family not in only:
            path = _json_of(family, argv)
            if not path.exists():
                raise FileNotFoundError(f"{path} is missing: run `gantut report` without --only (or with --only {family}).")
            results[family] = json.loads(path.read_text())
            reused.append(family)
            log(f"[report] {family}: read {path.name} (not rerun)")
            continue
        log(f"[report] {family}: python scripts/{script}.py {' '.join(argv)}")
        t = time.perf_counter()
        _script(script).main(list(argv))
        results[family] = json.loads(_json_of(family, argv).read_text())
        log(f"[report] {family}: done in {time.perf_counter() - t:.0f} s")
    command = f"gantut report --profile {profile}" + (f" --only {' '.join(only)}" if only else "")
    page = compose(results, profile, out, seconds=time.perf_counter() - t0, reused=reused, command=command)
    log(f"[report] wrote {page} and {page.with_suffix('.json')}")
    return page


def compose(results: Mapping[str, Any], profile: str, out: Path, seconds: float | None = None,
            reused: Sequence[str] = (), command: str | None = None) -> Path:
    """Evaluate every claim on ``results`` and write ``results.md`` / ``results.json`` into ``out``."""
    rows = []
    for c in CLAIMS:
        try:
            ours, verdict, why = c.rule(results)
        except KeyError as err:
            ours, verdict, why = "–", "not tested", str(err).strip("'\"")
        rows.append({"chapter": c.chapter, "seed": c.seed, "family": c.family, "claim": c.claim,
                     "seed_setup": c.seed_setup, "ours": ours, "verdict": verdict, "why": why})
    setups = {"2d": results.get("2d", {}).get("setup", "").rstrip("."),
              **{f: _setup(results[f]) for f in ("mnist", "images") if f in results}}
    payload = {"profile": profile, "command": command or f"gantut report --profile {profile}", "seconds": seconds,
               "reused": list(reused), "setups": setups, "rows": rows}
    path = out / "results.md"
    path.write_text(render(payload))
    path.with_suffix(".json").write_text(json.dumps(payload, indent=1, ensure_ascii=False))
    return path


def _setup(table: Mapping[str, Any]) -> str:
    return (f"{table.get('dataset', 'mnist')}, seeds {', '.join(map(str, table['seeds']))}, classifier-feature FID at "
            f"N = {table['n']} generated vs {table['n']} test images, threads {table.get('threads', '?')}; each row at its "
            "chapter's cpu budget")


FAMILY_TITLES = {"2d": ("2D mixtures", "results_2d.md"), "mnist": ("MNIST, course MLP (28 px)", "results_mnist.md"),
                 "images": ("32 px images (Fashion-MNIST)", "results_images.md")}


def render(payload: Mapping[str, Any]) -> str:
    """The results page as markdown: per family, a table of claims with the seed's setup, ours and the verdict."""
    lines = ["# Every seed's claim, side by side", ""]
    if payload["profile"] != "cpu":
        lines += [f"**Profile `{payload['profile']}`: tiny budgets that prove the chain runs; not a result.**", ""]
    counts = {v: sum(r["verdict"] == v for r in payload["rows"]) for v in VERDICTS}
    lines += [f"This page: `{payload.get('command', 'gantut report')}`; reproduce all of it with `gantut report --profile "
              "cpu` (runs the three table scripts; cached models and scores are loaded"
              + (f"; this run: {payload['seconds'] / 60:.1f} min" if payload.get("seconds") else "") + "). "
              "Verdicts are computed from the numbers by each claim's rule (`gantut.report.CLAIMS`); the seeds' numbers "
              "come from other feature spaces, data and budgets, so the rules compare orderings, never values.", "",
              "Verdicts: " + ", ".join(f"{v} {n}" for v, n in counts.items() if n) + ".", ""]
    if payload.get("reused"):
        lines += [f"Not rerun for this page (read from their last results JSON): the {', '.join(payload['reused'])} "
                  "table" + ("s" if len(payload["reused"]) > 1 else "") + ".", ""]
    for family, (title, page) in FAMILY_TITLES.items():
        rows = [r for r in payload["rows"] if r["family"] == family]
        if not rows:
            continue
        lines += [f"## {title}", "", f"Ours: {payload['setups'].get(family, '')}. Full table: [{page}]({page}).", "",
                  "| ch | seed | the seed's claim | seed's setup | ours | verdict |", "|---|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['chapter']} | {r['seed']} | {r['claim']} | {r['seed_setup']} | {r['ours']} | "
                         f"**{r['verdict']}**: {r['why']} |")
        lines.append("")
    return "\n".join(lines)
