"""Chapter 11 (LFM, seed 000): orthogonal pairs, the feature head, the LFM term's two signs, the step, KID."""
import math

import numpy as np
import pytest
import torch

from gantut import experiments_mnist as em
from gantut import lfm, metrics, nets


def test_orthogonal_pairs_are_orthogonal_and_respect_T():
    g = torch.Generator().manual_seed(0)
    n1, n2, drawn = lfm.orthogonal_pairs(500, 100, 1.5, generator=g)
    assert n1.shape == n2.shape == (500, 100)
    dots = (n1.double() * n2.double()).sum(1)
    scale = n1.norm(dim=1) * n2.norm(dim=1)
    assert (dots.abs() / scale.double()).max() < 1e-5          # orthogonal to float32 precision
    assert n2[:, -1].abs().max() <= 1.5
    assert drawn > 500                                           # some pairs were rejected
    assert torch.equal(n1[:, :-1], n1[:, :-1])                   # (shape sanity)


def test_acceptance_rate_matches_the_simulated_one():
    """REFERENCE: about 9.6 % accepted at T = 1.5 and 6.4 % at T = 1 for d = 100 (seed 000's sizes)."""
    for T, expected in ((1.5, 0.096), (1.0, 0.064)):
        _, _, drawn = lfm.orthogonal_pairs(3000, 100, T, generator=torch.Generator().manual_seed(1))
        rate = 3000 / drawn
        # binomial standard error at ~35,000 draws is about 0.0016
        assert abs(rate - expected) < 0.008, (T, rate)


def test_no_threshold_accepts_every_pair():
    _, _, drawn = lfm.orthogonal_pairs(64, 10, None, generator=torch.Generator().manual_seed(0))
    assert drawn == 64


def test_accepted_pairs_stay_normal_except_the_last_coordinates():
    n1, n2, _ = lfm.orthogonal_pairs(4000, 100, 1.5, generator=torch.Generator().manual_seed(2))
    body = torch.cat([n1[:, :-1], n2[:, :-1]])
    assert abs(float(body.mean())) < 0.01 and abs(float(body.std()) - 1.0) < 0.01
    # the rejection keeps small |n2[d-1]| = |Σ n1_j n2_j| / |n1[d-1]|: large |n1[d-1]| (REFERENCE: mean 1.25 vs 0.80)
    assert float(n1[:, -1].abs().mean()) > 1.1
    assert abs(math.sqrt(2 / math.pi) - 0.798) < 1e-3


def test_prior_puts_pairs_at_i_and_i_plus_half():
    prior = lfm.OrthogonalPairPrior(100, T=1.5)
    z = prior.sample(64, generator=torch.Generator().manual_seed(0))
    assert z.shape == (64, 100)
    dots = (z[:32].double() * z[32:].double()).sum(1)
    assert dots.abs().max() < 1e-3
    assert (z[:32] @ z[32:].T).diagonal().abs().max() < 1e-3 < (z[:32] @ z[32:].T).abs().max()
    assert prior.accepted == 32 and prior.drawn > 32 and 0 < prior.acceptance < 1
    state = prior.state_dict()
    other = lfm.OrthogonalPairPrior(100)
    other.load_state_dict(state)
    assert (other.drawn, other.accepted) == (prior.drawn, prior.accepted)
    with pytest.raises(ValueError, match="even"):
        prior.sample(63)


def test_prior_is_reproducible_with_a_generator():
    a = lfm.OrthogonalPairPrior(20).sample(16, generator=torch.Generator().manual_seed(5))
    b = lfm.OrthogonalPairPrior(20).sample(16, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_antipodal_pairs():
    prior = lfm.OrthogonalPairPrior(8, antipodal=True)
    z = prior.sample(10, generator=torch.Generator().manual_seed(0))
    assert torch.equal(z[5:], -z[:5])
    assert prior.acceptance == 1.0


def test_pair_dot_on_hand_features():
    f = torch.tensor([[1.0, 1.0], [2.0, 0.0], [3.0, 1.0], [1.0, 1.0]])
    # pairs (0, 2): 3 + 1 = 4 and (1, 3): 2 + 0 = 2 -> mean 3
    assert float(lfm.pair_dot(f)) == pytest.approx(3.0)
    g = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, -1.0]])
    assert float(lfm.pair_dot(g)) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="even"):
        lfm.pair_dot(torch.ones(3, 2))


