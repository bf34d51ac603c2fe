"""Chapter 01 (mode statistics) and chapter 02 (the course generator with BatchNorm) checkers:
correct answers written in several ways pass; realistic wrong answers fail with a message naming
the mistake."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gantut import grading, metrics, nets


from grading_helpers import fails_with  # noqa: E402  (tests/ is on sys.path under pytest)


# ---------------------------------------------------------------- chapter 01: mode statistics


def ms_notebook(x, mu, sigma, n_std=3.0):
    d_min, nearest = torch.cdist(x.double(), mu.double()).min(dim=1)
    hq = d_min < n_std * sigma
    counts = torch.bincount(nearest[hq], minlength=len(mu)).double()
    if counts.sum() == 0:
        return 0, 0.0, float("nan")
    p = counts / counts.sum()
    return int((counts > 0).sum()), hq.double().mean().item(), torch.special.xlogy(p, p * len(mu)).sum().item()


def ms_loops(x, mu, sigma, n_std=3.0):
    """Plain Python loops, no torch functions beyond indexing."""
    K = len(mu)
    counts = [0] * K
    n_hq = 0
    for point in x.tolist():
        dists = [math.dist(point, c) for c in mu.tolist()]
        k = min(range(K), key=lambda j: dists[j])
        if dists[k] < n_std * sigma:
            n_hq += 1
            counts[k] += 1
    total = sum(counts)
    rkl = sum(c / total * math.log(K * c / total) for c in counts if c > 0) if total else float("nan")
    return sum(c > 0 for c in counts), n_hq / len(x), rkl


def ms_numpy(x, mu, sigma, n_std=3.0):
    """NumPy, explicit broadcasting, torch.unique-style counting with np.unique."""
    X, C = x.double().numpy(), mu.double().numpy()
    d = np.sqrt(((X[:, None, :] - C[None, :, :]) ** 2).sum(-1))
    nearest, d_min = d.argmin(1), d.min(1)
    hq = d_min < n_std * sigma
    modes, counts = np.unique(nearest[hq], return_counts=True)
    if counts.sum() == 0:
        return 0, 0.0, float("nan")
    p = counts / counts.sum()
    return len(modes), float(hq.mean()), float(np.sum(p * np.log(p * len(C))))


class _Mix:
    def __init__(self, mu, sigma):
        self.centers, self.std = mu, sigma


def ms_via_library_metrics(x, mu, sigma, n_std=3.0):
    """Uses gantut.metrics.mode_metrics inside (a wrapper: not refused by the shortcut policy, which
    refuses only gantut's own function handed in as the answer)."""
    m = metrics.mode_metrics(x, _Mix(mu, sigma), n_std=n_std)
    return m.modes, m.hq, m.reverse_kl


MS_CORRECT = {"notebook": ms_notebook, "loops": ms_loops, "numpy": ms_numpy, "library_wrapper": ms_via_library_metrics}


@pytest.mark.parametrize("name", sorted(MS_CORRECT))
def test_check_mode_stats_accepts(name, capsys):
    assert grading.check_mode_stats(MS_CORRECT[name]) is None
    assert capsys.readouterr().out.count("✓") == 11


def ms_variant(percent=False, captured_only=False, all_samples=False, box=False, fixed_n_std=None, log2=False,
               sign=False, squared=False, sigma_sq=False, count=False, forward_kl=False, unnormalised=False):
    def fn(x, mu, sigma, n_std=3.0):
        n_std = fixed_n_std if fixed_n_std is not None else n_std
        s = sigma ** 2 if sigma_sq else sigma
        d = torch.cdist(x.double(), mu.double())
        if squared:
            d = d ** 2
        if box:
            diff = (x.double()[:, None] - mu.double()[None]).abs().max(-1).values
            d = torch.where(diff < n_std * s, d * 0, d + 1e3)
        d_min, k = d.min(1)
        hq = d_min < n_std * s
        which = torch.ones_like(hq) if all_samples else hq
        counts = torch.bincount(k[which], minlength=len(mu)).double()
        K = int((counts > 0).sum()) if captured_only else len(mu)
        if counts.sum() == 0:
            return 0, 0.0, float("nan")
        p = counts if unnormalised else counts / counts.sum()
        if forward_kl:
            u = torch.full_like(p, 1 / K)
            rkl = (u * torch.log(u / p)).sum().item()
        else:
            rkl = torch.special.xlogy(p, p * K).sum().item()
        if log2:
            rkl /= math.log(2)
        if sign:
            rkl = -rkl
        frac = hq.double().sum().item() if count else hq.double().mean().item() * (100 if percent else 1)
        return int((counts > 0).sum()), frac, rkl
    return fn


def _ms_in_place(x, mu, sigma, n_std=3.0):
    x.clamp_(-2, 2)  # "clip outliers" in the caller's tensor
    return ms_notebook(x, mu, sigma, n_std)


MS_WRONG = [
    ("stub", lambda x, mu, sigma, n_std=3.0: (_ for _ in ()).throw(NotImplementedError()), "not implemented"),
    ("percent", ms_variant(percent=True), "fraction in [0, 1]"),
    ("count_not_fraction", ms_variant(count=True), "FRACTION of HQ samples"),
    ("captured_only", ms_variant(captured_only=True), "uniform distribution over ALL K modes"),
    ("all_samples", ms_variant(all_samples=True), "HQ samples only"),
    ("box", ms_variant(box=True), "Euclidean distance"),
    ("fixed_n_std", ms_variant(fixed_n_std=3.0), "Use the n_std argument (here 2)"),
    ("log2", ms_variant(log2=True), "log base 2"),
    ("sign", ms_variant(sign=True), "check the sign"),
    ("squared_distance", ms_variant(squared=True), "not its square"),
    ("sigma_squared", ms_variant(sigma_sq=True), "not the variance"),
    ("forward_kl", ms_variant(forward_kl=True), "KL(U ‖ p)"),
    ("unnormalised", ms_variant(unnormalised=True), "Normalise the histogram"),
    ("returns_int", lambda x, mu, sigma, n_std=3.0: 8, "tuple"),
    ("returns_tensor", lambda x, mu, sigma, n_std=3.0: (torch.tensor([8, 8]), 1.0, 0.0), "three numbers"),
    ("in_place", _ms_in_place, "in place"),
]


@pytest.mark.parametrize("name,fn,fragment", MS_WRONG, ids=[w[0] for w in MS_WRONG])
def test_check_mode_stats_names_the_mistake(name, fn, fragment):
    fails_with(grading.check_mode_stats, fn, fragment)


def test_check_mode_stats_refuses_the_library_function():
    fails_with(grading.check_mode_stats, metrics.mode_metrics, "gantut's own code")


# ---------------------------------------------------------------- chapter 02: the BN generator


def g_notebook(z_dim=100):
    layers, sizes = [], [z_dim, 256, 512, 1024]
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers, nn.Linear(1024, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))


