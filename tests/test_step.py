"""The shared adversarial step: exact resume with its counters, penalties under their own keys, the
latent prior, autocast on CPU, and subclasses that override only their objectives."""
import math

import pytest
import torch
from torch import nn

from gantut import data, nets
from gantut.gan import AdversarialStep, GANStep, generate
from gantut.losses import LeastSquaresLoss, get_loss
from gantut.penalties import R1, GradientPenalty, Penalty
from gantut.priors import NormalPrior, UniformPrior, as_prior
from gantut.train import fit


def _mlp_step(penalties=(), **kw):
    torch.manual_seed(0)
    G, D = nets.mlp2d_G(z_dim=2, hidden=16), nets.mlp2d_D(hidden=16)
    adam = lambda m: torch.optim.Adam(m.parameters(), 1e-3, betas=(0.5, 0.999))  # noqa: E731
    return GANStep(G, D, adam(G), adam(D), z_dim=2, penalties=penalties, **kw)


def _r1_steps(history):
    """Steps at which the lazy R1 term was logged."""
    return history.series("r1")[0] if "r1" in history else []


def test_lazy_r1_resumed_at_step_5_applies_at_the_same_steps(tmp_path):
    """Uninterrupted: R1 every 4 D updates is applied at steps 4 and 8. Stopped after step 5 and resumed,
    it must be the same steps (the D-update counter is checkpointed with the step)."""
    ring = data.ring()

    def run(stop_at, ckpt):
        step = _mlp_step(r1_gamma=1.0, r1_every=4)
        batches = ring.batches(32, generator=torch.Generator().manual_seed(0))
        return fit(step, batches, stop_at, state=step.state, checkpoint=ckpt, log_every=1, progress=False), step

    full, s_full = run(10, tmp_path / "full.pt")
    assert _r1_steps(full) == [4, 8]
    run(5, tmp_path / "part.pt")
    resumed, s_res = run(10, tmp_path / "part.pt")
    assert resumed.start_step == 5 and resumed.steps_trained == 5
    assert _r1_steps(resumed) == [4, 8]
    assert (s_res.d_updates, s_res.g_updates) == (s_full.d_updates, s_full.g_updates) == (10, 10)
    for a, b in zip(s_full.G.parameters(), s_res.G.parameters()):
        assert torch.equal(a, b)


def test_gp_and_r1_together_log_separate_keys_and_resume_exactly(tmp_path):
    ring = data.ring()

    def run(stop_at, ckpt):
        step = _mlp_step(loss="wgan", gp_lambda=0.1, r1_gamma=0.5, r1_every=3, n_critic=2)
        batches = ring.batches(step.real_batch(16), generator=torch.Generator().manual_seed(1))
        return fit(step, batches, stop_at, state=step.state, checkpoint=ckpt, log_every=1, progress=False), step

    full, s_full = run(6, tmp_path / "full.pt")
    assert {"gp", "r1", "loss_D", "loss_G", "W_estimate"} <= set(full.keys())
    assert "penalty" not in full
    # 2 D updates per step: R1 on D updates 3, 6, 9, 12 -> steps 2, 3, 5, 6
    assert _r1_steps(full) == [2, 3, 5, 6]
    run(3, tmp_path / "part.pt")
    resumed, s_res = run(6, tmp_path / "part.pt")
    assert resumed.state_dict() == full.state_dict()
    for a, b in zip(s_full.D.parameters(), s_res.D.parameters()):
        assert torch.equal(a, b)


def test_two_penalties_with_one_key_are_refused():
    with pytest.raises(ValueError, match="same key"):
        _mlp_step(penalties=[R1(1.0), R1(2.0)])


def test_penalty_every_k_is_due_on_multiples_and_scaled():
    assert [n for n in range(1, 10) if Penalty(every=3).due(n)] == [3, 6, 9]
    D = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        D.weight.fill_(2.0)
    x = torch.randn(8, 1)
    term, logs = R1(gamma=1.0, every=4)(D, x, x)
    assert term.item() == pytest.approx(4 * 0.5 * 1.0 * 4.0)  # every × (γ/2) × w²
    assert logs["r1"].item() == pytest.approx(term.item())
    # GP of a critic with unit gradient norm is 0; it logs E(‖∇‖ − 1)² without λ
    Dn = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        Dn.weight.copy_(torch.tensor([[0.6, 0.8]]))
    term, logs = GradientPenalty(lam=10.0)(Dn, torch.randn(5, 2), torch.randn(5, 2))
    assert term.item() == pytest.approx(0.0, abs=1e-10) and "gp" in logs


def test_real_batch_is_declared_by_the_step():
    assert _mlp_step(n_critic=5).real_batch(64) == 320
    assert _mlp_step().real_batch(64) == 64


def test_step_state_holds_the_counters_and_reloads_them():
    step = _mlp_step()
    step(torch.randn(8, 2))
    step(torch.randn(8, 2))
    assert step.state["step"] is step and step.state_dict()["g_updates"] == 2
    other = _mlp_step()
    other.load_state_dict(step.state_dict())
    assert (other.d_updates, other.g_updates) == (2, 2)


