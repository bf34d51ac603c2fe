"""Chapter 09's math on hand values: the α schedules, LSGAN's losses at the optimum, the oscillation numbers,
and the α-LSGAN step (its D loss uses α(t), it logs α, and a stopped run resumes the ramp exactly)."""
import math

import numpy as np
import pytest
import torch

from gantut import data, experiments_mnist as em, nets
from gantut.losses import d_loss_ls, d_star_ls, g_loss_ls
from gantut.lsgan import AlphaLSGANStep, AlphaSchedule, equilibrium_losses, oscillation
from gantut.train import fit


@pytest.mark.parametrize("kind, at_110, at_120", [("linear", 0.125, 0.25), ("smoothstep", 0.078125, 0.25),
                                                  ("step", 0.5, 0.5)])
def test_schedule_before_during_and_after_the_ramp(kind, at_110, at_120):
    a = AlphaSchedule(alpha_max=0.5, start=100, length=40, kind=kind)
    # t = (step − 100)/40; smooth-step 3t² − 2t³ at t = ¼ is 3/16 − 2/64 = 0.15625 (× 0.5), at t = ½ it is ½
    assert a(0) == a(99) == 0.0
    assert a(110) == pytest.approx(at_110) and a(120) == pytest.approx(at_120)
    assert a(140) == a(10_000) == 0.5


def test_schedule_refuses_what_is_not_a_fake_target():
    with pytest.raises(ValueError, match="alpha_max"):
        AlphaSchedule(1.0, 0, 10)
    with pytest.raises(ValueError, match="kind"):
        AlphaSchedule(0.5, 0, 10, kind="cosine")


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 0.9])
def test_equilibrium_losses_are_those_of_d_star(alpha):
    """At p_g = p_d, D* = (1 + α)/2 for every x; the batch-mean losses at D* are (1 − α)²/4 and (1 − α)²/8."""
    d = torch.full((8,), float(d_star_ls(1.0, 1.0, a=alpha, b=1.0)))
    assert d[0].item() == pytest.approx((1 + alpha) / 2)
    L_D, L_G = equilibrium_losses(alpha)
    assert L_D == pytest.approx((1 - alpha) ** 2 / 4) and L_G == pytest.approx((1 - alpha) ** 2 / 8)
    assert d_loss_ls(d, d, a=alpha, b=1.0).item() == pytest.approx(L_D)
    assert g_loss_ls(d, c=1.0).item() == pytest.approx(L_G)
    # and D* is D's best constant answer: moving it either way raises D's loss
    for eps in (-0.01, 0.01):
        assert d_loss_ls(d + eps, d + eps, a=alpha).item() > L_D


def test_oscillation_on_a_constructed_series():
    # 100 steps of 0.25 (the ramp's past), then windows [1, 3, 1, 3]: std √(4/3), mean 2; then [1, 1, 7, 1]: its 7 is a spike (> 3 × its median 1)
    steps = np.arange(1, 113)
    values = np.r_[np.full(100, 0.25), [1, 3, 1, 3] * 2, [1, 1, 7, 1]]
    o = oscillation(steps, values, after=100, window=4)
    assert o.n == 12 and o.spikes == 1
    std_last = 3.0  # of [1, 1, 7, 1], ddof 1: √(27/3)
    assert o.std == pytest.approx((2 * math.sqrt(4 / 3) + std_last) / 3)
    assert o.cv == pytest.approx((2 * math.sqrt(4 / 3) / 2 + std_last / 2.5) / 3)
    flat = oscillation(steps, np.full(112, 0.25), after=0, window=10)
    assert flat.std == 0.0 and flat.cv == 0.0 and flat.spikes == 0 and flat.n == 110
    with pytest.raises(ValueError, match="fewer than one window"):
        oscillation(steps, values, after=110, window=4)


def _step(schedule):
    torch.manual_seed(0)
    G, D = nets.mlp2d_G(z_dim=2, hidden=16), nets.mlp2d_D(hidden=16)
    adam = lambda m: torch.optim.Adam(m.parameters(), 1e-3, betas=(0.5, 0.999))  # noqa: E731
    return AlphaLSGANStep(G, D, adam(G), adam(D), 2, schedule)


