"""`gantut report` (chapter 13): every claim's rule on hand-made tables, and the smoke profile end to end."""
import json


from gantut import cli, report


def _rows(fids, **extra):
    return [{"FID": f, **{k: v[i] for k, v in extra.items()}} for i, f in enumerate(fids)]


def _tables():
    """Every row the claims read, with values chosen so that each verdict is known by hand."""
    run = lambda t, m, seed, modes, n, hq: {"technique": t, "mixture": m, "seed": seed, "modes": modes, "n_modes": n,
                                            "hq": hq, "steps": 1000}
    runs = [run("vanilla GAN (ch01)", "ring8", s, m, 8, 0.1) for s, m in enumerate([1, 3, 2])]           # collapses
    runs += [run("MD-GAN (ch04)", "ring8", s, 8, 8, 0.3) for s in range(3)]                             # all modes
    runs += [run("unrolled K=5, 1st order (ch05)", "ring8", s, m, 8, 0.2) for s, m in enumerate([8, 7, 8])]
    runs += [run("best (ring) v2: PacGAN2 + lr decay, 28k steps", "ring8", s, 8, 8, 0.98) for s in range(3)]
    runs += [run("best (grid) v2: R1 + lr decay, 18k steps", "grid25", s, 25, 25, 0.92) for s in range(3)]
    mnist = {"vanilla": _rows([2000, 1900, 2100]), "+BN (G)": _rows([500, 600, 550]),
             "WGAN (clip 0.01)": _rows([2900, 2850, 2880]), "WGAN-GP": _rows([800, 700, 850]),
             "WGAN-GP + lr decay": _rows([790, 710, 840]),                                       # not every seed
             "R1 (γ = 10)": _rows([900, 1000, 800]),
             "vanilla + DRS": _rows([1950, 1880, 2050]),                                         # lower, within spread
             "WGAN-GP + decay + DRS": _rows([600, 500, 550])}                                    # beyond the spread
    ladder = {"DCGAN": [220, 230], "+ SN (D)": [400, 410], "+ SN + hinge + TTUR": [500, 520],
              "SAGAN (attention at 8 px)": [850, 860], "seed 004's SAGAN (MLP D + attention)": [900, 950]}
    images = {k: _rows(v) for k, v in ladder.items()}
    images["LSGAN"] = _rows([150, 160], **{"loss_D cv": [0.40, 0.36]})
    images["LSGAN α 0.5 linear"] = _rows([200, 210], **{"loss_D cv": [0.30, 0.33]})                 # steadier
    images["LSGAN α 0.9 step"] = _rows([400, 410], **{"loss_D cv": [0.50, 0.55]})
    images["+ stacked pretraining"] = _rows([110, 112])
    images["LSGAN, growing G, from scratch"] = _rows([117, 125])
    images["DCGAN, 512 images"] = _rows([240, 245], **{"min FID": [240, 245], "collapsed": [0.0, 0.0]})
    images["DCGAN-LFM (paper), 512 images"] = _rows([230, 250], **{"min FID": [230, 250], "collapsed": [0.0, 0.0]})
    images["DCGAN + encoder, no scale"] = _rows([250, 260], enc_gen=[0.80, 0.81], psnr_gen=[18.0, 18.1],
                                                psnr_test=[15.7, 15.9])
    images["DLS (SMA of v)"] = _rows([255, 258], enc_gen=[0.64, 0.66], psnr_gen=[19.4, 19.0], psnr_test=[15.8, 15.6])
    return {"2d": {"setup": "2D mixtures.", "runs": runs},
            "mnist": {"seeds": [0, 1, 2], "n": 1000, "threads": 1, "results": mnist},
            "images": {"dataset": "fashion", "seeds": [0, 1], "n": 1000, "threads": 1, "results": images}}


EXPECTED = {  # (chapter, seed) -> verdict, derived from _tables by hand
    ("01", "002"): "reproduced", ("01", "PacGAN"): "partly",        # ring 98 > 95.9, grid 92 < 93.6
    ("04", "002"): "reproduced", ("05", "002"): "partly",            # unrolled: all modes in 2 of 3 seeds
    ("02", "004"): "reproduced", ("03", "004"): "reproduced",
    ("03", "002"): "not reproduced",                                  # seed 1: 710 > 700
    ("06", "002"): "not reproduced",                                  # R1 better than vanilla
    ("07", "002"): "partly",                                          # WGAN-GP beyond its spread, vanilla within
    ("08", "004"): "not reproduced", ("09", "003"): "reproduced",     # α 0.5 linear: 0.30 < 0.40 and 0.33 < 0.36
    ("10", "003"): "partly", ("11", "000"): "not tested",            # nothing collapsed
    ("12", "001"): "partly",                                          # L_enc and PSNR(gen) on every seed, PSNR(test) not
}


def test_every_claims_verdict_on_hand_made_tables(tmp_path):
    page = report.compose(_tables(), "cpu", tmp_path, seconds=3.0)
    rows = json.loads(page.with_suffix(".json").read_text())["rows"]
    assert {(r["chapter"], r["seed"]): r["verdict"] for r in rows} == EXPECTED
    md = page.read_text()
    assert md.count("**reproduced**") == 5 and "Profile" not in md and "Verdicts: reproduced 5, partly 5" in md
    assert all(f"| {r['chapter']} | {r['seed']} | {r['claim']} |" in md for r in rows)
    dls = next(r for r in rows if r["chapter"] == "12")
    assert "L_enc 0.650 ± 0.014 (DLS) vs 0.805 ± 0.007" in dls["ours"] and "not: PSNR of test higher" in dls["why"]


def test_a_missing_row_is_not_tested_with_the_fix(tmp_path):
    tables = _tables()
    del tables["images"]["results"]["DLS (SMA of v)"]
    rows = json.loads(report.compose(tables, "smoke", tmp_path).with_suffix(".json").read_text())["rows"]
    dls = next(r for r in rows if r["chapter"] == "12")
    assert dls["verdict"] == "not tested" and "rerun `gantut report`" in dls["why"]
    assert "not a result" in (tmp_path / "results.md").read_text()


def test_the_gpu_profile_is_refused_with_a_clear_error(capsys):
    assert cli.main(["report", "--profile", "gpu"]) == 1
    assert "smoke and cpu profiles" in capsys.readouterr().err


def test_report_smoke_runs_every_table_and_writes_every_claim(tmp_path, monkeypatch):
    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    monkeypatch.setenv("GANTUT_RUNS", str(tmp_path / "runs"))
    assert cli.main(["report", "--profile", "smoke", "--out", str(tmp_path / "out")]) == 0
    payload = json.loads((tmp_path / "out" / "results.json").read_text())
    assert payload["profile"] == "smoke" and len(payload["rows"]) == len(report.CLAIMS)
    assert all(r["verdict"] in report.VERDICTS and r["ours"] != "–" for r in payload["rows"]), \
        [r for r in payload["rows"] if r["ours"] == "–"]
    for name in ("results_2d.json", "results_mnist.json", "results_images.json", "results.md"):
        assert (tmp_path / "out" / name).exists(), name


def test_only_reruns_some_tables_and_names_the_others(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="unknown families"):
        report.build("cpu", tmp_path, only=["faces"])
    with pytest.raises(FileNotFoundError, match="results_2d.json is missing"):   # nothing to read the others from
        report.build("smoke", tmp_path, only=["images"], log=lambda m: None)
    page = report.compose(_tables(), "cpu", tmp_path, reused=["mnist"])
    assert "Not rerun for this page (read from their last results JSON): the mnist table." in page.read_text()
