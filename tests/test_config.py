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
    clean_env.setenv("GANTUT_DATA", str(tmp_path / "d"))
    clean_env.setenv("GANTUT_RUNS", str(tmp_path / "r"))
    assert gantut.data_dir() == tmp_path / "d" and (tmp_path / "d").is_dir()
    assert gantut.runs_dir() == tmp_path / "r" and (tmp_path / "r").is_dir()


def test_setup_prints_one_line(clean_env, capsys):
    clean_env.setenv("GANTUT_PROFILE", "smoke")
    clean_env.setattr(torch.cuda, "is_available", lambda: False)
    s = gantut.setup(seed=3)
    assert s.profile == "smoke" and s.seed == 3 and s.device.type == "cpu"
    assert "profile=smoke | device=cpu | seed=3" in capsys.readouterr().out
    assert progress_off_in_smoke()


def progress_off_in_smoke():
    return config.progress_enabled() is False
