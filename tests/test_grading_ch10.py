"""Chapter 10 checker (ProGAN's fade-in): correct answers written several ways pass; the named mistakes fail with a
message that names them."""
import pytest
import torch
import torch.nn.functional as F

from gantut import grading, progressive

from grading_helpers import fails_with  # noqa: E402  (tests/ is on sys.path under pytest)


def _fi_interpolate(prev_rgb, new_rgb, alpha):
    return (1 - alpha) * F.interpolate(prev_rgb, scale_factor=2, mode="nearest") + alpha * new_rgb


def _fi_repeat(prev_rgb, new_rgb, alpha):
    up = prev_rgb.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    return torch.lerp(up, new_rgb, alpha)


def _fi_kron(prev_rgb, new_rgb, alpha):
    up = torch.kron(prev_rgb, torch.ones(1, 1, 2, 2))
    return up + alpha * (new_rgb - up)


FI_CORRECT = {"interpolate": _fi_interpolate, "repeat_interleave": _fi_repeat, "kron": _fi_kron}
FI_WRONG = [
    ("swapped", lambda p, n, a: a * F.interpolate(p, scale_factor=2) + (1 - a) * n, "weights are swapped"),
    ("bilinear", lambda p, n, a: (1 - a) * F.interpolate(p, scale_factor=2, mode="bilinear") + a * n, "bilinear"),
    ("no_one_minus", lambda p, n, a: F.interpolate(p, scale_factor=2) + a * n, "(1 − a)·↑(prev)"),
    ("no_a", lambda p, n, a: (1 - a) * F.interpolate(p, scale_factor=2) + n, "a·new, not new"),
    ("not_upsampled", lambda p, n, a: (1 - a) * p + a * F.avg_pool2d(n, 2), "upsample prev_rgb"),
    ("detached", lambda p, n, a: _fi_interpolate(p, n, a).detach(), "no gradient"),
]


@pytest.mark.parametrize("name", sorted(FI_CORRECT))
def test_correct_fade_ins_pass(name, capsys):
    assert grading.check_fade_in(FI_CORRECT[name]) is None
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize("name,fn,fragment", FI_WRONG, ids=[w[0] for w in FI_WRONG])
def test_fade_in_mistakes_are_named(name, fn, fragment):
    fails_with(grading.check_fade_in, fn, fragment)


def test_the_library_fade_in_is_refused():
    fails_with(grading.check_fade_in, progressive.fade_in, "gantut's own code")


def test_a_stub_says_not_implemented():
    def stub(prev_rgb, new_rgb, alpha):
        raise NotImplementedError()
    fails_with(grading.check_fade_in, stub, "not implemented")
