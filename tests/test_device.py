"""The device contract, proved on a CPU-only machine (issue #13).

Three stand-ins for a GPU, each honest about what it proves:

* **fake CUDA** (``FakeTensorMode``): tensors that say ``device="cuda:0"`` and carry no data. Every op checks
  devices exactly as on a GPU (mixing raises "Expected all tensors to be on the same device"), but nothing
  can read a value (``float()``, ``.item()``, ``.numpy()``). So these tests prove *where* tensors go, never
  *what* they hold; where a function reads values, the read is replaced by a spy that records the device it
  was asked on (it must be the CPU) and returns zeros.
* **meta** patched into ``gantut.device()``: models built "on the GPU" land on a device that is not the
  CPU; a recipe that forgot ``.to(device)`` leaves them on the CPU and fails.
* **a GPU-written checkpoint**: ``torch.serialization.location_tag`` patched to ``"cuda:0"`` while saving
  writes the storage tags a CUDA machine writes; loading it without ``map_location`` fails here exactly as
  it does on a CPU machine ("Attempting to deserialize object on a CUDA device").

What none of them proves: speed, numerical agreement between CPU and GPU kernels (TF32, bf16), CUDA RNG
streams, memory. ``scripts/gpu_check.sh`` (tests marked ``cuda``) is for that, on a machine with a GPU.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.serialization
from torch import nn
from torch._subclasses.fake_tensor import DataDependentOutputException, DynamicOutputShapeException, FakeTensorMode

from gantut import classifier, config, drs, grading, metrics, nets, train
from gantut import experiments_mnist as em
from gantut.data import ImageData, TensorBatches, _to_unit_range
from gantut.train import fit

CUDA = torch.device("cuda", 0)


@pytest.fixture
def fake_cuda():
    """A FakeTensorMode in which ``device="cuda"`` works without a GPU (real CPU tensors may enter it). Tests
    enter it with ``with fake_cuda:``; modules are built outside it (real CPU weights, as a notebook builds
    them) and moved to CUDA inside it."""
    return FakeTensorMode(allow_non_fake_inputs=True)


@pytest.fixture
def numpy_spy(monkeypatch):
    """``Tensor.numpy`` replaced by a spy: records the device of every tensor converted and returns zeros of
    its shape (a FakeTensor has no data to convert). A test asserts every recorded device is the CPU."""
    seen: list[torch.device] = []

    def spy(self, *args, **kwargs):
        seen.append(self.device)
        return np.zeros(tuple(self.shape), dtype=np.float64 if self.is_floating_point() else np.int64)

    monkeypatch.setattr(torch.Tensor, "numpy", spy)
    return seen


# --- metrics ---------------------------------------------------------------------------------------


def test_mode_metrics_moves_gpu_samples_to_the_cpu_before_any_device_mixing(fake_cuda):
    """mode_metrics on CUDA samples: it gets past every op that combines them with the (CPU) mode centres and
    stops only where it reads a value. Had it kept the samples on the GPU, ``cdist`` against the CPU centres
    would raise a device mismatch first. (The values themselves are checked on the CPU in test_metrics.py.)"""
    from gantut.data import ring

    mixture = ring()
    fake_cuda.__enter__()
    x = torch.randn(64, 2, device="cuda")
    assert x.device == CUDA
    # the first value-dependent op (boolean indexing of the HQ samples) comes after cdist against the centres
    with pytest.raises((DataDependentOutputException, DynamicOutputShapeException)):
        metrics.mode_metrics(x, mixture)
    # the control: the same CPU centres against samples left on the GPU do raise a device mismatch
    with pytest.raises(RuntimeError, match="same device"):
        torch.cdist(x.double(), torch.as_tensor(mixture.centers, dtype=torch.float64))
    fake_cuda.__exit__(None, None, None)


def test_mode_gap_distances_of_gpu_samples_come_back_on_the_cpu(fake_cuda):
    from gantut.data import grid

    mixture = grid()
    with fake_cuda:
        d = metrics.nearest_mode_distance(torch.randn(10, 2, device="cuda"), mixture)
    assert d.device.type == "cpu" and d.dtype == torch.float64


def _fake_cuda_classifier_space(mode) -> metrics.ClassifierFeatures:
    """The shipped MNIST classifier's feature space (its real weights), the net then moved to fake CUDA."""
    space = metrics.ClassifierFeatures("mnist", device="cpu")
    with mode:
        space.net.to("cuda")
    space.device = torch.device("cuda")
    return space


