"""High quality against training steps for the best 2D recipes: is the grid still climbing when it stops?

    python scripts/hq_curve_2d.py       # seed 0 of each best recipe, one torch thread -> docs/hq_curve_2d.md/.png

Each best recipe of gantut.experiments2d.RECIPES_2D is trained once on seed 0 through the shared protocol, with a
snapshot of 2,500 samples (one fixed latent draw) every 1,000 steps; each snapshot is scored with the 2D protocol
(modes, % high quality within 3σ, reverse KL). The points belong to *one* run at its full budget: its learning
rates decay linearly to 0 over the second half of that budget, so the value at step s is not that of a run
trained for s steps (which would decay earlier).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gantut import config, data, metrics  # noqa: E402
from gantut import experiments2d as ex  # noqa: E402

RECIPES = [(ex.BEST_RING_V2, data.ring), (ex.BEST_GRID_V2, data.grid)]
EVERY = 1000


def main() -> None:
    threads = config.apply_threads()
    lines = ["# High quality against training steps (best 2D recipes)", "",
             f"Reproduce: `python scripts/hq_curve_2d.py` (seed 0, {threads} torch thread(s); a snapshot of 2,500 "
             f"samples from one fixed latent draw every {EVERY:,} steps, scored with the 2D protocol). The points are "
             "one run at its full budget, whose learning rates decay linearly to 0 over its second half: the value "
             "at step s is not that of a run of s steps.", ""]
    fig, axes = plt.subplots(1, len(RECIPES), figsize=(10, 3.4))
    for ax, (name, make) in zip(axes, RECIPES):
        mixture = make()
        t0 = time.perf_counter()
        res = ex.run_recipe_2d(name, mixture, seed=0, snapshot_every=EVERY, n_snap=2500)
        seconds = time.perf_counter() - t0
        scored = [(step, metrics.mode_metrics(x, mixture)) for step, x in res.snaps]
        steps = [s for s, _ in scored]
        ax.plot(steps, [100 * m.hq for _, m in scored], marker="o", markersize=3)
        ax.axhline(98.9, color="0.5", linestyle=":", linewidth=1)
        ax.set(xlabel="step", ylabel="% high quality (<= 3σ)", ylim=(0, 100),
               title=f"{mixture.name}: {name.split(':')[0]}")
        ax.annotate("a perfect sampler: 98.9 %", (steps[0], 96), fontsize=7, color="0.4", va="top")
        lines += [f"## {name} on {mixture.name} ({seconds:.0f} s with scoring)", "",
                  "| step | modes | HQ % | reverse KL |", "|---|---|---|---|"]
        lines += [f"| {s:,} | {m.modes}/{m.n_modes} | {100 * m.hq:.1f} | {m.reverse_kl:.3f} |" for s, m in scored]
        lines.append("")
    fig.tight_layout()
    out = ROOT / "docs" / "hq_curve_2d.png"
    fig.savefig(out, dpi=110)
    lines += [f"![HQ against steps]({out.name})", ""]
    (ROOT / "docs" / "hq_curve_2d.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
