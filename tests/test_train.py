"""fit: history, callbacks, checkpoints, exact resume, NaN guard."""
import math

import pytest
import torch
from torch import nn

import gantut
from gantut.train import History, NonFiniteLossError, StopTraining, every, fit, run_path


class Batches:
    """A minimal batch source following the protocol (next, state_dict, load_state_dict)."""

    def __init__(self, x, batch_size, seed):
        self.x, self.batch_size = x, batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def next(self):
        idx = torch.randint(len(self.x), (self.batch_size,), generator=self.generator)
        return self.x[idx]

    def state_dict(self):
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state):
        self.generator.set_state(state["generator"])


def make_run(seed=0):
    """A tiny regression 'technique': one linear model, noise from the global RNG in every step."""
    torch.manual_seed(seed)
    model = nn.Linear(3, 1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    data = Batches(torch.randn(64, 3, generator=torch.Generator().manual_seed(1)), 8, seed=2)

    def step(x):
        noise = 0.1 * torch.randn(len(x), 1)  # uses the global torch RNG: resume must restore it
        loss = ((model(x) - x.sum(1, keepdim=True) - noise) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss, "lr": opt.param_groups[0]["lr"]}

    return model, opt, data, step


def test_history_records_every_step():
    model, opt, data, step = make_run()
    hist = fit(step, data, 30, state={"model": model, "opt": opt}, log_every=7)
    steps, values = hist.series("loss")
    assert steps == list(range(1, 31))
    assert len(values) == 30 and all(math.isfinite(v) for v in values)
    assert hist["lr"] == [1e-2] * 30
    assert values[-1] < values[0]  # it learns


def test_resume_gives_the_same_history_and_weights(tmp_path):
    model, opt, data, step = make_run()
    full = fit(step, data, 40, state={"model": model, "opt": opt})
    w_full = model.weight.detach().clone()

    ckpt = tmp_path / "run.pt"
    model, opt, data, step = make_run()
    fit(step, data, 20, state={"model": model, "opt": opt}, checkpoint=ckpt)
    torch.manual_seed(12345)  # disturb the global RNG: resume must restore it
    model, opt, data, step = make_run(seed=99)  # fresh objects, other init: all must come from the checkpoint
    resumed = fit(step, data, 40, state={"model": model, "opt": opt}, checkpoint=ckpt)
    assert resumed == full
    assert torch.equal(model.weight, w_full)


def test_periodic_checkpoint_then_interrupt_resumes_exactly(tmp_path):
    model, opt, data, step = make_run()
    full = fit(step, data, 30, state={"model": model, "opt": opt})

    ckpt = tmp_path / "run.pt"
    model, opt, data, step = make_run()

    def crash(loop):
        if loop.step == 25:
            raise KeyboardInterrupt  # the user pressed stop after the checkpoint at step 20

    with pytest.raises(KeyboardInterrupt):
        fit(step, data, 30, state={"model": model, "opt": opt}, checkpoint=ckpt, checkpoint_every=10,
            callbacks=[every(1, crash)])
    assert torch.load(ckpt, weights_only=True)["step"] == 20
    model, opt, data, step = make_run(seed=5)
    assert fit(step, data, 30, state={"model": model, "opt": opt}, checkpoint=ckpt) == full


def test_finished_checkpoint_is_load_or_train(tmp_path):
    ckpt = tmp_path / "run.pt"
    model, opt, data, step = make_run()
    first = fit(step, data, 10, state={"model": model, "opt": opt}, checkpoint=ckpt)
    calls = []
    model2, opt2, data2, _ = make_run(seed=7)
    again = fit(lambda b: calls.append(1), data2, 10, state={"model": model2, "opt": opt2}, checkpoint=ckpt)
    assert calls == [] and again == first
    assert torch.equal(model2.weight, model.weight)
    with pytest.raises(ValueError, match="already trained 10 steps"):
        fit(step, data, 5, state={"model": model, "opt": opt}, checkpoint=ckpt)


def test_checkpoint_for_another_setup_is_refused(tmp_path):
    ckpt = tmp_path / "run.pt"
    model, opt, data, step = make_run()
    fit(step, data, 3, state={"model": model}, checkpoint=ckpt)
    with pytest.raises(RuntimeError, match=r"no state for \['opt'\]"):
        fit(step, data, 6, state={"model": model, "opt": opt}, checkpoint=ckpt)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="delete it"):
        fit(step, data, 6, state={"model": model}, checkpoint=tmp_path / "junk.pt")