def _skip_range_check(monkeypatch):
    """``_as_images`` checks images lie in [-1, 1] with ``float(x.min())``: a value read, impossible on a
    FakeTensor (and device-neutral: on a GPU it is a sync). The tests below skip that check only."""
    monkeypatch.setattr(metrics, "_as_images", lambda x: (x if isinstance(x, torch.Tensor) else torch.as_tensor(x)).float())


@pytest.mark.parametrize("where", ["cpu", "cuda"])
def test_feature_space_runs_its_net_on_its_device_and_converts_on_the_cpu(fake_cuda, numpy_spy, monkeypatch, where):
    """FeatureSpace.features with the net on CUDA: each batch (generated on the CPU, or already on the GPU) is
    moved to the net's device (else the conv raises a device mismatch), and every feature batch is copied to
    the CPU before NumPy reads it (the spy records the device). Shapes and the number of batches come back."""
    _skip_range_check(monkeypatch)
    space = _fake_cuda_classifier_space(fake_cuda)
    assert next(space.net.parameters()).device == CUDA
    with fake_cuda:
        x = torch.zeros(1200, 1, 28, 28, device=where)
        feats = space.features(x, batch_size=500)
        assert feats.shape == (1200, 128)
        assert numpy_spy and all(d.type == "cpu" for d in numpy_spy), numpy_spy
        numpy_spy.clear()
        assert space.probs(x).shape == (1200, 10)
    assert numpy_spy and all(d.type == "cpu" for d in numpy_spy), numpy_spy


def test_generic_feature_space_subclass_gets_batches_on_its_device(fake_cuda, numpy_spy, monkeypatch):
    """The base class's contract: ``_forward`` receives batches already on ``self.device``."""
    _skip_range_check(monkeypatch)
    seen = []

    class Probe(metrics.FeatureSpace):
        name, dim, batch_size = "probe", 3, 4

        def _forward(self, x):
            seen.append(x.device)
            return x.flatten(1)[:, :3]

    with fake_cuda:
        assert Probe(device="cuda").features(torch.zeros(10, 1, 2, 2)).shape == (10, 3)
    assert seen == [CUDA] * 3 and all(d.type == "cpu" for d in numpy_spy)


def test_recognisability_and_class_coverage_with_a_gpu_classifier(fake_cuda, numpy_spy, monkeypatch):
    """recognisability / class_coverage through a classifier on CUDA and images on CUDA: the probabilities
    come to the CPU before NumPy reads them. The numbers are the spy's zeros, not real scores."""
    _skip_range_check(monkeypatch)
    space = _fake_cuda_classifier_space(fake_cuda)
    monkeypatch.setattr(metrics, "feature_space", lambda name, device=None: space)
    # class_coverage's statistics after the copy run in torch on the NumPy result; inside the fake mode torch would
    # make those fake too, so they are stubbed here, checking that what they get is host data (np.ndarray)
    got = []
    monkeypatch.setattr(metrics, "_kl_to_uniform", lambda h: got.append(type(h)) or 0.0)
    monkeypatch.setattr(metrics, "inception_score", lambda p: got.append(type(p)) or 1.0)
    with fake_cuda:
        x = torch.zeros(50, 1, 28, 28, device="cuda")
        r = metrics.recognisability(x, "mnist")
        c = metrics.class_coverage(x, "mnist")
    assert got == [np.ndarray, np.ndarray]
    assert r.n == 50 and c.n == 50
    assert numpy_spy and all(d.type == "cpu" for d in numpy_spy), numpy_spy