class GFunctional(nn.Module):
    """Module subclass: F.leaky_relu(x, 0.2) and torch.tanh in forward, no activation modules."""

    def __init__(self, z_dim=100):
        super().__init__()
        self.fc1, self.bn1 = nn.Linear(z_dim, 256), nn.BatchNorm1d(256)
        self.fc2, self.bn2 = nn.Linear(256, 512), nn.BatchNorm1d(512)
        self.fc3, self.bn3 = nn.Linear(512, 1024), nn.BatchNorm1d(1024)
        self.out = nn.Linear(1024, 784)

    def forward(self, z):
        h = F.leaky_relu(self.bn1(self.fc1(z)), 0.2)
        h = F.leaky_relu(self.bn2(self.fc2(h)), 0.2)
        h = F.leaky_relu(self.bn3(self.fc3(h)), 0.2)
        return torch.tanh(self.out(h)).view(-1, 1, 28, 28)


class GReused(nn.Module):
    """One nn.LeakyReLU(0.2) reused three times; hidden Linear(bias=False) before BatchNorm;
    modules registered in the reverse of the order forward uses them; N×784 output."""

    def __init__(self, z_dim=100):
        super().__init__()
        self.out = nn.Linear(1024, 784)
        self.norms = nn.ModuleList([nn.BatchNorm1d(1024), nn.BatchNorm1d(512), nn.BatchNorm1d(256)])
        self.lins = nn.ModuleList([nn.Linear(512, 1024, bias=False), nn.Linear(256, 512, bias=False),
                                   nn.Linear(z_dim, 256, bias=False)])
        self.act = nn.LeakyReLU(0.2)

    def forward(self, z):
        h = z
        for lin, bn in zip(reversed(self.lins), reversed(self.norms)):
            h = self.act(bn(lin(h)))
        return torch.tanh(self.out(h))


