"""scripts/table_mnist.py end to end at a tiny budget: every row trained through experiments_mnist.train (shared
checkpoints), scored by the chapters' evaluation, written as markdown + JSON that agree."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def table_mnist():
    spec = importlib.util.spec_from_file_location("table_mnist", ROOT / "scripts" / "table_mnist.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_table_runs_and_the_markdown_quotes_the_json(table_mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    monkeypatch.setenv("GANTUT_RUNS", str(tmp_path / "runs"))
    out = tmp_path / "results_mnist.md"
    table_mnist.main(["--seeds", "0", "--steps", "2", "--calib-steps", "2", "--n", "150", "--inception-seeds",
                      "--out", str(out)])
    md, js = out.read_text(), json.loads(out.with_suffix(".json").read_text())
    assert js["n"] == 150 and js["seeds"] == [0] and js["calib_steps"] == 2
    for label, recipe, with_drs, chapter in table_mnist.ROWS:
        (r,) = js["results"][label]
        assert r["steps"] == 2 and 0 <= r["recognisable %"] <= 100
        assert ("acceptance" in r) == with_drs
        row = next(line for line in md.splitlines() if line.startswith(f"| {label} |"))
        assert f"| {r['FID']:.1f} | {r['recognisable %']:.1f} | {r['smallest class %']:.1f} |" in row
    assert f"FID {js['floor']['FID']:.1f}" in md and "N_fake = N_real = 150" in md
    assert out.with_suffix(".png").stat().st_size > 0 and (tmp_path / "results_mnist_fid.png").stat().st_size > 0
    assert "![samples of every row, first seed](results_mnist.png)" in md
    # the models are the chapters' checkpoints: the same recipe, seed and budget loads instead of training
    from gantut import experiments_mnist as em
    assert em.train("vanilla", 2, seed=0, n_eval=150, progress=False).loaded


def test_images_table_has_the_lfm_section(table_mnist, tmp_path, monkeypatch):
    """Chapter 11's rows train tracked (its curves' minimum, N = 128, KID, collapse) and get their own section."""
    from gantut import experiments_mnist as em
    try:
        em.load("fashion", "test")
    except Exception as exc:  # pragma: no cover - Debian package missing
        pytest.skip(f"Fashion-MNIST not available: {exc}")
    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    monkeypatch.setenv("GANTUT_RUNS", str(tmp_path / "runs"))
    rows, claims, *rest = table_mnist.FAMILIES["images"]
    lfm_rows = table_mnist.LFM_ROWS[:2]
    assert [r[1].subset for r in table_mnist.LFM_ROWS] == [512] * 4 + [0] * 4
    monkeypatch.setitem(table_mnist.FAMILIES, "images", (lfm_rows, claims, *rest))
    out = tmp_path / "results_images.md"
    table_mnist.main(["--family", "images", "--seeds", "0", "--steps", "4", "--n", "150", "--inception-seeds",
                      "--out", str(out)])
    md, js = out.read_text(), json.loads(out.with_suffix(".json").read_text())
    assert "### Chapter 11: LFM on limited data, over training" in md
    for label, recipe, _, _ in lfm_rows:
        (r,) = js["results"][label]
        assert r["min FID"] <= r["final FID"] and 0 <= r["min step"] <= 4
        assert f"| {label} | {r['min FID']:.1f} |" in md
        # the chapter's settings: the same checkpoint loads (tracked, 16 evaluations -> every step at 4 steps)
        assert em.train(recipe, 4, seed=0, dataset="fashion", n_eval=150, eval_every=1, track=True, progress=False).loaded


def test_dls_family_has_the_inversion_section_and_shares_the_chapters_checkpoints(table_mnist, tmp_path, monkeypatch):
    """Chapter 12's rows record the inversion scores at the end and get their own section; MNIST works (family dls)."""
    from gantut import experiments_mnist as em
    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    monkeypatch.setenv("GANTUT_RUNS", str(tmp_path / "runs"))
    rows, claims, *rest = table_mnist.FAMILIES["dls"]
    assert [r[1] for r in rows] == ["dcgan32_enc", "dcgan32_dls", "dcgan32_dls_ema"]
    assert all(row in table_mnist.IMAGE_ROWS for row in rows)
    monkeypatch.setitem(table_mnist.FAMILIES, "dls", (rows[:2], claims, *rest))
    out = tmp_path / "results_dls_mnist.md"
    table_mnist.main(["--family", "dls", "--dataset", "mnist", "--seeds", "0", "--steps", "3", "--n", "150",
                      "--inception-seeds", "--out", str(out)])
    md, js = out.read_text(), json.loads(out.with_suffix(".json").read_text())
    assert "### Chapter 12: DLS, inversion at the end of training" in md
    for label, recipe, _, _ in rows[:2]:
        (r,) = js["results"][label]
        assert 0 < r["enc_gen"] < 3 and 0 < r["ssim_test"] <= 1 and r["psnr_test"] > 0
        assert f"| {label} | {r['enc_gen']:.3f} |" in md.replace(" ± 0.000", "")
        # the chapter's call loads the same checkpoint
        assert em.train(recipe, 3, seed=0, dataset="mnist", n_eval=150, progress=False).loaded
