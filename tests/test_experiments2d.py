"""gantut.experiments2d: the 2D protocol runner, on samplers whose scores are known by hand."""
import math

import pytest
import torch
from torch import nn

from gantut import data, experiments2d as ex, nets
from gantut.gan import GANStep


class ModeSampler(nn.Module):
    """z -> exactly one mixture centre: centre ⌊Φ(z₀)·K⌋ (uniform over the K modes), or always ``only``."""

    def __init__(self, centers, only=None):
        super().__init__()
        self.register_buffer("centers", centers.clone())
        self.w = nn.Parameter(torch.zeros(1))  # something for the optimiser and the device lookup
        self.only = only
        self.z_dim = 2

    def forward(self, z):
        K = len(self.centers)
        if self.only is not None:
            k = torch.full((len(z),), self.only, dtype=torch.long)
        else:
            k = (torch.special.ndtr(z[:, 0]) * K).long().clamp(0, K - 1)
        return self.centers[k] + 0 * self.w


def fixed(mixture, only=None):
    """A 'technique' that does not train: its G is a fixed sampler of the centres."""
    def make_step(seed):
        G = ModeSampler(mixture.centers, only)
        opt = torch.optim.SGD(G.parameters(), lr=0.1)
        return (lambda x: {"loss_D": 0.0, "loss_G": 0.0}), {"G": G, "opt_G": opt}
    return make_step


def vanilla(seed):
    G, D = nets.mlp2d_G(z_dim=2, hidden=16), nets.mlp2d_D(hidden=16)
    step = GANStep(G, D, torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3), z_dim=2)
    return step, step.state


def test_perfect_sampler_scores_all_modes_full_hq():
    grid = data.grid()
    res = ex.run_2d(fixed(grid), grid, seed=0, steps=3)
    m = res.metrics
    assert (m.modes, m.n_modes, m.n) == (25, 25, 2500)
    assert m.hq == 1.0
    assert 0 <= m.reverse_kl < 0.02  # near-uniform histogram of 2,500 draws over 25 modes


def test_one_mode_sampler_scores_one_and_ln_K():
    ring = data.ring()
    m = ex.run_2d(fixed(ring, only=3), ring, seed=0, steps=3).metrics
    assert (m.modes, m.hq) == (1, 1.0)
    assert m.reverse_kl == pytest.approx(math.log(8))


def test_snapshots_history_and_determinism():
    ring = data.ring()
    a = ex.run_2d(vanilla, ring, seed=1, steps=20, batch_size=32, snapshot_every=10, n_snap=50)
    assert [s for s, _ in a.snaps] == [0, 10, 20]
    assert a.snaps[0][1].shape == (50, 2) and a.samples.shape == (2500, 2)
    assert len(a.history["loss_D"]) == 20 and a.seconds > 0 and a.state is not None
    b = ex.run_2d(vanilla, ring, seed=1, steps=20, batch_size=32)
    assert torch.equal(a.samples, b.samples)  # same seed, same run
    c = ex.run_2d(vanilla, ring, seed=2, steps=20, batch_size=32)
    assert not torch.equal(a.samples, c.samples)


def test_cache_round_trip(tmp_path):
    ring = data.ring()
    path = tmp_path / "run.pt"
    a = ex.run_2d(vanilla, ring, seed=0, steps=10, batch_size=32, snapshot_every=5, cache=path)
    assert path.exists()
    b = ex.run_2d(vanilla, ring, seed=0, steps=10, batch_size=32, snapshot_every=5, cache=path)
    assert b.state is None and str(b.metrics) == str(a.metrics) and b.seconds == a.seconds
    assert (b.metrics.modes, b.metrics.hq) == (a.metrics.modes, a.metrics.hq)
    assert torch.equal(b.samples, a.samples) and [s for s, _ in b.snaps] == [0, 5, 10]
    assert b.history["loss_G"] == a.history["loss_G"]
    with pytest.raises(RuntimeError, match="does not hold"):
        ex.run_2d(vanilla, ring, seed=1, steps=10, cache=path)


def test_lr_decay_reaches_zero_linearly():
    ring = data.ring()
    seen = []

    def make_step(seed):
        step, state = fixed(ring)(seed)
        opt = state["opt_G"]
        return (lambda x: (seen.append(opt.param_groups[0]["lr"]), {"loss_G": 0.0})[1]), state

    ex.run_2d(make_step, ring, seed=0, steps=10, decay=0.5)
    # lr used at steps 1..10: full for the first half, then 0.1 * (1 - (s - 5)/5) after step s >= 5
    assert seen == pytest.approx([0.1] * 6 + [0.08, 0.06, 0.04, 0.02])


