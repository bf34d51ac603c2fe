"""Profiles, seeding, devices and paths."""
import pytest
import torch

import gantut
from gantut import config


@pytest.fixture
def clean_env(monkeypatch):
    for var in ("GANTUT_PROFILE", "NBGRADER_EXECUTION", "GANTUT_DATA", "GANTUT_RUNS", "GANTUT_DEVICE"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_profile_rule(clean_env):
    clean_env.setattr(torch.cuda, "is_available", lambda: False)
    assert gantut.profile() == "cpu"
    clean_env.setattr(torch.cuda, "is_available", lambda: True)
    assert gantut.profile() == "gpu"
    clean_env.setenv("NBGRADER_EXECUTION", "autograde")
    assert gantut.profile() == "smoke"
    clean_env.setenv("GANTUT_PROFILE", "CPU")  # explicit choice wins, case-insensitive
    assert gantut.profile() == "cpu"


def test_unknown_profile_names_the_choices(clean_env):
    clean_env.setenv("GANTUT_PROFILE", "fast")
    with pytest.raises(ValueError, match="use one of smoke, cpu, gpu"):
        gantut.profile()


def test_by_profile(clean_env):
    clean_env.setenv("GANTUT_PROFILE", "smoke")
    assert gantut.by_profile(smoke=1, cpu=2, gpu=3) == 1
    clean_env.setenv("GANTUT_PROFILE", "gpu")
    assert gantut.by_profile(smoke=1, cpu=2, gpu=3) == 3
    assert gantut.by_profile(smoke=1, cpu=2) == 2  # gpu falls back to the cpu value


def test_same_seed_same_numbers():
    import random

    import numpy as np

    def draw(seed):
        g = gantut.seed_everything(seed)
        return torch.randn(3).tolist(), np.random.rand(2).tolist(), random.random(), torch.rand(2, generator=g).tolist()

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


def test_cpu_device_notice(clean_env, capsys):
    clean_env.setattr(torch.cuda, "is_available", lambda: False)
    config._notices.clear()
    assert gantut.device() == torch.device("cpu")
    assert gantut.device() == torch.device("cpu")
    assert capsys.readouterr().out == "gantut: no CUDA GPU found, running on CPU.\n"  # once


def test_cuda_requested_without_cuda(clean_env):
    clean_env.setattr(torch.cuda, "is_available", lambda: False)
    clean_env.setenv("GANTUT_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        gantut.device()


def test_paths_are_overridable(clean_env, tmp_path):
    (tmp_path / "d").mkdir()
    clean_env.setenv("GANTUT_DATA", str(tmp_path / "d"))
    clean_env.setenv("GANTUT_RUNS", str(tmp_path / "r"))
    assert gantut.data_dir() == tmp_path / "d" and (tmp_path / "d").is_dir()
    assert gantut.runs_dir() == tmp_path / "r" and (tmp_path / "r").is_dir()


def test_setup_prints_one_line(clean_env, capsys):
    clean_env.setenv("GANTUT_PROFILE", "smoke")
    clean_env.setattr(torch.cuda, "is_available", lambda: False)
    s = gantut.setup(seed=3)
    assert s.profile == "smoke" and s.seed == 3 and s.device.type == "cpu"
    assert "profile=smoke | device=cpu | threads=1 | seed=3" in capsys.readouterr().out
    assert progress_off_in_smoke()


def progress_off_in_smoke():
    return config.progress_enabled() is False


def test_thread_policy_is_one_thread_unless_gantut_threads_says(monkeypatch, capsys):
    import torch
    from gantut import config

    monkeypatch.delenv("GANTUT_THREADS", raising=False)
    assert config.threads() == 1
    before = torch.get_num_threads()
    try:
        S = config.setup(seed=0)
        assert S.threads == 1 and torch.get_num_threads() == 1 and "threads=1" in capsys.readouterr().out
        monkeypatch.setenv("GANTUT_THREADS", "2")
        assert config.apply_threads() == 2 and torch.get_num_threads() == 2
        monkeypatch.setenv("GANTUT_THREADS", "two")
        with pytest.raises(ValueError, match="GANTUT_THREADS"):
            config.threads()
    finally:
        torch.set_num_threads(before)


def test_same_seed_same_2d_numbers_in_two_fresh_processes_at_the_thread_policy():
    """The documented policy (one thread): two fresh processes train the same 2D GAN to the same samples."""
    import subprocess
    import sys

    code = ("import gantut, torch; from gantut import data, experiments2d as ex; gantut.setup(seed=1, quiet=True); "
            "r = ex.run_2d(ex.gan_2d(), data.ring(), seed=1, steps=40, batch_size=64); "
            "print(r.metrics.modes, f'{r.metrics.hq:.6f}', f'{float(r.samples.sum()):.8f}', torch.get_num_threads())")
    env = {**__import__("os").environ, "GANTUT_PROFILE": "smoke"}
    env.pop("GANTUT_THREADS", None)
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
            for _ in range(2)]
    outs = [r.stdout.strip().splitlines()[-1] for r in runs]
    assert outs[0] == outs[1] and outs[0].endswith(" 1")


def test_bad_path_variables_name_the_variable_and_the_fix(clean_env, tmp_path):
    missing = tmp_path / "nonexistent"
    clean_env.setenv("GANTUT_DATA", str(missing))
    with pytest.raises(FileNotFoundError, match="GANTUT_DATA=.*does not exist: create it"):
        gantut.data_dir()
    assert not missing.exists()  # no folder created behind the user's back
    a_file = tmp_path / "hostname"
    a_file.write_text("x")
    for var, fn in (("GANTUT_DATA", gantut.data_dir), ("GANTUT_RUNS", gantut.runs_dir)):
        clean_env.setenv(var, str(a_file))
        with pytest.raises(NotADirectoryError, match=f"{var}=.* is a file, not a folder"):
            fn()
        clean_env.delenv(var)
    clean_env.setenv("GANTUT_RUNS", str(a_file / "sub"))  # cannot be created below a file
    with pytest.raises((PermissionError, NotADirectoryError), match="GANTUT_RUNS"):
        gantut.runs_dir()
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if not __import__("os").access(ro, __import__("os").W_OK):  # root can write anywhere: nothing to test then
            clean_env.setenv("GANTUT_RUNS", str(ro))
            with pytest.raises(PermissionError, match="GANTUT_RUNS=.* is not writable"):
                gantut.runs_dir()
    finally:
        ro.chmod(0o700)
