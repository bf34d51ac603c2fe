"""Plots: each function returns a closed Figure whose drawn data we can read back."""
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from gantut import plots  # noqa: E402


def _open_figures():
    return len(plt.get_fignums())


def test_image_grid_maps_minus_one_to_black_and_one_to_white():
    images = torch.cat([-torch.ones(1, 1, 4, 4), torch.ones(1, 1, 4, 4)])
    grid = plots.image_grid(images, nrow=2, padding=0)
    assert grid.shape == (4, 8, 3)  # one channel repeated to RGB, two images side by side
    assert np.allclose(grid[:, :4], 0.0) and np.allclose(grid[:, 4:], 1.0)


def test_image_grid_clips_values_outside_range_and_zero_is_grey():
    grid = plots.image_grid(torch.tensor([3.0, 0.0, -5.0]).view(1, 1, 1, 3), padding=0)
    assert np.allclose(grid[0, :, 0], [1.0, 0.5, 0.0])


def test_show_grid_returns_closed_figure_and_saves(tmp_path):
    before = _open_figures()
    fig = plots.show_grid(torch.zeros(10, 1, 8, 8), nrow=5, title="zeros", path=tmp_path / "g.png")
    assert _open_figures() == before  # closed: the notebook shows the returned figure only once
    shown = fig.axes[0].images[0].get_array()
    assert shown.shape == (2 * (8 + 2) + 2, 5 * (8 + 2) + 2, 3)  # 2 rows × 5 cols of 8 px, padding 2
    assert (tmp_path / "g.png").stat().st_size > 0


def test_show_grid_rejects_flat_images():
    with pytest.raises(ValueError, match="N×C×H×W"):
        plots.show_grid(torch.zeros(4, 784))


def test_scatter2d_limits_come_from_the_centres():
    mix = SimpleNamespace(centers=torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0]]), std=0.1)
    fig = plots.scatter2d(torch.zeros(5, 2) + 100.0, mixture=mix)  # far-away samples do not move them
    ax = fig.axes[0]
    L = 1.25 * 2.0 + 4 * 0.1
    assert ax.get_xlim() == pytest.approx((-L, L)) and ax.get_ylim() == pytest.approx((-L, L))
    centres = ax.collections[1].get_offsets()
    assert np.allclose(centres, mix.centers.numpy())


def test_scatter2d_into_given_axes_returns_it():
    fig, ax = plt.subplots()
    assert plots.scatter2d(torch.ones(3, 2), ax=ax) is ax
    assert ax.get_xlim() == pytest.approx((-1.1, 1.1))
    plt.close(fig)


def test_snapshots2d_one_panel_per_step_with_shared_limits():
    snaps = [(0, torch.zeros(4, 2)), (100, torch.ones(4, 2)), (200, 3 * torch.ones(4, 2))]
    fig = plots.snapshots2d(snaps, ncols=2)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["step 0", "step 100", "step 200"]
    assert all(ax.get_xlim() == pytest.approx((-3.3, 3.3)) for ax in fig.axes[:3])
    assert len(fig.axes) == 4 and not fig.axes[3].axison  # the spare panel is blank


def test_ema_by_hand():
    assert plots.ema([0.0, 1.0, 1.0], 0.5) == pytest.approx([0.0, 0.5, 0.75])
    assert plots.ema([3.0, 1.0], 0.0) == pytest.approx([3.0, 1.0])
    with pytest.raises(ValueError, match="smooth"):
        plots.ema([1.0], 1.0)


class FakeHistory:
    def __init__(self, data):
        self.data = data

    def keys(self):
        return self.data.keys()

    def series(self, key):
        return [s for s, _ in self.data[key]], [v for _, v in self.data[key]]


@pytest.mark.parametrize("history", [
    {"loss": [1.0, 2.0, 4.0]},
    {"loss": [(0, 1.0), (1, 2.0), (2, 4.0)]},
    {"loss": ([0, 1, 2], [1.0, 2.0, 4.0])},
    FakeHistory({"loss": [(0, 1.0), (1, 2.0), (2, torch.tensor(4.0))]}),
])
def test_series_accepts_every_history_shape(history):
    steps, values = plots._series(history, "loss")
    assert list(steps) == [0, 1, 2] and list(values) == [1.0, 2.0, 4.0]


def test_series_unknown_key_lists_the_known_ones():
    with pytest.raises(KeyError, match="loss_D"):
        plots._series({"loss_D": [1.0]}, "fid")


def test_curves_draws_raw_and_smoothed_lines_and_panels():
    hist = {"loss_D": [(0, 0.0), (10, 1.0), (20, 1.0)], "loss_G": [2.0, 2.0, 2.0], "fid": [9.0, 3.0]}
    fig = plots.curves(hist, keys=[["loss_D", "loss_G"], ["fid"]], smooth=0.5, logy=True, title="t")
    left, right = fig.axes
    raw, smoothed = left.lines[0], left.lines[1]
    assert list(raw.get_xdata()) == [0, 10, 20]
    assert smoothed.get_ydata() == pytest.approx([0.0, 0.5, 0.75])
    assert right.get_yscale() == "log"
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["loss_D", "loss_G"]


