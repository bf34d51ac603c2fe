"""gantut.experiments_mnist: load-or-train with FID and grids over training, the fixed-budget evaluation."""
import pytest
import torch

from gantut import experiments_mnist as em, nets
from gantut.gan import GANStep


@pytest.fixture(autouse=True)
def _offline_runs(monkeypatch, tmp_path):
    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    monkeypatch.setenv("GANTUT_RUNS", str(tmp_path / "runs"))


def tiny(seed):
    torch.manual_seed(seed)
    G = nets.MLPGenerator([8, 32, 784], out_shape=(1, 28, 28), out_act="tanh")
    D = nets.MLPDiscriminator([784, 32, 1])
    return GANStep(G, D, torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3), z_dim=8)


def test_train_logs_fid_and_grids_and_loads_them_back():
    run = em.train("tiny", tiny, "mnist", seed=0, steps=4, batch_size=16, eval_every=2, n_eval=150, n_snap=9)
    assert not run.loaded and run.seconds > 0
    assert [s for s, _ in run.snaps] == [0, 2, 4] and run.snaps[0][1].shape == (9, 1, 28, 28)
    steps, fids = run.history.series("fid")
    assert steps == [0, 2, 4] and all(f > 0 for f in fids)
    assert len(run.history["loss_D"]) == 4
    again = em.train("tiny", tiny, "mnist", seed=0, steps=4, batch_size=16, eval_every=2, n_eval=150, n_snap=9)
    assert again.loaded and again.seconds == run.seconds
    assert again.history["fid"] == fids
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(run.snaps, again.snaps))
    assert torch.equal(next(again.G.parameters()), next(run.G.parameters()))


def test_real_floor_beats_noise_and_carries_its_setup():
    floor = em.real_floor("mnist", n=200)
    assert floor.fid.n_real == floor.fid.n_fake == 200 and floor.fid.features == "classifier:mnist"
    assert floor.prdc.k_pr == 3 and floor.prdc.k_dc == 5
    assert floor.classes.classes_covered == 10
    G = nets.MLPGenerator([8, 784], out_shape=(1, 28, 28), out_act="tanh")  # untrained: noise images
    noise = em.evaluate(G, "mnist", n=200, z_dim=8)
    assert noise.fid.value > 10 * floor.fid.value
    assert floor.prdc.recall > noise.prdc.recall and floor.prdc.coverage > noise.prdc.coverage
    md = em.table({"real": [floor, floor], "noise": [noise]})
    assert "| real | 2 |" in md and "± 0.000" in md and "N = 200 generated vs 200 test images" in md


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match="mnist"):
        em.load("cifar", "train")
    with pytest.raises(ValueError, match="test images"):
        em.real_floor("mnist", n=5000)