def test_a_technique_overrides_only_its_objective():
    """A subclass that changes G's objective reuses the base mechanics: D and G still take one step each."""

    class HalfG(AdversarialStep):
        def g_objective(self, z, real):
            loss, logs = super().g_objective(z, real)
            return 0.5 * loss, {"loss_G": 0.5 * logs["loss_G"], "halved": 1.0}

    torch.manual_seed(0)
    G, D = nets.mlp2d_G(z_dim=2, hidden=8), nets.mlp2d_D(hidden=8)
    step = HalfG(G, D, torch.optim.SGD(G.parameters(), 0.1), torch.optim.SGD(D.parameters(), 0.1), 2)
    g0 = [p.clone() for p in G.parameters()]
    out = step(torch.randn(4, 2))
    assert out["halved"] == 1.0 and step.g_updates == 1 and step.d_updates == 1
    assert any(not torch.equal(a, b) for a, b in zip(g0, G.parameters()))


def test_loss_objects_take_the_step_count():
    ls = LeastSquaresLoss(a=lambda t: 0.1 * t, b=1.0, c=1.0)
    zero = torch.zeros(4)
    # D(x) = 0 for reals and fakes: ½(0 − 1)² + ½(0 − a)², a = 0.1·t
    assert ls.d_loss(zero, zero, t=0).item() == pytest.approx(0.5)
    assert ls.d_loss(zero, zero, t=5).item() == pytest.approx(0.5 + 0.5 * 0.25)
    assert get_loss("ls").d_loss(zero, zero).item() == pytest.approx(0.5)
    assert get_loss(ls) is ls
    with pytest.raises(ValueError, match="unknown loss"):
        get_loss("bce")


def test_priors():
    assert isinstance(as_prior(3), NormalPrior) and as_prior(3).z_dim == 3
    u = UniformPrior(2)
    assert as_prior(u) is u
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    # the uniform prior is erf(z/√2) of the very same normal draw
    z = NormalPrior(2).sample(1000, generator=g())
    assert torch.allclose(u.sample(1000, generator=g()), torch.special.erf(z / math.sqrt(2)))
    with pytest.raises(TypeError):
        as_prior(2.5)
    with pytest.raises(ValueError):
        NormalPrior(0)


def test_generate_uses_the_prior():
    G = nn.Identity()
    G.register_parameter("p", nn.Parameter(torch.zeros(1)))
    x = generate(G, 500, UniformPrior(3), generator=torch.Generator().manual_seed(0))
    assert x.shape == (500, 3) and x.min() >= -1 and x.max() <= 1
    y = generate(G, 500, 3, generator=torch.Generator().manual_seed(0))
    assert y.abs().max() > 1  # normal draws leave [-1, 1]


def test_amp_on_cpu_trains_in_bfloat16_forwards_only():
    """fit(amp=True) on the CPU: bf16 autocast around forwards and losses; parameters, grads and the
    optimiser stay float32; losses are finite and the nets move."""
    torch.manual_seed(0)
    G, D = nets.mlp2d_G(z_dim=2, hidden=16), nets.mlp2d_D(hidden=16)
    seen = []
    D.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    step = GANStep(G, D, torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3), 2,
                   r1_gamma=0.1)
    d0 = [p.clone() for p in D.parameters()]
    h = fit(step, data.ring().batches(32, generator=torch.Generator().manual_seed(0)), 5, state=step.state,
            amp=True, log_every=1, progress=False)
    assert torch.bfloat16 in seen
    assert all(p.dtype == torch.float32 for p in list(G.parameters()) + list(D.parameters()))
    assert all(math.isfinite(v) for v in h["loss_D"] + h["loss_G"] + h["r1"])
    assert any(not torch.equal(a, b) for a, b in zip(d0, D.parameters()))
    assert step.amp_device is None  # fit leaves the step as it found it
    seen.clear()
    step(torch.randn(8, 2))
    assert seen and all(dt == torch.float32 for dt in seen)


def test_amp_needs_a_step_that_supports_it():
    with pytest.raises(TypeError, match="amp_device"):
        fit(lambda b: {"loss": 0.0}, None, 1, amp=True, progress=False)


def test_fit_refuses_models_on_another_device():
    G = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="gantut.device"):
        fit(lambda b: {}, None, 1, state={"G": G}, device="meta", progress=False)


def test_fit_result_says_what_it_trained(tmp_path):
    step = _mlp_step()
    src = lambda: data.ring().batches(16, generator=torch.Generator().manual_seed(0))  # noqa: E731
    r = fit(step, src(), 4, state=step.state, checkpoint=tmp_path / "c.pt", progress=False)
    assert (r.steps_trained, r.start_step, r.loaded) == (4, 0, False) and r.seconds > 0
    step2 = _mlp_step()
    again = fit(step2, src(), 4, state=step2.state, checkpoint=tmp_path / "c.pt", progress=False)
    assert again.loaded and again.steps_trained == 0 and again.seconds == 0.0
    assert again.history["loss_D"] == r["loss_D"]
