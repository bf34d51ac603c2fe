"""Chapter 12 checkers (seed 001's latent scale and encoder loss): correct answers written several ways pass;
the named mistakes fail with a message that names them."""
import math

import pytest
import torch

from gantut import dls, grading

from grading_helpers import fails_with  # noqa: E402  (tests/ is on sys.path under pytest)


def _scale_norm(v):
    r = torch.sqrt(v)
    return math.sqrt(len(v)) * r / torch.linalg.vector_norm(r)


def _scale_sum(v):   # ‖√v‖₂ = √(Σ v): the same number written without the root of each element's square
    return torch.sqrt(len(v) * v / v.sum())


SCALE_CORRECT = {"norm": _scale_norm, "sum": _scale_sum}
SCALE_WRONG = [
    ("no_sqrt_d", lambda v: v.sqrt() / v.sqrt().norm(), "√d is missing"),
    ("norm_of_v", lambda v: math.sqrt(len(v)) * v.sqrt() / v.norm(), "norm of v"),
    ("v_for_root", lambda v: math.sqrt(len(v)) * v / v.norm(), "You used v where"),
    ("squared", lambda v: len(v) * v / v.sum(), "That is s²"),
    ("root_only", lambda v: v.sqrt(), "not normalised"),
    ("l1", lambda v: math.sqrt(len(v)) * v.sqrt() / v.sqrt().sum(), "L1 norm"),
    ("in_place", lambda v: v.sqrt_() * math.sqrt(len(v)) / v.norm(), "in place"),
    ("scalar", lambda v: v.sqrt().norm(), "shape"),
]


@pytest.mark.parametrize("name", sorted(SCALE_CORRECT))
def test_correct_latent_scales_pass(name, capsys):
    assert grading.check_latent_scale(SCALE_CORRECT[name]) is None
    assert capsys.readouterr().out.count("✓") == 1


@pytest.mark.parametrize("name,fn,fragment", SCALE_WRONG, ids=[w[0] for w in SCALE_WRONG])
def test_latent_scale_mistakes_are_named(name, fn, fragment):
    fails_with(grading.check_latent_scale, fn, fragment)


def _loss_mean(z, z_hat, s):
    return ((z - z_hat) ** 2 * s ** 2).mean()


def _loss_mse(z, z_hat, s):
    return torch.nn.functional.mse_loss(z_hat * s, z * s)


def _loss_einsum(z, z_hat, s):
    e = z - z_hat
    return torch.einsum("bd,bd,d->", e, e, s * s) / z.numel()


LOSS_CORRECT = {"mean": _loss_mean, "mse_of_scaled": _loss_mse, "einsum": _loss_einsum}
LOSS_WRONG = [
    ("no_s2", lambda z, zh, s: ((z - zh) ** 2).mean(), "plain squared error"),
    ("s_not_s2", lambda z, zh, s: ((z - zh) ** 2 * s).mean(), "weighted by s;"),
    ("scaled_target", lambda z, zh, s: ((z * s - zh) ** 2).mean(), "unscaled"),
    ("sum", lambda z, zh, s: ((z - zh) ** 2 * s ** 2).sum(), "That is the sum"),
    ("sum_elements", lambda z, zh, s: ((z - zh) ** 2 * s ** 2).sum(1).mean(), "summed over the d elements"),
    ("abs", lambda z, zh, s: ((z - zh).abs() * s ** 2).mean(), "absolute error"),
    ("detached", lambda z, zh, s: _loss_mean(z, zh.detach(), s), "no gradient reaches ẑ"),
    ("item", lambda z, zh, s: _loss_mean(z, zh, s).item(), "Python number"),
]


@pytest.mark.parametrize("name", sorted(LOSS_CORRECT))
def test_correct_encoder_losses_pass(name, capsys):
    assert grading.check_encoder_loss(LOSS_CORRECT[name]) is None
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize("name,fn,fragment", LOSS_WRONG, ids=[w[0] for w in LOSS_WRONG])
def test_encoder_loss_mistakes_are_named(name, fn, fragment):
    fails_with(grading.check_encoder_loss, fn, fragment)


def test_the_library_functions_are_refused_and_stubs_say_not_implemented():
    fails_with(grading.check_latent_scale, dls.latent_scale, "gantut's own code")
    fails_with(grading.check_encoder_loss, dls.encoder_loss, "gantut's own code")

    def stub(*args):
        raise NotImplementedError()
    fails_with(grading.check_latent_scale, stub, "not implemented")
    fails_with(grading.check_encoder_loss, stub, "not implemented")