def test_checkpoint_write_is_atomic(tmp_path):
    model, opt, data, step = make_run()
    fit(step, data, 5, state={"model": model, "opt": opt}, checkpoint=tmp_path / "a.pt", checkpoint_every=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt"]  # no temporary files left behind


def test_nan_guard_names_the_loss_and_the_step():
    def step(_):
        step.i += 1
        return {"loss_G": 1.0, "loss_D": float("nan") if step.i == 7 else 0.5}

    step.i = 0
    with pytest.raises(NonFiniteLossError, match=r"loss_D became nan at step 7 \(last finite value 0.5 at step 6\)"):
        fit(step, None, 20, log_every=5)


def test_callbacks_fire_periodically_and_log_what_they_return():
    seen = []

    def metric(loop):
        seen.append(loop.step)
        return {"metric": loop.step * 10}

    hist = fit(lambda _: {"loss": 0.0}, None, 25, callbacks=[every(10, metric, at_start=True)])
    assert seen == [0, 10, 20, 25]
    assert hist.series("metric") == ([0, 10, 20, 25], [0.0, 100.0, 200.0, 250.0])
    assert len(hist["loss"]) == 25


def test_stop_training_from_a_callback():
    def stopper(loop):
        if loop.history.last("loss") < 0.5:
            raise StopTraining

    losses = iter([1.0, 0.9, 0.4, 0.3, 0.2])
    hist = fit(lambda _: {"loss": next(losses)}, None, 5, callbacks=[every(1, stopper)])
    assert hist["loss"] == [1.0, 0.9, 0.4]


def test_device_moves_batches():
    got = []
    data = iter([torch.zeros(2), torch.ones(2)])
    fit(lambda b: got.append(b.device.type) or {}, data, 2, device="cpu")
    assert got == ["cpu", "cpu"]


def test_history_to_frame_and_repr():
    h = History()
    h.log(1, {"a": 1.0})
    h.log(2, {"a": 2.0, "b": torch.tensor(3.0)})
    frame = h.to_frame()
    assert list(frame["a"]) == [1.0, 2.0] and math.isnan(frame.loc[1, "b"]) and frame.loc[2, "b"] == 3.0
    assert "a: 2 values" in repr(h)
    with pytest.raises(KeyError, match="has \\['a', 'b'\\]"):
        h["c"]


def test_run_path_is_keyed_by_hyperparameters(tmp_path, monkeypatch):
    monkeypatch.setenv("GANTUT_RUNS", str(tmp_path))
    a = run_path("02", "vanilla", lr=2e-4, steps=100)
    assert a == run_path("02", "vanilla", steps=100, lr=2e-4)
    assert a != run_path("02", "vanilla", lr=1e-4, steps=100)
    assert a.parent == tmp_path / "checkpoints" / "02" and a.name.startswith("vanilla-")
    assert gantut.runs_dir() == tmp_path


@pytest.mark.parametrize("content", [b"", b"garbage, not a zip", None])
def test_every_damaged_checkpoint_gives_one_message_naming_the_file_and_fix(tmp_path, content):
    """Truncated, empty or foreign checkpoints: one CheckpointError that names the file and the fix, and never
    torch's advice to load with weights_only=False (that would run arbitrary code from the file)."""
    from gantut.train import CheckpointError, load_checkpoint

    path = tmp_path / "c.pt"
    if content is None:  # a real checkpoint cut short
        torch.save({"step": 1, "w": torch.randn(1000)}, path)
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    msg = str(err.value)
    assert str(path) in msg and "delete it and run again" in msg and "weights_only" not in msg
    # fit reads through the same function
    with pytest.raises(CheckpointError, match="c.pt"):
        fit(lambda b: {}, None, 1, checkpoint=path, progress=False)


def test_a_pickled_object_checkpoint_is_refused_without_suggesting_weights_only_false(tmp_path):
    from gantut.train import CheckpointError, load_checkpoint

    path = tmp_path / "obj.pt"
    torch.save({"obj": torch.nn.Linear(1, 1)}, path)  # a module object, not plain tensors
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert "weights_only" not in str(err.value)