def test_curves_defaults_to_all_keys_on_one_axes():
    fig = plots.curves({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2


def test_bars_heights_and_error_bars_from_dict():
    fig = plots.bars({"GAN": (10.0, 1.0), "WGAN-GP": (4.0, 0.5)}, metric="FID")
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == [10.0, 4.0]
    (errorbar,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    segments = errorbar.lines[2][0].get_segments()
    assert [s[1, 1] - s[0, 1] for s in segments] == pytest.approx([2.0, 1.0])  # 2·std each
    assert ax.get_ylabel() == "FID"


def test_bars_from_dataframe():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"fid": [5.0, 7.0], "fid_std": [0.1, 0.2]}, index=["a", "b"])
    fig = plots.bars(df, "fid", err="fid_std")
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == [5.0, 7.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]


def test_grid_over_training_one_panel_per_step():
    snaps = [(0, -torch.ones(4, 1, 6, 6)), (500, torch.ones(4, 1, 6, 6))]
    fig = plots.grid_over_training(snaps, nrow=2)
    assert [ax.get_title() for ax in fig.axes] == ["step 0", "step 500"]
    assert np.allclose(fig.axes[1].images[0].get_array()[2:8, 2:8], 1.0)


def test_curves_reads_the_training_loops_history():
    from gantut.train import History

    h = History()
    for step, (d, g) in enumerate([(1.0, 3.0), (2.0, 2.0)]):
        h.log(step * 50, {"loss_D": d, "loss_G": g})
    fig = plots.curves(h, keys=["loss_G"])
    line = fig.axes[0].lines[0]
    assert list(line.get_xdata()) == [0, 50] and list(line.get_ydata()) == [3.0, 2.0]


# ----------------------------------------------------------------------------- widgets (headless)
def test_widgets_module_imports_without_ipywidgets_loaded():
    import subprocess
    import sys

    code = "import sys, gantut.widgets; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_schedule_explorer_plots_fn_and_follows_the_sliders(capsys):
    from gantut import widgets

    def ramp(step, alpha_max, warmup):
        return alpha_max * min(1.0, step / warmup)

    w = widgets.schedule_explorer(ramp, {"alpha_max": (0.0, 2.0), "warmup": (10, 90, 10)}, steps=101)
    sliders = {c.description: c for c in w.children if hasattr(c, "description")}
    assert sliders["alpha_max"].value == 1.0 and sliders["warmup"].value == 50
    y = w.result.axes[0].lines[0].get_ydata()
    assert y[25] == pytest.approx(0.5) and y[100] == pytest.approx(1.0)
    sliders["alpha_max"].value = 2.0  # moving a slider redraws
    assert w.result.axes[0].lines[0].get_ydata()[100] == pytest.approx(2.0)


def test_interpolate_end_points_and_slerp_keeps_the_norm():
    from gantut.widgets import interpolate

    z0, z1 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    assert torch.allclose(interpolate(z0, z1, 0.0), z0) and torch.allclose(interpolate(z0, z1, 1.0), z1)
    assert torch.allclose(interpolate(z0, z1, 0.5), torch.tensor([[0.5, 0.5]]))
    mid = interpolate(z0, z1, 0.5, spherical=True)
    assert torch.allclose(mid, torch.tensor([[0.5 ** 0.5, 0.5 ** 0.5]]), atol=1e-6)


def test_latent_interpolation_shows_g_of_z_and_restores_train_mode(capsys):
    from gantut import widgets

    G = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, 4, 4)))
    G.train()
    w = widgets.latent_interpolation(G, z_dim=3, steps=5, seed=1, n=4)
    t = next(c for c in w.children if getattr(c, "description", "") == "t")
    assert t.step == pytest.approx(0.25)
    assert w.result.axes[0].images[0].get_array().shape == ((4 + 2) + 2, 4 * (4 + 2) + 2, 3)
    t.value = 1.0
    assert w.result.axes[0].get_title() == "t = 1.00"
    assert G.training


def test_latent_interpolation_between_given_ends_shows_g_of_each_end():
    from gantut import widgets

    G = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, 4, 4)))
    z0, z1 = torch.randn(2, 3), torch.randn(2, 3)
    w = widgets.latent_interpolation(G, z_dim=3, steps=3, n=8, ends=(z0, z1))   # n follows the ends: 2 pairs
    t = next(c for c in w.children if getattr(c, "description", "") == "t")
    assert w.result.axes[0].images[0].get_array().shape == ((4 + 2) + 2, 2 * (4 + 2) + 2, 3)
    first = w.result.axes[0].images[0].get_array().copy()
    t.value = 1.0
    assert not (w.result.axes[0].images[0].get_array() == first).all()
    with pytest.raises(ValueError, match="ends"):
        widgets.latent_interpolation(G, z_dim=3, ends=(z0, torch.randn(3, 3)))


def test_bar_labels_never_use_e_notation():
    import matplotlib
    fig = plots.bars({"vanilla": (7580.4, 311.2), "BN": (84.21, 0.5), "tiny": 0.000123}, "FID")
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert labels == ["7,580 ± 311", "84.2 ± 0.5", "0.0001"] and not any("e+" in t or "e-" in t for t in labels)
    assert isinstance(fig, matplotlib.figure.Figure)


def test_scatter_and_snapshots_say_which_markers_are_what():
    import torch
    from gantut import data
    ring = data.ring()
    fig = plots.scatter2d(torch.randn(50, 2) * 0.1, ring)
    (legend,) = [a.get_legend() for a in fig.axes]
    assert [t.get_text() for t in legend.get_texts()] == ["samples", "mode centres"]
    fig = plots.snapshots2d([(0, torch.randn(20, 2)), (10, torch.randn(20, 2))], ring)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["samples", "mode centres"]


def test_curves_label_the_axes_and_keep_legends_off_the_curves():
    h = {"loss_D": [1.0, 0.5, 0.4], "loss_G": [2.0, 1.0, 0.9], "fid": [(0, 90.0), (2, 80.0)]}
    fig = plots.curves(h, [["loss_D", "loss_G"], ["fid"]])
    a, b = fig.axes
    assert a.get_ylabel() == "value" and b.get_ylabel() == "fid" and b.get_legend() is None
    leg = a.get_legend()
    assert leg is not None and leg.get_bbox_to_anchor().y0 < a.get_window_extent().y0  # below the panel