def g_module_list(z_dim=100):
    class G(nn.Module):
        def __init__(self):
            super().__init__()
            sizes = [z_dim, 256, 512, 1024]
            self.blocks = nn.ModuleList(
                nn.Sequential(nn.Linear(a, b), nn.BatchNorm1d(b, eps=1e-5, momentum=0.1), nn.LeakyReLU(0.2, inplace=True))
                for a, b in zip(sizes[:-1], sizes[1:]))
            self.head = nn.Sequential(nn.Linear(1024, 784), nn.Tanh())

        def forward(self, z):
            for b in self.blocks:
                z = b(z)
            return self.head(z).reshape(z.shape[0], 1, 28, 28)
    return G()


G_CORRECT = {
    "notebook_sequential": g_notebook,
    "module_functional": GFunctional,
    "reused_act_bias_free_reverse_registration": GReused,
    "module_list_inplace_act": g_module_list,
    "library_wrapper": lambda z_dim=100: nets.course_G(z_dim, batchnorm=True),
}


@pytest.mark.parametrize("name", sorted(G_CORRECT))
def test_check_course_G_bn_accepts(name, capsys):
    assert grading.check_course_G_bn(G_CORRECT[name]) is None
    assert capsys.readouterr().out.count("✓") == 2


def g_variant(z_dim=100, bn_eps=1e-5, order="bn_act", act=None, bn_out=False, out_act=nn.Tanh, with_bn=True,
              widths=(256, 512, 1024), momentum=0.1, dropout=0.0, bn=nn.BatchNorm1d, affine=True, out_bias=True,
              bn_layers=(0, 1, 2), ignore_z_dim=False):
    """A Sequential course generator with one classic mistake switched on."""
    layers, sizes = [], [100 if ignore_z_dim else z_dim, *widths]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        lin, ac = nn.Linear(a, b), (act or (lambda: nn.LeakyReLU(0.2)))()
        norm = bn(b, bn_eps, momentum, affine=affine) if (with_bn and i in bn_layers) else None
        block = [lin] + ([norm, ac] if order == "bn_act" else [ac, norm])
        layers += [m for m in block if m is not None]
        if dropout:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(widths[-1], 784, bias=out_bias))
    if bn_out:
        layers.append(nn.BatchNorm1d(784))
    layers += [out_act(), nn.Unflatten(1, (1, 28, 28))]
    return nn.Sequential(*layers)


class GDetached(GFunctional):
    def forward(self, z):
        return super().forward(z).detach()


class GSlopeDefault(GFunctional):
    def forward(self, z):  # F.leaky_relu's default slope is 0.01
        h = F.leaky_relu(self.bn1(self.fc1(z)))
        h = F.leaky_relu(self.bn2(self.fc2(h)))
        h = F.leaky_relu(self.bn3(self.fc3(h)))
        return torch.tanh(self.out(h))


class GNoTanhFunctional(GFunctional):
    def forward(self, z):
        h = F.leaky_relu(self.bn1(self.fc1(z)), 0.2)
        h = F.leaky_relu(self.bn2(self.fc2(h)), 0.2)
        h = F.leaky_relu(self.bn3(self.fc3(h)), 0.2)
        return self.out(h) * 10


def g_layernorm(z_dim=100):
    return nn.Sequential(nn.Linear(z_dim, 256), nn.LayerNorm(256), nn.LeakyReLU(0.2), nn.Linear(256, 512),
                         nn.LayerNorm(512), nn.LeakyReLU(0.2), nn.Linear(512, 1024), nn.LayerNorm(1024),
                         nn.LeakyReLU(0.2), nn.Linear(1024, 784), nn.Tanh())