@pytest.mark.parametrize("form", lfm.FORMS)
def test_each_sign_moves_R_the_documented_way(form):
    """One gradient step on D's term raises R (adversarial: D maximises it) or lowers |R| (cooperative);
    a step on G's term lowers R (adversarial) or |R| (cooperative)."""
    term = lfm.LFMTerm(lam_D=0.5, lam_G=0.5, form=form)
    f0 = torch.tensor([[0.5, 0.2], [0.1, -0.3], [0.4, 0.1], [0.3, 0.2]])  # R = (0.22 + (-0.03)) / 2 = 0.095
    assert float(lfm.pair_dot(f0)) == pytest.approx(0.095)
    for side, fn in (("D", term.d_term), ("G", term.g_term)):
        f = f0.clone().requires_grad_(True)
        fn(lfm.pair_dot(f)).backward()
        R1 = float(lfm.pair_dot(f.detach() - 0.1 * f.grad))
        if side == "D" and form == "adversarial":
            assert R1 > 0.095
        else:
            assert abs(R1) < 0.095
    assert float(term.d_term(torch.tensor(2.0))) == (-1.0 if form == "adversarial" else 1.0)
    assert float(term.g_term(torch.tensor(-2.0))) == (-1.0 if form == "adversarial" else 1.0)


def test_lfm_term_rejects_unknown_form():
    with pytest.raises(ValueError, match="adversarial"):
        lfm.LFMTerm(form="cooperate")


def test_feature_head_d():
    torch.manual_seed(0)
    base = nets.dcgan_D(32, 1, 8)
    D = lfm.FeatureHeadD(base, 100)
    x = torch.randn(6, 1, 32, 32)
    logit, f = D.logit_and_features(x)
    assert logit.shape == (6, 1) and f.shape == (6, 100)
    assert torch.allclose(logit, D(x)) and torch.allclose(f, D.features(x))
    assert f.abs().max() < 1
    frozen = lfm.FeatureHeadD(nets.dcgan_D(32, 1, 8), 100, trainable=False)
    assert not any(p.requires_grad for p in frozen.extractor.parameters())
    frozen.features(x).sum().backward()
    assert frozen.extractor.weight.grad is None and frozen.D.trunk[0].weight.grad is not None
    with pytest.raises(TypeError, match="DCGANDiscriminator"):
        lfm.FeatureHeadD(nets.course_D(), 100)


def test_lfm_recipe_builds_the_same_trunk_as_dcgan():
    plain = em.build(em.recipe("dcgan32", subset=512), seed=3, device="cpu")
    with_lfm = em.build(em.recipe("dcgan32", subset=512, lfm="adversarial"), seed=3, device="cpu")
    assert isinstance(with_lfm, lfm.LFMStep) and isinstance(with_lfm.prior, lfm.OrthogonalPairPrior)
    for a, b in zip(plain.G.state_dict().values(), with_lfm.G.state_dict().values()):
        assert torch.equal(a, b)
    for k, v in plain.D.state_dict().items():
        assert torch.equal(v, with_lfm.D.D.state_dict()[k])


def test_lfm_step_logs_and_g_only_ablation_has_no_d_term():
    torch.manual_seed(0)
    step = em.build(em.recipe("dcgan32", lfm="adversarial"), seed=0, device="cpu")
    out = step(torch.randn(64, 1, 32, 32).clamp(-1, 1))
    assert {"loss_D", "loss_G", "R", "R_G"} <= set(out)
    assert step.prior.accepted == 64  # 32 pairs for D's fakes and 32 for G's
    ablation = em.build(em.recipe("dcgan32", lfm="adversarial", lam_D=0.0, lfm_head=False), seed=0, device="cpu")
    assert ablation.penalties == [] and not ablation.D.trainable
    before = ablation.D.extractor.weight.detach().clone()
    out = ablation(torch.randn(64, 1, 32, 32).clamp(-1, 1))
    assert "R" not in out and "R_G" in out
    assert torch.equal(before, ablation.D.extractor.weight)


def test_lfm_recipe_validation_and_key():
    with pytest.raises(ValueError, match="nonsaturating"):
        em.recipe("lsgan32", lfm="adversarial")
    with pytest.raises(ValueError, match="lfm must be one of"):
        em.recipe("dcgan32", lfm="both")
    with pytest.raises(ValueError, match="subset"):
        em.recipe("dcgan32", subset=-1)
    assert "lfm" not in em.recipe("dcgan32").key() and "subset" not in em.recipe("dcgan32").key()
    assert em.recipe("dcgan32", subset=512, lfm="cooperative").key()["lfm"] == "cooperative"


def test_training_images_subsets():
    pytest.importorskip("gantut.data")
    try:
        full = em.load("mnist", "train", 32)
    except Exception as exc:  # pragma: no cover - data missing
        pytest.skip(f"MNIST not available: {exc}")
    first = em.training_images(em.recipe("dcgan32", subset=512), "mnist")
    assert len(first) == 512 and torch.equal(first.images, full.images[:512])
    strat = em.training_images(em.recipe("dcgan32", subset=1012, subset_kind="stratified"), "mnist")
    counts = torch.bincount(strat.labels, minlength=10)
    assert counts.tolist() == [102, 102] + [101] * 8


