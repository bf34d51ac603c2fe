"""Chapter 09 checkers (the α-regularised LSGAN D loss, the smooth-step α schedule): correct answers written
several ways pass; the named mistakes fail with a message that names them."""
import math

import pytest
import torch
import torch.nn.functional as F

from gantut import grading, losses

from grading_helpers import fails_with  # noqa: E402  (tests/ is on sys.path under pytest)


def _ls_means(d_real, d_fake, alpha):
    return 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * ((d_fake - alpha) ** 2).mean()


def _ls_mse(d_real, d_fake, alpha):
    return 0.5 * F.mse_loss(d_real, torch.ones_like(d_real)) + 0.5 * F.mse_loss(d_fake, torch.full_like(d_fake, alpha))


def _ls_pow(d_real, d_fake, alpha):
    return (d_real - 1).pow(2).mean() / 2 + (d_fake - alpha).pow(2).sum() / (2 * d_fake.numel())


def _ss_clamp(step, start, length, alpha_max):
    t = min(max((step - start) / length, 0.0), 1.0)
    return alpha_max * (3 * t * t - 2 * t ** 3)


def _ss_branches(step, start, length, alpha_max):
    if step <= start:
        return 0.0
    if step >= start + length:
        return float(alpha_max)
    t = (step - start) / length
    return alpha_max * t * t * (3 - 2 * t)


def _ss_tensor(step, start, length, alpha_max):
    t = torch.clamp(torch.tensor((step - start) / length), 0, 1)
    return alpha_max * (3 * t ** 2 - 2 * t ** 3)


LS_CORRECT = {"means": _ls_means, "mse_loss": _ls_mse, "pow_sum_over_n": _ls_pow}
SS_CORRECT = {"clamp": _ss_clamp, "branches": _ss_branches, "tensor": _ss_tensor}

LS_WRONG = [
    ("half_sum", lambda r, f, a: 0.5 * ((r - 1) ** 2).sum() + 0.5 * ((f - a) ** 2).sum(), "tf.nn.l2_loss"),
    ("no_half", lambda r, f, a: ((r - 1) ** 2).mean() + ((f - a) ** 2).mean(), "left out the ½"),
    ("no_alpha", lambda r, f, a: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean(), "α is missing"),
    ("swapped", lambda r, f, a: 0.5 * ((r - a) ** 2).mean() + 0.5 * ((f - 1) ** 2).mean(), "targets are swapped"),
    ("real_smoothed", lambda r, f, a: 0.5 * ((r - (1 - a)) ** 2).mean() + 0.5 * (f ** 2).mean(), "one-sided label"),
    ("alpha_sign", lambda r, f, a: 0.5 * ((r - 1) ** 2).mean() + 0.5 * ((f + a) ** 2).mean(), "sign of α"),
    ("one_mean", lambda r, f, a: 0.5 * torch.cat([(r - 1) ** 2, (f - a) ** 2]).mean(), "one mean over both"),
    ("g_loss", lambda r, f, a: 0.5 * ((f - 1) ** 2).mean(), "G's loss"),
    ("detached_real", lambda r, f, a: 0.5 * ((r.detach() - 1) ** 2).mean() + 0.5 * ((f - a) ** 2).mean(),
     "cut from the graph"),
]

SS_WRONG = [
    ("linear", lambda s, st, ln, a: a * min(max((s - st) / ln, 0.0), 1.0), "linear ramp"),
    ("no_clamp", lambda s, st, ln, a: a * (3 * ((s - st) / ln) ** 2 - 2 * ((s - st) / ln) ** 3), "Clamp t"),
    ("no_lower_clamp", lambda s, st, ln, a: a * (3 * min((s - st) / ln, 1) ** 2 - 2 * min((s - st) / ln, 1) ** 3),
     "Before the start"),
    ("no_upper_clamp", lambda s, st, ln, a: a * (3 * max((s - st) / ln, 0) ** 2 - 2 * max((s - st) / ln, 0) ** 3),
     "After start + length"),
    ("undivided", lambda s, st, ln, a: a * (3 * min(max(s - st, 0), 1) ** 2 - 2 * min(max(s - st, 0), 1) ** 3),
     "divide step − start"),
]


@pytest.mark.parametrize("name", sorted(LS_CORRECT))
def test_correct_d_losses_pass(name, capsys):
    assert grading.check_lsgan_d_loss(LS_CORRECT[name]) is None
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize("name,fn,fragment", LS_WRONG, ids=[w[0] for w in LS_WRONG])
def test_d_loss_mistakes_are_named(name, fn, fragment):
    fails_with(grading.check_lsgan_d_loss, fn, fragment)


def test_the_library_loss_is_refused():
    fails_with(grading.check_lsgan_d_loss, losses.d_loss_ls, "gantut's own code")


@pytest.mark.parametrize("name", sorted(SS_CORRECT))
def test_correct_schedules_pass(name, capsys):
    assert grading.check_smoothstep_alpha(SS_CORRECT[name]) is None
    assert capsys.readouterr().out.count("✓") == 1


@pytest.mark.parametrize("name,fn,fragment", SS_WRONG, ids=[w[0] for w in SS_WRONG])
def test_schedule_mistakes_are_named(name, fn, fragment):
    fails_with(grading.check_smoothstep_alpha, fn, fragment)


def test_the_schedule_values_are_the_library_ramp():
    """The checker's expected values are gantut.losses.alpha_ramp's (the ramp the recipes train with)."""
    for step in (80, 100, 110, 120, 140, 180):
        assert _ss_clamp(step, 100, 40, 0.5) == pytest.approx(losses.alpha_ramp(step, 100, 40, 0.5, "smoothstep"))
    assert math.isclose(_ss_clamp(110, 100, 40, 0.5), 0.078125)


def test_stubs_say_not_implemented():
    def stub(*args):
        raise NotImplementedError()
    fails_with(grading.check_lsgan_d_loss, stub, "not implemented")
    fails_with(grading.check_smoothstep_alpha, stub, "not implemented")