@pytest.mark.parametrize("fn", [
    lambda t: metrics.frechet_distance(t.mean(0), torch.eye(3, dtype=t.dtype, device=t.device), t.mean(0),
                                       torch.eye(3, dtype=t.dtype, device=t.device)),
    lambda t: metrics.Stats.from_features(t, "x").n,
    lambda t: metrics.prdc_metrics(t, t + 1).precision,
    lambda t: metrics.inception_score(torch.softmax(t, 1)),
    lambda t: metrics.recognisability_from_probs(torch.softmax(t, 1)).n,
], ids=["frechet_distance", "Stats.from_features", "prdc_metrics", "inception_score", "recognisability_from_probs"])
def test_numpy_metrics_take_tensors_from_any_device(monkeypatch, fn):
    """The NumPy metrics accept tensors (with grad, in bf16, on a GPU): they detach and copy to the CPU first
    (``np.asarray`` of a CUDA tensor is a TypeError). Shown with real values on the CPU, and with a spy on
    ``Tensor.cpu`` that proves the copy is asked for before NumPy reads the tensor."""
    t = torch.randn(20, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64).requires_grad_(True)
    calls = []
    real_cpu = torch.Tensor.cpu
    monkeypatch.setattr(torch.Tensor, "cpu", lambda self, *a, **k: calls.append(self.device) or real_cpu(self, *a, **k))
    assert np.isfinite(float(fn(t)))
    assert calls, "the tensor was never copied to the CPU explicitly"
    assert np.isfinite(float(fn(t.detach().bfloat16().double())))


# --- DRS calibration heads ---------------------------------------------------------------------------


@pytest.mark.parametrize("head", ["affine", "features"])
@pytest.mark.parametrize("make_D", [lambda: nets.dcgan_D(28, 1, 16), lambda: nets.course_D()], ids=["dcgan", "mlp"])
def test_calibration_heads_live_on_the_discriminators_device(head, make_D):
    """CalibratedLogit(D on another device; meta stands in for the GPU): the features probe runs on D's device
    (it used to feed CPU zeros into a GPU D: "not on the expected device" here), the head is created there, and
    the logit of images on that device stays there. (A FakeTensor head cannot be moved by nn.Module.to, so this
    test uses meta, whose device checks are as strict for conv and linear layers.)"""
    D = make_D().to("meta")
    logit = drs.CalibratedLogit(D, head=head)
    assert {p.device.type for p in logit.parameters()} == {"meta"}
    assert logit(torch.zeros(5, 1, 28, 28, device="meta")).shape == (5,)


def test_drs_gathers_logits_on_the_cpu(fake_cuda):
    """DRS copies each batch's logits to the CPU (blocking) before comparing them with D_M (fake CUDA)."""
    with fake_cuda:
        out = drs._logits(lambda x: x.flatten(1).sum(1), torch.zeros(7, 1, 28, 28, device="cuda"), batch_size=3)
    assert out.device.type == "cpu" and out.dtype == torch.float64 and out.shape == (7,)


def test_features_probe_leaves_batchnorm_statistics_alone():
    """The probe that measures the feature width runs in eval mode: D's BatchNorm running statistics and its
    train/eval mode are as before (real values, CPU)."""
    D = nets.dcgan_D(28, 1, 16).train()
    before = {k: v.clone() for k, v in D.state_dict().items()}
    drs.CalibratedLogit(D, head="features")
    assert D.training
    assert all(torch.equal(before[k], v) for k, v in D.state_dict().items())


# --- models land on gantut.device() -------------------------------------------------------------------


@pytest.fixture
def meta_device(monkeypatch):
    monkeypatch.setattr(config, "device", lambda prefer=None: torch.device("meta"))
    return torch.device("meta")


@pytest.mark.parametrize("name", sorted(em.RECIPES))
def test_every_mnist_recipe_builds_on_gantut_device(meta_device, name):
    """experiments_mnist.build(name) with no device: G, D (and every module of the step's state) land on
    gantut.device() (here meta). A recipe building on the CPU fails this test."""
    step = em.build(name)
    for key, obj in step.state.items():
        if isinstance(obj, nn.Module):
            assert {p.device.type for p in obj.parameters()} == {"meta"}, key


class _Stop(Exception):
    pass


