"""Chapter 11 checkers (seed 000's orthogonal pairs and the LFM term): correct answers written several ways pass;
the named mistakes fail with a message that names them."""
import pytest
import torch

from gantut import grading, lfm

from grading_helpers import fails_with  # noqa: E402  (tests/ is on sys.path under pytest)


def _pairs_loop(B, d, T, draw=torch.randn, sign=-1.0, tested=1):
    """Algorithm 1 pair by pair; the keyword arguments make the named mistakes (``draw`` the sampler, ``sign`` of the
    solved coordinate, ``tested`` which vector's last coordinate the rejection reads)."""
    firsts, seconds = [], []
    while len(firsts) < B // 2:
        n1, n2 = draw(d), draw(d)
        n2[-1] = sign * (n1[:-1] @ n2[:-1]) / n1[-1]
        if (n1, n2)[tested][-1].abs() <= T:
            firsts.append(n1)
            seconds.append(n2)
    return torch.stack(firsts + seconds)


def _pairs_vectorised(B, d, T):
    out1, out2 = torch.empty(0, d), torch.empty(0, d)
    while len(out1) < B // 2:
        n1, n2 = torch.randn(1000, d), torch.randn(1000, d)
        n2[:, -1] = -(n1[:, :-1] * n2[:, :-1]).sum(1) / n1[:, -1]
        keep = n2[:, -1].abs() <= T
        out1, out2 = torch.cat([out1, n1[keep]]), torch.cat([out2, n2[keep]])
    return torch.cat([out1[: B // 2], out2[: B // 2]])


def _adjacent(B, d, T):
    z = _pairs_loop(B, d, T)
    out = torch.empty_like(z)
    out[0::2], out[1::2] = z[: B // 2], z[B // 2:]
    return out


def _no_rejection(B, d, T):
    n1, n2 = torch.randn(B // 2, d), torch.randn(B // 2, d)
    n2[:, -1] = -(n1[:, :-1] * n2[:, :-1]).sum(1) / n1[:, -1]
    return torch.cat([n1, n2])


def _reseeded(B, d, T):
    torch.manual_seed(0)
    return _pairs_vectorised(B, d, T)


PAIRS_CORRECT = {"loop": _pairs_loop, "vectorised": _pairs_vectorised}
PAIRS_WRONG = [
    ("adjacent", _adjacent, "adjacent rows"),
    ("antipodal", lambda B, d, T: (lambda n: torch.cat([n, -n]))(torch.randn(B // 2, d)), "antipodal"),
    ("no_rejection", _no_rejection, "Reject those pairs"),
    ("wrong_sign", lambda B, d, T: _pairs_loop(B, d, T, sign=1.0), "sign of the solved coordinate"),
    ("tests_n1", lambda B, d, T: _pairs_loop(B, d, T, tested=0), "you tested n₁[d−1]"),
    ("uniform", lambda B, d, T: _pairs_loop(B, d, T, draw=lambda k: torch.rand(k) * 2 - 1), "torch.rand"),
    ("same_pair", lambda B, d, T: _pairs_loop(2, d, T)[[0] * (B // 2) + [1] * (B // 2)], "every pair is the same"),
    ("reseeded", _reseeded, "do not reseed"),
    ("wrong_shape", lambda B, d, T: _pairs_loop(B, d, T)[: B // 2], "tensor"),
]


@pytest.mark.parametrize("name", sorted(PAIRS_CORRECT))
def test_correct_pair_generators_pass(name, capsys):
    assert grading.check_orthogonal_pair_batch(PAIRS_CORRECT[name]) is None
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize("name,fn,fragment", PAIRS_WRONG, ids=[w[0] for w in PAIRS_WRONG])
def test_pair_mistakes_are_named(name, fn, fragment):
    fails_with(grading.check_orthogonal_pair_batch, fn, fragment)


def _dot_slices(f):
    h = len(f) // 2
    return (f[:h] * f[h:]).sum(1).mean()


def _dot_einsum(f):
    a, b = f.chunk(2)
    return torch.einsum("id,id->", a, b) / len(a)


def _dot_diag(f):
    a, b = f.chunk(2)
    return torch.diagonal(a @ b.T).mean()


DOT_CORRECT = {"slices": _dot_slices, "einsum": _dot_einsum, "diagonal": _dot_diag}
DOT_WRONG = [
    ("adjacent", lambda f: (f[0::2] * f[1::2]).sum(1).mean(), "adjacent rows"),
    ("wrong_axis", lambda f: (f[: len(f) // 2] * f[len(f) // 2:]).sum(0).mean(), "wrong axis"),
    ("mean_all", lambda f: (f[: len(f) // 2] * f[len(f) // 2:]).mean(), "R/d"),
    ("sum", lambda f: (f[: len(f) // 2] * f[len(f) // 2:]).sum(), "sum over the pairs"),
    ("abs", lambda f: _dot_slices(f).abs(), "|R|"),
    ("negative", lambda f: -_dot_slices(f), "sign is flipped"),
    ("code", lambda f: _dot_slices(f).abs() / 2, "reference code's"),
    ("all_combinations", lambda f: (f[: len(f) // 2] @ f[len(f) // 2:].T).mean(), "all B/2 × B/2"),
    ("detached", lambda f: _dot_slices(f).detach(), "no gradient"),
]


@pytest.mark.parametrize("name", sorted(DOT_CORRECT))
def test_correct_pair_dots_pass(name, capsys):
    assert grading.check_pair_dot(DOT_CORRECT[name]) is None
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize("name,fn,fragment", DOT_WRONG, ids=[w[0] for w in DOT_WRONG])
def test_pair_dot_mistakes_are_named(name, fn, fragment):
    fails_with(grading.check_pair_dot, fn, fragment)


def test_the_library_pair_dot_is_refused():
    fails_with(grading.check_pair_dot, lfm.pair_dot, "gantut's own code")


def test_stubs_say_not_implemented():
    def stub(*args):
        raise NotImplementedError()
    fails_with(grading.check_pair_dot, stub, "not implemented")
    fails_with(grading.check_orthogonal_pair_batch, stub, "not implemented")
