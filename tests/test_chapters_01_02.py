"""Checkers of chapters 01 and 02 (gantut.grading.ch01_02): right answers pass, known mistakes are named."""
import math

import pytest
import torch
from torch import nn

from gantut import data, grading, metrics, nets
from gantut.grading import GradingError


def mode_stats(x, mu, sigma, n_std=3.0):
    d = torch.cdist(x.double(), mu.double())
    d_min, k = d.min(1)
    hq = d_min < n_std * sigma
    counts = torch.bincount(k[hq], minlength=len(mu)).double()
    if counts.sum() == 0:
        return 0, 0.0, float("nan")
    p = counts / counts.sum()
    return int((counts > 0).sum()), hq.double().mean().item(), torch.special.xlogy(p, p * len(mu)).sum().item()


def test_mode_stats_reference_agrees_with_gantut_metrics():
    ring = data.ring()
    x = ring.sample(2500, generator=torch.Generator().manual_seed(0))
    m = metrics.mode_metrics(x, ring)
    modes, hq, rkl = mode_stats(x, ring.centers, ring.std)
    assert (modes, hq) == (m.modes, m.hq) and rkl == pytest.approx(m.reverse_kl)


def test_check_mode_stats_accepts_a_correct_answer(capsys):
    grading.check_mode_stats(mode_stats)
    assert "✓" in capsys.readouterr().out


def _variant(**kw):
    """mode_stats with one classic mistake switched on."""
    def fn(x, mu, sigma, n_std=3.0):
        d = torch.cdist(x.double(), mu.double())
        if kw.get("box"):
            diff = (x.double()[:, None] - mu.double()[None]).abs().max(-1).values
            d = torch.where(diff < n_std * sigma, d * 0, d + 1e3)
        d_min, k = d.min(1)
        hq = d_min < n_std * sigma
        which = torch.ones_like(hq) if kw.get("all_samples") else hq
        counts = torch.bincount(k[which], minlength=len(mu)).double()
        p = counts / counts.sum()
        K = int((counts > 0).sum()) if kw.get("captured_only") else len(mu)
        rkl = torch.special.xlogy(p, p * K).sum().item()
        frac = hq.double().mean().item() * (100 if kw.get("percent") else 1)
        return int((counts > 0).sum()), frac, rkl
    return fn


@pytest.mark.parametrize("mistake,message", [
    ("percent", "fraction in \\[0, 1\\]"),
    ("captured_only", "uniform distribution over ALL K modes"),
    ("all_samples", "HQ samples only"),
    ("box", "Euclidean distance"),
])
def test_check_mode_stats_names_the_mistake(mistake, message):
    with pytest.raises(GradingError, match=message):
        grading.check_mode_stats(_variant(**{mistake: True}))


def test_check_mode_stats_on_a_stub_says_not_implemented():
    def stub(x, mu, sigma, n_std=3.0):
        raise NotImplementedError()
    with pytest.raises(GradingError, match="not implemented"):
        grading.check_mode_stats(stub)


def test_check_mode_stats_rejects_a_wrong_return_type():
    with pytest.raises(GradingError, match="tuple"):
        grading.check_mode_stats(lambda x, mu, sigma, n_std=3.0: 8)


# ---------------------------------------------------------------- chapter 02: the BN generator

def _G(bn_eps=1e-5, order="bn_act", act=None, bn_out=False, out_act=nn.Tanh, with_bn=True, z_dim=100):
    layers, sizes = [], [z_dim, 256, 512, 1024]
    for a, b in zip(sizes[:-1], sizes[1:]):
        lin, bn, ac = nn.Linear(a, b), nn.BatchNorm1d(b, bn_eps), (act or (lambda: nn.LeakyReLU(0.2)))()
        layers += ([lin, bn, ac] if order == "bn_act" else [lin, ac, bn]) if with_bn else [lin, ac]
    layers.append(nn.Linear(1024, 784))
    if bn_out:
        layers.append(nn.BatchNorm1d(784))
    layers += [out_act(), nn.Unflatten(1, (1, 28, 28))]
    return nn.Sequential(*layers)


def test_check_course_G_bn_accepts_the_reference_and_a_sequential(capsys):
    grading.check_course_G_bn(lambda z_dim=100: nets.course_G(z_dim, batchnorm=True))
    grading.check_course_G_bn(lambda z_dim=100: _G(z_dim=z_dim))
    assert capsys.readouterr().out.count("✓") == 4


@pytest.mark.parametrize("kw,message", [
    (dict(bn_eps=0.8), "eriklindernoren"),
    (dict(order="act_bn"), "in that order"),
    (dict(act=nn.ReLU), "not ReLU"),
    (dict(bn_out=True), "output layer"),
    (dict(with_bn=False), "found BatchNorm over nothing"),
    (dict(out_act=nn.Sigmoid), "in that order"),  # sigmoid output: images in [0, 1] differ from tanh's
])
def test_check_course_G_bn_names_the_mistake(kw, message):
    with pytest.raises(GradingError, match=message):
        grading.check_course_G_bn(lambda z_dim=100: _G(z_dim=z_dim, **kw))


def test_check_course_G_bn_out_of_range_and_wrong_sizes():
    class NoTanh(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = _G(out_act=nn.Identity)

        def forward(self, z):
            return self.net(z) * 10
    with pytest.raises(GradingError, match="\\[−1, 1\\]"):
        grading.check_course_G_bn(lambda z_dim=100: NoTanh())
    with pytest.raises(GradingError, match="Linear layers should be"):
        grading.check_course_G_bn(lambda z_dim=100: nets.MLPGenerator([100, 256, 784], out_act="tanh", batchnorm=True))
    assert math.isclose(nets.course_G(batchnorm=True).hidden[1].eps, 1e-5)