def test_mnist_train_puts_models_and_data_on_gantut_device(meta_device, monkeypatch):
    """experiments_mnist.train with no device: what reaches fit (the models, the batch source's tensor) is on
    gantut.device(). fit is stopped before training (meta tensors have no values to train)."""
    seen = {}

    def spy_fit(step, batches, steps, *, state, **kw):
        seen["state"] = {k: next(v.parameters()).device.type for k, v in state.items() if isinstance(v, nn.Module)}
        seen["data"] = batches.x.device.type
        raise _Stop

    monkeypatch.setattr(em, "fit", spy_fit)
    monkeypatch.setattr(em.metrics, "reference_stats", lambda *a, **k: None)
    with pytest.raises(_Stop):
        em.train("vanilla", 2, checkpoint=False, progress=False)
    assert seen["data"] == "meta" and set(seen["state"].values()) == {"meta"}, seen


# --- a checkpoint written on a GPU loads on the CPU ----------------------------------------------------


@pytest.fixture
def written_on_gpu(monkeypatch):
    """A context in which torch.save tags every storage ``cuda:0``, as a CUDA machine does."""
    import contextlib

    @contextlib.contextmanager
    def ctx():
        with monkeypatch.context() as m:
            m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
            yield
    return ctx


def _assert_simulation_is_faithful(path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: a cuda:0-tagged file loads without map_location here")
    with pytest.raises(RuntimeError, match="deserialize object on a CUDA device"):
        torch.load(path, weights_only=True)


def test_gpu_written_checkpoint_loads_through_load_checkpoint(tmp_path, written_on_gpu):
    path = tmp_path / "gpu.pt"
    with written_on_gpu():
        train.save_checkpoint(path, {"w": torch.ones(3), "nested": {"b": torch.zeros(2)}})
    _assert_simulation_is_faithful(path)
    ckpt = train.load_checkpoint(path)
    assert ckpt["w"].device.type == "cpu" and torch.equal(ckpt["nested"]["b"], torch.zeros(2))


def test_gpu_written_training_run_resumes_on_the_cpu(tmp_path, written_on_gpu):
    """A fit checkpoint (models, optimiser state, RNG, batch source) written "on a GPU" resumes on the CPU."""
    def make():
        torch.manual_seed(0)
        net = nn.Linear(2, 1)
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)

        def step(batch):
            loss = net(batch).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return {"loss": loss}
        return net, opt, step

    path = tmp_path / "run.pt"
    net, opt, step = make()
    data = TensorBatches(torch.randn(32, 2, generator=torch.Generator().manual_seed(1)), 8,
                         generator=torch.Generator().manual_seed(2))
    with written_on_gpu():
        fit(step, data, 3, state={"net": net, "opt": opt}, checkpoint=path, progress=False)
    _assert_simulation_is_faithful(path)
    net2, opt2, step2 = make()
    data2 = TensorBatches(data.x.clone(), 8, generator=torch.Generator().manual_seed(2))
    res = fit(step2, data2, 5, state={"net": net2, "opt": opt2}, checkpoint=path, progress=False)
    assert res.start_step == 3 and res.steps_trained == 2


