"""BestCheckpointDecay on a toy problem: it keeps the best state, reloads it, halves the rates, logs it,
and survives a resume through fit's checkpoint."""
import pytest
import torch
from torch import nn

from gantut import fit
from gantut.callbacks import BestCheckpointDecay, metric_every


class Toy:
    """Two 'models' with one parameter each; the step moves them by +1 per step via SGD on −w."""

    def __init__(self, lr=1.0):
        self.G, self.D = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
        for m in (self.G, self.D):
            nn.init.zeros_(m.weight)
        self.opt_G = torch.optim.SGD(self.G.parameters(), lr=lr)
        self.opt_D = torch.optim.SGD(self.D.parameters(), lr=lr)

    @property
    def state(self):
        return {"G": self.G, "D": self.D, "opt_G": self.opt_G, "opt_D": self.opt_D}

    def __call__(self, batch):
        for m, o in ((self.G, self.opt_G), (self.D, self.opt_D)):
            o.zero_grad()
            (-m.weight.sum()).backward()  # gradient −1: w += lr
            o.step()
        return {"w": self.G.weight.item()}


def metric_with_best_at_4(loop):
    w = loop.state["G"].weight.item()
    return abs(w - 4.0)  # the metric is best (0) when w = 4


def test_decay_at_step_reloads_the_best_and_halves_both_rates():
    toy = Toy()
    cb = BestCheckpointDecay(2, metric_with_best_at_4, key="dist", at_step=6)
    h = fit(toy, None, 10, state=toy.state, callbacks=[cb], progress=False)
    # evaluations at 2, 4, 6: w = 2, 4, 6 -> best at step 4 (w = 4); at step 6 it goes back to w = 4,
    # the rate becomes 0.5, and steps 7..10 add 4 × 0.5: w = 5 at step 8, 6 at step 10
    assert h.series("dist") == ([2, 4, 6, 8, 10], [2.0, 0.0, 2.0, 1.0, 2.0])
    assert h.series("lr_decay_from") == ([6], [4.0])
    assert h["lr_G"] == [0.5] and h["lr_D"] == [0.5]
    assert toy.opt_G.param_groups[0]["lr"] == 0.5 and toy.opt_D.param_groups[0]["lr"] == 0.5
    assert toy.G.weight.item() == pytest.approx(6.0) and toy.D.weight.item() == pytest.approx(6.0)
    assert len(cb.decays) == 1  # max_decays=1: no second decay at step 8 or 10


def test_plateau_trigger_and_optimizer_state_restored():
    toy = Toy()
    toy.opt_G = torch.optim.SGD(toy.G.parameters(), lr=1.0, momentum=0.9)
    cb = BestCheckpointDecay(1, metric_with_best_at_4, key="dist", patience=2)
    h = fit(toy, None, 7, state=toy.state, callbacks=[cb], progress=False)
    assert "lr_decay_from" in h
    step_of_decay = h.series("lr_decay_from")[0][0]
    assert h["lr_decay_from"][0] == 2.0 or h["lr_decay_from"][0] < step_of_decay
    buf = toy.opt_G.state[toy.G.weight].get("momentum_buffer")
    assert buf is not None  # the optimiser state came back with the model


def test_needs_a_trigger():
    with pytest.raises(ValueError, match="at_step"):
        BestCheckpointDecay(1, metric_with_best_at_4)


def test_resume_keeps_the_best_state(tmp_path):
    ckpt = tmp_path / "toy.pt"
    toy = Toy()
    cb = BestCheckpointDecay(2, metric_with_best_at_4, key="dist", at_step=6)
    fit(toy, None, 5, state={**toy.state, "decay": cb}, callbacks=[cb], checkpoint=ckpt, progress=False)
    toy2 = Toy()
    cb2 = BestCheckpointDecay(2, metric_with_best_at_4, key="dist", at_step=6)
    h = fit(toy2, None, 10, state={**toy2.state, "decay": cb2}, callbacks=[cb2], checkpoint=ckpt, progress=False)
    assert cb2.best_step == 4 and h.series("lr_decay_from") == ([6], [4.0])
    assert toy2.G.weight.item() == pytest.approx(6.0)


def test_metric_every_logs_its_key():
    toy = Toy()
    h = fit(toy, None, 4, state=toy.state, callbacks=[metric_every(2, lambda loop: loop.step * 10, "m")],
            progress=False)
    assert h.series("m") == ([2, 4], [20.0, 40.0])


def test_lr_halvings_halve_every_rate_after_the_given_fractions():
    import pytest
    import torch
    from gantut.callbacks import lr_halvings
    from gantut.train import fit

    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=1.0)
    h = fit(lambda b: {"lr": opt.param_groups[0]["lr"]}, None, 8, state={"opt": opt},
            callbacks=[lr_halvings({"opt": opt}, 8, at=(0.25, 0.5))], log_every=1, progress=False)
    # the rate each step used: halved after step 2 (= 0.25 · 8) and after step 4 (= 0.5 · 8)
    assert h["lr"] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25]
    with pytest.raises(ValueError, match="fractions"):
        lr_halvings({"opt": opt}, 8, at=(1.0,))