def test_step_uses_alpha_of_the_step_count():
    step = _step(AlphaSchedule(0.5, start=0, length=0, kind="step"))   # α = 0.5 from the first step
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    loss, logs = step.d_objective(real, fake)
    want = d_loss_ls(step.D(real), step.D(fake), a=0.5, b=1.0)
    assert loss.item() == pytest.approx(want.item()) and logs["alpha"].item() == 0.5


def test_step_logs_the_ramp_and_resumes_it_exactly(tmp_path):
    ring = data.ring()
    schedule = AlphaSchedule(0.4, start=2, length=4, kind="linear")

    def run(stop_at, ckpt):
        step = _step(schedule)
        batches = ring.batches(32, generator=torch.Generator().manual_seed(0))
        return fit(step, batches, stop_at, state=step.state, checkpoint=ckpt, log_every=1, progress=False), step

    full, s_full = run(8, tmp_path / "full.pt")
    # α is read before the step's G update: g_updates = step − 1 -> α(0..7) = 0, 0, 0, 0.1, 0.2, 0.3, 0.4, 0.4
    assert full["alpha"] == pytest.approx([0, 0, 0, 0.1, 0.2, 0.3, 0.4, 0.4])
    run(4, tmp_path / "part.pt")
    resumed, s_res = run(8, tmp_path / "part.pt")
    assert resumed.start_step == 4 and resumed.state_dict() == full.state_dict()
    for a, b in zip(s_full.D.parameters(), s_res.D.parameters()):
        assert torch.equal(a, b)


def test_recipe_places_the_ramp_in_the_run_and_refuses_other_losses():
    r = em.recipe("dcgan32", name="t", loss="ls", alpha_max=0.5, alpha_start=0.25, alpha_length=0.5,
                  alpha_kind="smoothstep")
    assert em.alpha_schedule(r, 2000) == AlphaSchedule(0.5, 500, 1000, "smoothstep")
    step = em.build(r, 0, "cpu", steps=2000)
    assert isinstance(step, AlphaLSGANStep) and step.schedule(1000) == pytest.approx(0.25)
    base = em.build(em.recipe("dcgan32", loss="ls"), 0, "cpu")
    assert isinstance(base, AlphaLSGANStep) and base.schedule(10**6) == 0.0
    # the α fields are new: a recipe that does not use them keeps its checkpoint key
    assert "alpha_max" not in em.RECIPES["dcgan32"].key() and r.key()["alpha_max"] == 0.5
    with pytest.raises(ValueError, match="loss='ls'"):
        em.recipe("dcgan32", alpha_max=0.5)
    with pytest.raises(ValueError, match="fractions"):
        em.recipe("dcgan32", loss="ls", alpha_start=2.0)


def test_windows_cut_a_series_and_drop_the_partial_tail():
    from gantut.lsgan import windows

    w = windows(range(1, 8), 3)   # 1..7 -> [[1, 2, 3], [4, 5, 6]], the 7 dropped
    assert w.tolist() == [[1, 2, 3], [4, 5, 6]]
    with pytest.raises(ValueError, match="fewer than one window"):
        windows([1, 2], 3)


def test_oscillation_table_rows_and_the_levels_at_d_star():
    from gantut.lsgan import Oscillation

    def o(std, cv, spikes):
        return Oscillation(std=std, cv=cv, spikes=spikes, n=100, window=100, after=0, spike_factor=3.0)

    osc = {"LSGAN": [{"loss_D": o(0.04, 0.3, 2), "loss_G": o(0.12, 0.4, 0)},
                     {"loss_D": o(0.06, 0.5, 4), "loss_G": o(0.14, 0.4, 0)}]}
    table = em.oscillation_table(osc, alpha_max={"LSGAN": 0.0})
    head, _, row = table.split("\n")
    assert head == ("| variant | L_D at D* | loss_D std | loss_D cv | loss_D spikes | L_G at D* | loss_G std | "
                    "loss_G cv | loss_G spikes |")
    # D at D* with α = 0: 0.25 and 0.125; mean ± std (ddof 1) over the two seeds
    assert row == ("| LSGAN | 0.2500 | 0.0500 ± 0.0141 | 0.400 ± 0.141 | 3.0 ± 1.4 | 0.1250 | 0.1300 ± 0.0141 | "
                   "0.400 ± 0.000 | 0.0 ± 0.0 |")
    assert "L_D at D*" not in em.oscillation_table(osc)