def test_gpu_written_classifier_loads_on_the_cpu(tmp_path, written_on_gpu):
    model = classifier.SmallCNN().eval()
    model.meta = {"dataset": "mnist", "test_accuracy": 0.0}
    path = tmp_path / "mnist_cnn.pt"
    with written_on_gpu():
        classifier.save_classifier(model, path)
    _assert_simulation_is_faithful(path)
    loaded = classifier.load_classifier("mnist", path=path, device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


def test_every_torch_load_in_the_package_passes_map_location():
    """A lint: a raw torch.load without map_location fails on a CPU machine with a GPU-written file."""
    import pathlib
    import re

    root = pathlib.Path(train.__file__).parent
    roots = [root, root.parent / "scripts", root.parent / "benchmarks"]
    bad = []
    for folder in roots:
        for file in folder.rglob("*.py"):
            for n, line in enumerate(file.read_text().splitlines(), 1):
                if re.search(r"\btorch\.(jit\.)?load\(", line) and "map_location" not in line \
                        and not line.lstrip().startswith(("#", '"""')) and "``" not in line:
                    bad.append(f"{file.relative_to(root.parent)}:{n}: {line.strip()}")
    assert not bad, "torch.load without map_location:\n" + "\n".join(bad)


# --- fit never copies device -> host without blocking ------------------------------------------------


@pytest.fixture
def to_spy(monkeypatch):
    """``Tensor.to`` recording (source device, target device, non_blocking); meta -> CPU copies (impossible:
    no data) return zeros."""
    calls = []
    real_to = torch.Tensor.to

    def spy(self, *args, **kwargs):
        target = next((torch.device(a) for a in args if isinstance(a, (str, torch.device))), kwargs.get("device"))
        nb = kwargs.get("non_blocking", False)
        calls.append((self.device.type, torch.device(target).type if target is not None else None, nb))
        if self.device.type == "meta" and target is not None and torch.device(target).type == "cpu":
            return torch.zeros(self.shape, dtype=self.dtype)
        return real_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", spy)
    return calls


def test_fit_copies_device_to_host_blocking(to_spy):
    """Data on an accelerator (meta here), training on the CPU: fit's batch copy to the host is blocking."""
    got = []
    data = iter([torch.zeros(4, 2, device="meta")] * 3)
    fit(lambda b: got.append(b.device.type) or {}, data, 3, device="cpu", progress=False)
    assert got == ["cpu"] * 3
    copies = [c for c in to_spy if c[0] == "meta" and c[1] == "cpu"]
    assert copies and not any(nb for *_, nb in copies), to_spy


def test_fit_copies_host_to_device_non_blocking(to_spy):
    """Data on the CPU, a model on the accelerator (meta): fit's host -> device copy may be non-blocking (safe:
    the device's stream orders it before the step's kernels)."""
    net = nn.Linear(2, 1).to("meta")
    data = iter([torch.zeros(4, 2)] * 2)
    to_spy.clear()  # only fit's copies
    fit(lambda b: {}, data, 2, state={"net": net}, progress=False)
    copies = [c for c in to_spy if c[0] == "cpu" and c[1] == "meta"]
    assert len(copies) == 2 and all(nb for *_, nb in copies), to_spy
    assert not [c for c in to_spy if c[1] == "cpu" and c[0] != "cpu" and c[2]]


# --- uint8 images on the device -------------------------------------------------------------------------


def test_uint8_batches_are_bit_for_bit_the_float_batches():
    pixels = torch.randint(0, 256, (40, 1, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    images = _to_unit_range(pixels.clone())
    a = TensorBatches(images, 8, generator=torch.Generator().manual_seed(3))
    b = TensorBatches(images, 8, generator=torch.Generator().manual_seed(3), uint8=True)
    c = TensorBatches(pixels, 8, generator=torch.Generator().manual_seed(3), uint8=True)
    assert b.x.dtype == torch.uint8 and c.x.dtype == torch.uint8 and torch.equal(b.x, pixels)
    for _ in range(7):  # past an epoch boundary
        x, y, z = a.next(), b.next(), c.next()
        assert y.dtype == torch.float32 and torch.equal(x, y) and torch.equal(x, z)
    # resuming a uint8 source from a state works like the float one
    state = b.state_dict()
    b2 = TensorBatches(images, 8, generator=torch.Generator().manual_seed(99), uint8=True)
    b2.load_state_dict(state)
    assert torch.equal(b.next(), b2.next())


def test_uint8_batches_stay_uint8_on_the_device_and_convert_per_batch():
    pixels = torch.randint(0, 256, (16, 3, 4, 4), dtype=torch.uint8)
    data = ImageData(_to_unit_range(pixels.clone()), None, "x", "all", "test")
    src = data.batches(4, device="meta", uint8=True)
    assert src.x.device.type == "meta" and src.x.dtype == torch.uint8
    batch = src.next()
    assert batch.device.type == "meta" and batch.dtype == torch.float32 and batch.shape == (4, 3, 4, 4)
    assert "uint8" in repr(src)


def test_uint8_refuses_images_that_are_not_8_bit_pixels():
    with pytest.raises(ValueError, match="not x/127.5 - 1 of uint8 pixels"):
        TensorBatches(torch.rand(8, 1, 2, 2) * 2 - 1, 4, uint8=True)


# --- grading: a student who uses the notebook's device gets a hint ---------------------------------------


def _gp_on(device):
    def gradient_penalty(D, real, fake):
        alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=device)  # the notebook's device
        x_hat = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(True)
        (g,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
        return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
    return gradient_penalty


def _d_loss_on(device):
    def d_loss(real_logits, fake_logits):
        ones = torch.ones(real_logits.shape, device=device)
        return (nn.functional.binary_cross_entropy_with_logits(real_logits, ones)
                + nn.functional.softplus(fake_logits).mean())
    return d_loss


def _r1_on(device):
    def r1_penalty(D, real, gamma):
        x = real.detach().to(device).requires_grad_(True)
        (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
        return gamma / 2 * g.flatten(1).pow(2).sum(1).mean()
    return r1_penalty


def _mode_stats_on(device):
    def mode_stats(x, mu, sigma, n_std=3.0):
        d = (x.to(device)[:, None, :] - mu[None]).norm(dim=-1)  # mu stays where the checker made it
        return 0, 0.0, float(d.min())
    return mode_stats


HINT = "device=real.device"
STUDENTS = [(grading.check_gradient_penalty, _gp_on), (grading.check_d_loss, _d_loss_on),
            (grading.check_r1, _r1_on), (grading.check_mode_stats, _mode_stats_on)]


@pytest.mark.parametrize("checker, student", STUDENTS, ids=[c.__name__ for c, _ in STUDENTS])
def test_a_solution_on_another_device_gets_a_device_hint(checker, student):
    """The checkers pass CPU tensors; a solution that creates or moves tensors to the notebook's device (meta
    stands in for the GPU) is told to create them on the inputs' device, not shown a raw torch error."""
    with pytest.raises(grading.GradingError) as info:
        checker(student(torch.device("meta")))
    assert HINT in str(info.value), str(info.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="with CUDA, device='cuda' works")
def test_a_solution_that_asks_for_cuda_on_a_cpu_machine_gets_a_hint():
    with pytest.raises(grading.GradingError) as info:
        grading.check_gradient_penalty(_gp_on("cuda"))
    msg = str(info.value)
    assert HINT in msg and "GPU" in msg, msg


def test_the_cuda_wording_of_a_device_mismatch_gets_the_hint():
    """The exact errors a GPU raises (produced here by fake CUDA tensors) map to the device hint."""
    from gantut.grading.core import _wrap_error

    errors = []
    with FakeTensorMode(allow_non_fake_inputs=True):
        for op in (lambda: torch.rand(4, 1, device="cuda") * torch.zeros(4, 3),
                   lambda: nn.Linear(3, 1)(torch.zeros(4, 3, device="cuda"))):
            with pytest.raises(RuntimeError) as info:
                op()
            errors.append(info.value)
    errors.append(RuntimeError("Input type (torch.cuda.FloatTensor) and weight type (torch.FloatTensor) should be "
                               "the same or input should be a MKLDNN tensor and weight is a dense tensor"))
    for err in errors:
        msg = str(_wrap_error(err, "gradient_penalty(...)"))
        assert "device" in msg and (".to(device)" in msg or HINT in msg), msg


# --- on a real GPU (scripts/gpu_check.sh): marked `cuda`, skipped without one ----------------------------

needs_cuda = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def _cuda(fn):
    for mark in needs_cuda:
        fn = mark(fn)
    return fn


@_cuda
@pytest.mark.parametrize("amp", [False, True])
def test_cuda_mnist_recipe_trains_on_the_gpu_and_its_checkpoint_loads_on_the_cpu(tmp_path, monkeypatch, amp):
    """A recipe built on gantut.device() (the GPU) trains there through fit (bf16 autocast with amp), the
    models stay there, and the GPU-written checkpoint loads with map_location onto the CPU."""
    from gantut.gan import generate

    monkeypatch.setenv("GANTUT_RUNS", str(tmp_path))
    step = em.build("vanilla", seed=0)
    assert next(step.G.parameters()).is_cuda and next(step.D.parameters()).is_cuda
    batches = em.load("mnist", "train").batches(64, generator=torch.Generator().manual_seed(0), device="cuda",
                                                uint8=True)
    seen = []
    step.D.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    path = tmp_path / "run.pt"
    h = fit(step, batches, 20, state=step.state, checkpoint=path, amp=amp, log_every=5, progress=False)
    assert all(np.isfinite(h["loss_D"])) and next(step.G.parameters()).is_cuda
    assert (torch.bfloat16 in seen) == amp
    ckpt = train.load_checkpoint(path)
    assert all(t.device.type == "cpu" for t in ckpt["state"]["G"].values())
    x = generate(step.G, 10, em.Z_DIM, generator=torch.Generator().manual_seed(0))
    assert x.device.type == "cpu" and x.shape == (10, 1, 28, 28)


@_cuda
def test_cuda_metrics_take_gpu_tensors_and_agree_with_the_cpu():
    """Real CUDA tensors through mode_metrics and the classifier features; GPU features agree with the CPU's
    to float32 rounding unless TF32 changes them (the printed difference is the TF32 drift, review L5)."""
    from gantut.data import ring

    mixture = ring()
    x = mixture.sample(2500, generator=torch.Generator().manual_seed(0))
    assert metrics.mode_metrics(x.cuda(), mixture) == metrics.mode_metrics(x, mixture)
    imgs = em.load("mnist", "test").images[:500]
    gpu = metrics.ClassifierFeatures("mnist", device="cuda").features(imgs.cuda())
    cpu = metrics.ClassifierFeatures("mnist", device="cpu").features(imgs)
    diff = float(np.abs(gpu - cpu).max())
    print(f"\nclassifier features, GPU vs CPU: max |diff| {diff:.3g} (TF32 conv: {torch.backends.cudnn.allow_tf32})")
    assert diff < 5e-2
    assert metrics.frechet_distance(torch.as_tensor(gpu).cuda().mean(0), np.cov(gpu, rowvar=False),
                                    cpu.mean(0), np.cov(cpu, rowvar=False)) < 1e-2


@_cuda
@pytest.mark.parametrize("head", [None, "affine", "features"])
def test_cuda_drs_calibrates_and_samples_on_the_gpu(head):
    G, D = nets.course_G(100).cuda(), nets.course_D().cuda()
    real = em.load("mnist", "train").batches(64, device="cuda", generator=torch.Generator().manual_seed(0))
    logit, losses = drs.calibrate(D, G, real, 100, 5, head=head, progress=False)
    assert {p.device.type for p in logit.parameters()} == {"cuda"} and len(losses) == 5
    res = drs.DRS(G, logit, 100, burn_in=500, batch_size=250).sample(50, torch.Generator().manual_seed(0))
    assert len(res.accepted) == 50 and res.accepted.device.type == "cpu"


@_cuda
def test_cuda_uint8_batches_match_float_batches_on_the_gpu():
    images = em.load("mnist", "test").images
    a = TensorBatches(images, 64, generator=torch.Generator().manual_seed(0), device="cuda")
    b = TensorBatches(images, 64, generator=torch.Generator().manual_seed(0), device="cuda", uint8=True)
    assert b.x.dtype == torch.uint8 and b.x.is_cuda
    for _ in range(20):
        assert torch.equal(a.next(), b.next())


@_cuda
def test_cuda_a_student_solution_on_the_gpu_gets_the_device_hint():
    with pytest.raises(grading.GradingError) as info:
        grading.check_gradient_penalty(_gp_on("cuda"))
    assert HINT in str(info.value), str(info.value)


def test_a_checkpoint_from_a_two_gpu_machine_restores_the_rng_on_one(monkeypatch):
    """The CUDA RNG states of a 2-GPU run: a 1-GPU machine restores the first (CUDA calls patched: no GPU here)."""
    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda s, device="cuda": restored.append((int(s[0]), device)))
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [torch.tensor([7], dtype=torch.uint8)] * 2,
                        raising=False)
    state = train._rng_state()  # the CPU, NumPy and Python states of now: restoring them changes nothing
    state["cuda"] = [torch.tensor([1], dtype=torch.uint8), torch.tensor([2], dtype=torch.uint8)]
    train._set_rng_state(state)
    assert restored == [(1, 0)]