G_WRONG = [
    ("stub", lambda z_dim=100: (_ for _ in ()).throw(NotImplementedError()), "not implemented"),
    ("returns_class", lambda z_dim=100: GFunctional, "returned the class GFunctional itself"),
    ("returns_tensor", lambda z_dim=100: torch.zeros(16, 784), "should return a torch.nn.Module"),
    ("eps_0.8", lambda z_dim=100: g_variant(z_dim, bn_eps=0.8), "eriklindernoren"),
    ("act_before_bn", lambda z_dim=100: g_variant(z_dim, order="act_bn"), "LeakyReLU before BatchNorm"),
    ("relu", lambda z_dim=100: g_variant(z_dim, act=nn.ReLU), "not ReLU"),
    ("leaky_default_slope_module", lambda z_dim=100: g_variant(z_dim, act=nn.LeakyReLU), "negative_slope=0.01"),
    ("leaky_default_slope_functional", GSlopeDefault, "slope is 0.01"),
    ("bn_on_output", lambda z_dim=100: g_variant(z_dim, bn_out=True), "output layer"),
    ("no_bn", lambda z_dim=100: g_variant(z_dim, with_bn=False), "found BatchNorm over nothing"),
    ("bn_missing_on_one_layer", lambda z_dim=100: g_variant(z_dim, bn_layers=(0, 1)), "found BatchNorm over [256, 512]"),
    ("sigmoid_output", lambda z_dim=100: g_variant(z_dim, out_act=nn.Sigmoid), "sigmoid"),
    ("no_tanh", GNoTanhFunctional, "[−1, 1]"),
    ("wrong_widths", lambda z_dim=100: g_variant(z_dim, widths=(128, 256, 512)), "Linear layers should be"),
    ("ignores_z_dim", lambda z_dim=100: g_variant(z_dim, ignore_z_dim=True), "z_dim argument"),
    ("momentum_0.8", lambda z_dim=100: g_variant(z_dim, momentum=0.8), "momentum"),
    ("dropout", lambda z_dim=100: g_variant(z_dim, dropout=0.3), "no dropout"),
    ("batchnorm2d", lambda z_dim=100: g_variant(z_dim, bn=nn.BatchNorm2d), "BatchNorm1d"),
    ("affine_false", lambda z_dim=100: g_variant(z_dim, affine=False), "affine=False"),
    ("output_without_bias", lambda z_dim=100: g_variant(z_dim, out_bias=False), "has no bias"),
    ("layernorm", g_layernorm, "LayerNorm"),
    ("detached_output", GDetached, "no gradient"),
]


@pytest.mark.parametrize("name,fn,fragment", G_WRONG, ids=[w[0] for w in G_WRONG])
def test_check_course_G_bn_names_the_mistake(name, fn, fragment):
    fails_with(grading.check_course_G_bn, fn, fragment)


def test_check_course_G_bn_structure_follows_forward_order_not_registration():
    class DeadLayers(GFunctional):  # extra modules registered but never called by forward: fine
        def __init__(self, z_dim=100):
            super().__init__(z_dim)
            self.unused = nn.Sequential(nn.Linear(100, 10), nn.BatchNorm1d(10, 0.8), nn.ReLU())

    grading.check_course_G_bn(DeadLayers)

    class SkipsOneBN(GFunctional):  # all three BatchNorms registered, forward uses two of them
        def forward(self, z):
            h = F.leaky_relu(self.bn1(self.fc1(z)), 0.2)
            h = F.leaky_relu(self.fc2(h), 0.2)
            h = F.leaky_relu(self.bn3(self.fc3(h)), 0.2)
            return torch.tanh(self.out(h))

    fails_with(grading.check_course_G_bn, SkipsOneBN, "found BatchNorm over [256, 1024]")


def test_check_course_G_bn_refuses_the_library_function():
    fails_with(grading.check_course_G_bn, nets.course_G, "gantut's own code")
