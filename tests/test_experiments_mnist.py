"""gantut.experiments_mnist: recipes as data, one load-or-train keyed by the whole recipe, the evaluation, DRS."""
import dataclasses

import pytest
import torch

from gantut import drs, mdgan, nets
from gantut import experiments_mnist as em
from gantut.unrolled import UnrolledStep


@pytest.fixture(autouse=True)
def _offline_runs(monkeypatch, tmp_path):
    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    monkeypatch.setenv("GANTUT_RUNS", str(tmp_path / "runs"))


def test_recipes_build_the_stated_steps():
    s = em.build("wgan_gp", seed=0, device="cpu")
    assert (s.loss, s.n_critic) == ("wgan", 5) and [(p.key, p.lam) for p in s.penalties] == [("gp", 10.0)]
    assert s.opt_D.param_groups[0]["betas"] == (0.5, 0.9) and s.opt_D.param_groups[0]["lr"] == 1e-4
    w = em.build("wgan", seed=0, device="cpu")
    assert w.clip == 0.01 and isinstance(w.opt_D, torch.optim.RMSprop)
    r = em.build(em.recipe("r1", r1_gamma=3.0, r1_every=4), seed=0, device="cpu")
    assert [(p.key, p.gamma, p.every) for p in r.penalties] == [("r1", 3.0, 4)]
    v = em.build("vanilla", seed=0, device="cpu")
    assert any(isinstance(m, torch.nn.Dropout) and m.p == 0.3 for m in v.D.modules())
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in em.build("bn", device="cpu").G.modules())
    md = em.build("mdgan_bounded", device="cpu")
    assert isinstance(md, mdgan.MDGANStep) and md.g_loss_kind == "saturating" and md.mixture.d == 9
    assert isinstance(md.D[-1], mdgan.ScaledSigmoid) and (md.D[-1].a, md.D[-1].b) == (5.0, -2.5)
    u = em.build("unrolled_k5", device="cpu")
    assert isinstance(u, UnrolledStep) and (u.K, u.order) == (5, "first")
    assert (u.opt_G.param_groups[0]["lr"], u.opt_D.param_groups[0]["lr"]) == (1e-3, 1e-4)
    dc = em.build("unrolled_dcgan_k5", device="cpu")
    assert isinstance(dc.G, nets.DCGANGenerator) and dc.G(torch.zeros(2, em.Z_DIM)).shape == (2, 1, 28, 28)


def test_every_recipe_builds_and_takes_a_step():
    for name in em.RECIPES:
        step = em.build(name, seed=0, device="cpu")
        size = em.RECIPES[name].img_size
        out = step(torch.rand(step.real_batch(4), 1, size, size) * 2 - 1)
        assert torch.isfinite(out["loss_D"]) and torch.isfinite(out["loss_G"]), name


def test_the_same_seed_builds_the_same_weights():
    a, b = em.build("bn", seed=3, device="cpu"), em.build("bn", seed=3, device="cpu")
    assert all(torch.equal(p, q) for p, q in zip(a.G.parameters(), b.G.parameters()))