def test_kid_on_hand_values():
    """k(x, y) = (x·y/d + 1)³ with d = 1: real {0, 1}, fake {0, 2}. Off-diagonal k_rr = 1, k_ff = 1; cross terms
    1, 1, 1, 27 -> mean 7.5; unbiased MMD² = 1 + 1 − 2·7.5 = −13."""
    r = metrics.kid_from_features([[0.0], [1.0]], [[0.0], [2.0]])
    assert r.value == pytest.approx(-13.0) and r.subsets == 1 and r.subset_size == 2
    same = np.random.default_rng(0).normal(size=(300, 8))
    other = np.random.default_rng(1).normal(size=(300, 8))
    assert abs(metrics.kid_from_features(same, other).value) < 0.05
    assert metrics.kid_from_features(same, other + 1.0).value > 0.5
    with pytest.raises(ValueError, match="KID subsets"):
        metrics.kid_from_features(same[:1], other[:1])


def test_kid_leaves_the_global_rng_alone():
    torch.manual_seed(0)
    a = torch.rand(1)
    torch.manual_seed(0)
    metrics.kid_from_features(np.ones((50, 3)), np.zeros((40, 3)), subsets=3, subset_size=20)
    assert torch.equal(torch.rand(1), a)


def test_lfm_step_resumes_exactly_with_the_prior_counters(tmp_path):
    from gantut.train import fit

    x = torch.randn(256, 1, 32, 32).clamp(-1, 1)

    def run(stop_at, ckpt):
        step = em.build(em.recipe("dcgan32", base=4, lfm="cooperative"), seed=0, device="cpu")
        batches = data_batches(x)
        return fit(step, batches, stop_at, state=step.state, checkpoint=ckpt, log_every=1, progress=False), step

    full, s_full = run(6, tmp_path / "full.pt")
    run(3, tmp_path / "part.pt")
    resumed, s_res = run(6, tmp_path / "part.pt")
    assert resumed.start_step == 3 and resumed.state_dict() == full.state_dict()
    assert (s_res.prior.drawn, s_res.prior.accepted) == (s_full.prior.drawn, s_full.prior.accepted)
    for a, b in zip(s_full.D.parameters(), s_res.D.parameters()):
        assert torch.equal(a, b)


def data_batches(x):
    from gantut.data import TensorBatches

    return TensorBatches(x, 64, generator=torch.Generator().manual_seed(0))


def test_curve_reads_the_minimum_and_the_collapse_signal():
    from gantut.train import History

    h = History()
    for step, (fid, recall) in enumerate([(400.0, 0.1), (150.0, 0.5), (100.0, 0.6), (130.0, 0.45)]):
        h.log(step * 10, {"fid": fid, "fid128": fid + 50, "kid": 1.0, "recall": recall, "coverage": 0.5,
                          "recognisable": 0.3, "classes": 10.0})
    run = em.Run(em.recipe("dcgan32"), "fashion", 0, 30, None, h, [], 0.0, True)
    c = em.curve(run)
    assert (c.min_fid, c.min_step, c.final_fid, c.recall_at_min, c.final_recall, c.min_fid128) == \
        (100.0, 20, 130.0, 0.6, 0.45, 150.0)
    assert c.rise == pytest.approx(0.3) and c.collapsed          # 130 >= 1.2 × 100 and 0.45 <= 0.8 × 0.6
    assert not em.Curve(100.0, 20, 130.0, 0.6, 0.5, 150.0).collapsed   # recall held up: 0.5 > 0.48
    assert not em.Curve(100.0, 20, 110.0, 0.6, 0.3, 150.0).collapsed   # FID rose by less than 20 %
    with pytest.raises(ValueError, match="track=True"):
        em.curve(em.Run(em.recipe("dcgan32"), "fashion", 0, 30, None, History(), [], 0.0, True))


def _fashion_or_skip():
    try:
        return em.load("fashion", "test")
    except Exception as exc:  # pragma: no cover - Debian package missing
        pytest.skip(f"Fashion-MNIST not available: {exc}")


def test_tracker_scores_real_images_like_real_images(monkeypatch, tmp_path):
    monkeypatch.setenv("GANTUT_RUNS", str(tmp_path))
    _fashion_or_skip()
    t = em.Tracker("fashion", 200)
    real = t.scores(em.test_images("fashion", 200))          # the very images it compares with
    assert real["fid"] < 1e-6 and real["recall"] == 1.0 and real["coverage"] == 1.0 and real["classes"] == 10
    noise = t.scores(torch.rand(200, 1, 32, 32) * 2 - 1)
    assert noise["fid"] > 100 * max(real["fid"], 1.0) and noise["kid"] > 10 * abs(real["kid"]) and noise["recall"] < 0.1
    assert set(real) == set(em.TRACKED)
    floor = em.tracked_floor("fashion", 200, draws=2)
    assert len(floor["fid"]) == 2 and all(v > 0 for v in floor["fid"])
    with pytest.raises(ValueError, match="compares 200"):
        t.scores(torch.zeros(10, 1, 32, 32))
