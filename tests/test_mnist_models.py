"""mnist_models: recipes build the right step; load_or_train trains once, then loads (same weights, no training)."""
import pytest
import torch

from gantut import mnist_models as mm


def test_recipes_build_the_stated_steps():
    s = mm.build("wgan_gp", seed=0, device="cpu")
    assert (s.loss, s.n_critic) == ("wgan", 5) and [(p.key, p.lam) for p in s.penalties] == [("gp", 10.0)]
    assert s.opt_D.param_groups[0]["betas"] == (0.5, 0.9) and s.opt_D.param_groups[0]["lr"] == 1e-4
    w = mm.build("wgan", seed=0, device="cpu")
    assert w.clip == 0.01 and isinstance(w.opt_D, torch.optim.RMSprop)
    r = mm.build("r1", seed=0, device="cpu", r1_gamma=3.0, r1_every=4)
    assert [(p.key, p.gamma, p.every) for p in r.penalties] == [("r1", 3.0, 4)]
    with pytest.raises(ValueError, match="unknown MNIST recipe"):
        mm.build("nope")
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        mm.build("vanilla", gp_lamda=1.0)


def test_load_or_train_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("GANTUT_RUNS", str(tmp_path))
    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    a = mm.load_or_train("vanilla", 3, seed=1, batch_size=16, device="cpu", progress=False)
    assert not a.loaded and a.path.exists() and len(a.history["loss_D"]) == 3 and a.seconds > 0
    b = mm.load_or_train("vanilla", 3, seed=1, batch_size=16, device="cpu", progress=False)
    assert b.loaded and b.path == a.path and b.seconds == a.seconds
    assert all(torch.equal(p, q) for p, q in zip(a.G.parameters(), b.G.parameters()))
    c = mm.load_or_train("vanilla", 3, seed=2, batch_size=16, device="cpu", progress=False)
    assert c.path != a.path  # another seed, another checkpoint