def test_a_recipes_key_changes_when_any_field_changes():
    base = em.RECIPES["wgan_gp"]
    changed = {"name": "x", "step": "unrolled", "loss": "hinge", "nets": "dcgan", "batchnorm": True, "dropout": 0.1,
               "base": 16, "D_out": 9, "D_head": (1.0, 0.0), "opt": "rmsprop", "lr_G": 1e-3, "lr_D": 1e-3,
               "betas": (0.0, 0.99), "n_critic": 2, "clip": 0.1, "gp_lambda": 1.0, "r1_gamma": 1.0, "r1_every": 4,
               "g_loss": "nonsaturating", "K": 1, "order": "second", "g_objective": "surrogate", "decay": True,
               "batch_size": 32}
    # the 32 px image fields, changed on a DCGAN recipe (the course MLP is 28 px only)
    image = {"img_size": 32, "G_bn": False, "D_bn": False, "sn_G": True, "sn_D": True, "attn": 8, "D_sigmoid": True,
             "ema": 0.99, "ema_start": 10}
    alpha = {"alpha_max": 0.9, "alpha_kind": "smoothstep", "alpha_start": 0.5, "alpha_length": 0.2}  # chapter 09's
    grow = {"pairing": "redrawn", "fade": 0.0, "pretrain_lr": 2e-4}  # chapter 10's (its budgets enter the run's key)
    lfm = {"subset": 512, "subset_kind": "stratified", "lfm": "cooperative", "lfm_T": 1.0, "lfm_pairs": "antipodal",
           "lfm_head": False, "lam_D": 0.1, "lam_G": 0.1}  # chapter 11's
    dls = {"dls": "ema", "lam_enc": 0.5, "dls_window": 64, "dls_beta": 0.99}  # chapter 12's
    fields = {f.name for f in dataclasses.fields(em.Recipe)}
    budgets = {"chapter", "steps", "gpu_steps", "pretrain_steps", "pretrain_gpu_steps"}
    assert set(changed) | set(image) | set(alpha) | set(grow) | set(lfm) | set(dls) == fields - budgets  # every weight-changing field
    for field, value in changed.items():
        assert em.recipe(base, **{field: value}).key() != base.key(), field
    dc = em.RECIPES["dcgan32"]
    for field, value in image.items():
        if field == "img_size":
            dc = em.recipe(dc, img_size=28)
            value = 32
        assert em.recipe(dc, **{field: value}).key() != dc.key(), field
    ls = em.recipe("lsgan32_alpha5_linear")
    for field, value in alpha.items():
        assert em.recipe(ls, **{field: value}).key() != ls.key(), field
    pre = em.recipe("lsgan_grow32_pre")
    for field, value in grow.items():
        assert em.recipe(pre, **{field: value}).key() != pre.key(), field
    for name, group in (("dcgan32_lfm", lfm), ("dcgan32_dls", dls)):
        r = em.recipe(name)
        for field, value in group.items():
            assert em.recipe(r, **{field: value}).key() != r.key(), field
    # where it is taught and the profile budgets do not change the weights of a run with given steps
    assert em.recipe(base, steps=1, gpu_steps=2).key() == base.key()
    assert dataclasses.replace(base, chapter="99").key() == base.key()


def test_unknown_recipes_and_fields_name_the_choices():
    with pytest.raises(ValueError, match="unknown MNIST recipe 'nope'"):
        em.build("nope")
    with pytest.raises(ValueError, match="unknown hyperparameters \\['gp_lamda'\\]"):
        em.recipe("vanilla", gp_lamda=1.0)
    with pytest.raises(ValueError, match="step must be one of"):
        em.recipe("vanilla", step="wgan")


def test_train_logs_fid_and_grids_loads_them_back_and_keys_by_recipe():
    kw = dict(seed=0, eval_every=2, n_eval=150, n_snap=9, device="cpu", progress=False)
    small = em.recipe("vanilla", batch_size=16)
    run = em.train(small, 4, **kw)
    assert not run.loaded and run.seconds > 0 and run.name == "vanilla" and run.steps == 4
    assert [s for s, _ in run.snaps] == [0, 2, 4] and run.snaps[0][1].shape == (9, 1, 28, 28)
    steps, fids = run.history.series("fid")
    assert steps == [0, 2, 4] and all(f > 0 for f in fids)
    assert len(run.history["loss_D"]) == 4 and run.history.steps_trained == 4
    again = em.train(small, 4, **kw)
    assert again.loaded and again.seconds == run.seconds and again.history["fid"] == fids
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(run.snaps, again.snaps))
    assert all(torch.equal(p, q) for p, q in zip(again.G.parameters(), run.G.parameters()))
    other = em.train(em.recipe(small, lr_G=1e-3), 4, **kw)  # one field changed: trained, not loaded
    assert not other.loaded
    assert not any(torch.equal(p, q) for p, q in zip(other.G.parameters(), run.G.parameters()))