def test_compare_table_rows_and_reference():
    ring = data.ring()
    t = ex.compare_2d({"perfect": fixed(ring), "one mode": fixed(ring, only=0)}, ring, seeds=[0, 1], steps=2,
                      verbose=False)
    rows = {r["technique"]: r for r in t.rows()}
    assert rows["perfect"]["modes"] == "8.0 ± 0.0" and rows["perfect"]["hq"] == "100.0 ± 0.0"
    assert rows["one mode"]["modes"] == "1.0 ± 0.0" and rows["one mode"]["all_modes"] == 0
    assert rows["one mode"]["reverse_kl"] == f"{math.log(8):.2f} ± 0.00"
    assert t.mean("perfect", "modes") == 8.0
    md = t.markdown()
    assert "PacGAN4 — published" in md and "VEEGAN — published" in md and "N = 2500" in md
    assert "grid25" not in md
    assert t._repr_markdown_() == md


def test_mean_std_skips_nan_and_says_so():  # the one formatter: gantut.metrics.mean_std
    from gantut.metrics import mean_std
    assert str(mean_std([1.0, 3.0], 1)) == "2.0 ± 1.4"  # std ddof 1 = √2
    assert str(mean_std([1.0, float("nan")], 2)) == "1.00 (1/2 runs)"
    assert str(mean_std([5.0], 0)) == "5"
    assert str(mean_std([float("nan")], 2)) == "n/a"
    m = mean_std([1.0, 2.0, 3.0, 6.0], 1)
    assert (m.mean, m.std, m.n, m.se) == (3.0, pytest.approx(2.1602469), 4, pytest.approx(2.1602469 / 2))


def test_errors_name_the_fix():
    ring = data.ring()
    with pytest.raises(ValueError, match="state\\['G'\\]"):
        ex.run_2d(lambda s: (lambda x: {}, {"D": nn.Linear(2, 1)}), ring, steps=1)
    with pytest.raises(ValueError, match="z_dim"):
        ex.run_2d(lambda s: (lambda x: {}, {"G": nn.Linear(2, 2)}), ring, steps=1)
    with pytest.raises(ValueError, match="at least one"):
        ex.compare_2d({}, ring)


def test_gan_2d_builds_the_step_each_chapter_names():
    from gantut.unrolled import UnrolledStep

    step, state = ex.gan_2d()(0)
    assert isinstance(step, GANStep) and step.penalties == [] and step.loss == "nonsaturating"
    assert set(state) == {"G", "D", "opt_G", "opt_D", "step"}
    r1, _ = ex.gan_2d(r1_gamma=ex.R1_GAMMA_2D["grid25"])(0)
    assert isinstance(r1, GANStep) and [(type(p).__name__, p.gamma) for p in r1.penalties] == [("R1", 0.1)]
    unr, _ = ex.gan_2d(K=1, order="second", r1_gamma=0.03)(0)
    assert isinstance(unr, UnrolledStep) and (unr.K, unr.order, unr.penalties[0].gamma) == (1, "second", 0.03)
    out = unr(data.ring().batches(32, generator=torch.Generator().manual_seed(0)).next())
    assert set(out) == {"loss_D", "loss_G", "r1"} and all(math.isfinite(float(v)) for v in out.values())


def test_gan_2d_seeds_like_a_hand_built_step():
    """run_2d seeds the RNG before make_step: two runs of gan_2d() give the same result, and it is the
    chapter-01 vanilla GAN (the same nets, optimiser and loss built by hand)."""
    def by_hand(seed):
        G, D = nets.mlp2d_G(z_dim=2), nets.mlp2d_D()
        adam = lambda m: torch.optim.Adam(m.parameters(), 1e-3, betas=(0.5, 0.999))
        step = GANStep(G, D, adam(G), adam(D), z_dim=2, loss="nonsaturating")
        return step, step.state

    ring = data.ring()
    a = ex.run_2d(ex.gan_2d(), ring, seed=3, steps=20)
    b = ex.run_2d(by_hand, ring, seed=3, steps=20)
    assert torch.equal(a.samples, b.samples)


@pytest.mark.parametrize("name", sorted(ex.RECIPES_2D))
def test_every_2d_recipe_builds_its_models_on_gantut_device(monkeypatch, name):
    """The device contract without a GPU: with gantut.device() patched to the meta device, every recipe's
    G and D land there (a recipe that forgot .to(device) would leave them on the CPU)."""
    from gantut import config

    monkeypatch.setattr(config, "device", lambda prefer=None: torch.device("meta"))
    step, state = ex.recipe_2d(name).make_step("ring8" if "grid" not in name else "grid25")(0)
    for key in ("G", "D"):
        assert {p.device.type for p in state[key].parameters()} == {"meta"}, key


def test_recipe_registry_names_and_budgets():
    assert ex.recipe_2d(ex.BEST_RING).steps == 9000 and ex.recipe_2d(ex.BEST_GRID).mixtures == ("grid25",)
    with pytest.raises(ValueError, match="unknown 2D recipe"):
        ex.recipe_2d("nope")
    with pytest.raises(ValueError, match="no budget"):
        ex.run_recipe_2d("vanilla GAN (ch01)", data.ring())