def test_train_uses_the_recipes_budget_in_this_profile(monkeypatch):
    monkeypatch.setenv("GANTUT_PROFILE", "smoke")
    r = em.recipe("vanilla", batch_size=8, steps=1234)
    assert r.budget() == 8
    monkeypatch.setenv("GANTUT_PROFILE", "cpu")
    assert r.budget() == 1234


def test_decay_recipe_checkpoints_its_best_state():
    run = em.train(em.recipe("wgan_gp_decay", batch_size=8), 8, seed=1, eval_every=4, n_eval=150, device="cpu",
                   progress=False)
    h = run.history  # FID on training images every steps // 8 = 1 step; at 3/4 (step 6) back to the best, rates halved
    assert h.series("fid_train")[0] == [1, 2, 3, 4, 5, 6, 7, 8]
    best = min(range(6), key=lambda i: h["fid_train"][i]) + 1
    assert h.series("lr_decay_from") == ([6], [float(best)]) and h.series("lr_G") == ([6], [5e-05])


def test_real_floor_beats_noise_and_carries_its_setup():
    floor = em.real_floor("mnist", n=200)
    assert floor.fid.n_real == floor.fid.n_fake == 200 and floor.fid.features == "classifier:mnist"
    assert floor.prdc.k_pr == 3 and floor.prdc.k_dc == 5
    assert floor.classes.classes_covered == 10 and floor.recognisable.rate > 0.9
    G = nets.MLPGenerator([8, 784], out_shape=(1, 28, 28), out_act="tanh")  # untrained: noise images
    noise = em.evaluate(G, "mnist", n=200, z_dim=8)
    assert noise.fid.value > 10 * floor.fid.value and noise.recognisable.rate < 0.5
    assert floor.prdc.recall > noise.prdc.recall and floor.prdc.coverage > noise.prdc.coverage
    md = em.table({"real": [floor, floor], "noise": [noise]})
    assert "| real | 2 |" in md and "± 0.000" in md and "N = 200 generated vs 200 test images" in md
    assert "recognisable %" in md and ">= 0.9" in md


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match="mnist"):
        em.load("cifar", "train")
    with pytest.raises(ValueError, match="test images"):
        em.real_floor("mnist", n=5000)


@pytest.mark.parametrize("name, head", [("vanilla", None), ("wgan_gp", "affine")])
def test_drs_sample_fits_the_head_the_loss_needs(name, head):
    run = em.train(em.recipe(name, batch_size=8), 2, seed=0, eval_every=2, n_eval=150, device="cpu",
                   progress=False)
    d = em.drs_sample(run, 50, 3, burn_in=200)
    assert d.head == head and d.calib_steps == 3 and len(d.calibration) == 3
    assert d.result.accepted.shape == (50, 1, 28, 28) and 0 < d.result.acceptance_rate <= 1
    assert isinstance(d.logit, drs.CalibratedLogit)


def test_reference_rows_order_what_a_reader_expects():
    rows = em.reference_rows("mnist", n=200)
    assert list(rows) == ["real (floor)", "real + noise σ 0.5", "real, blurred", "one class only", "untrained G"]
    fid = {k: e.fid.value for k, e in rows.items()}
    assert fid["real (floor)"] < fid["real + noise σ 0.5"] < fid["one class only"] < fid["untrained G"]
    assert fid["real (floor)"] < fid["real, blurred"]
    one = rows["one class only"]
    assert one.classes.classes_covered == 1 and one.recognisable.rate > 0.9 and one.recognisable.min_class_share == 0
    assert rows["untrained G"].recognisable.rate < 0.05 and all(e.fid.n_fake == 200 for e in rows.values())
