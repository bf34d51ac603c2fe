"""Chapter 04 (simplex vertices, mixture likelihood) and chapter 05 (one unrolled SGD step) checkers:
correct answers written in several ways pass; realistic wrong answers fail with a message naming
the mistake."""
import math

import pytest
import torch
from torch.func import functional_call

from gantut import grading, mdgan, unrolled


from grading_helpers import fails_with  # noqa: E402  (tests/ is on sys.path under pytest)


def stub(*args):
    raise NotImplementedError()


# ---------------------------------------------------------------- simplex vertices


def sv_notebook(d):
    a = (1 - math.sqrt(1 + d)) / d
    M = torch.cat([torch.eye(d, dtype=torch.float64), torch.full((d, 1), a, dtype=torch.float64)], dim=1)
    M = M - M.mean(dim=1, keepdim=True)
    return (M / torch.linalg.norm(M[:, 0])).T


def sv_projection(d):
    """Centre the standard basis of R^(d+1) and express it in an orthonormal basis of the hyperplane."""
    E = torch.eye(d + 1, dtype=torch.float64) - 1.0 / (d + 1)
    U, S, Vh = torch.linalg.svd(E)
    X = E @ U[:, :d]  # (d+1)×d coordinates
    return X / X.norm(dim=1, keepdim=True)


def sv_recursive(d):
    """Add one dimension at a time: the new vertex on the new axis, the old ones pushed down (float32)."""
    V = torch.tensor([[1.0], [-1.0]])
    for k in range(2, d + 1):
        V = torch.cat([V * math.sqrt(1 - 1 / k ** 2), torch.full((V.shape[0], 1), -1.0 / k)], dim=1)
        V = torch.cat([V, torch.cat([torch.zeros(1, k - 1), torch.ones(1, 1)], dim=1)])
    return V


def sv_rotated(d):
    Q, _ = torch.linalg.qr(torch.randn(d, d, dtype=torch.float64))
    return sv_notebook(d) @ Q


SV_CORRECT = {"notebook": sv_notebook, "projection": sv_projection, "recursive_float32": sv_recursive,
              "rotated": sv_rotated}


@pytest.mark.parametrize("name", sorted(SV_CORRECT))
def test_check_simplex_vertices_accepts(name, capsys):
    assert grading.check_simplex_vertices(SV_CORRECT[name]) is None
    assert capsys.readouterr().out.count("✓") == 4


def _sv_reference_bug(d):
    a = (1 - math.sqrt(1 + d)) / d
    M = torch.cat([torch.eye(d, dtype=torch.float64), torch.full((d, 1), a, dtype=torch.float64)], dim=1)
    M = M - M.mean(dim=1, keepdim=True)
    s = torch.zeros((), dtype=torch.float64)
    for x in M[:, 0]:
        s = torch.sqrt(s + x ** 2)  # the square root inside the loop
    return (M / s).T


def _sv_parts(d, centre=True, normalise=True, transpose=True, centre_dim=1, norm="vertex", normalise_first=False):
    a = (1 - math.sqrt(1 + d)) / d
    M = torch.cat([torch.eye(d, dtype=torch.float64), torch.full((d, 1), a, dtype=torch.float64)], dim=1)
    if normalise_first:
        M = M / M[:, 0].norm()
    if centre:
        M = M - M.mean(dim=centre_dim, keepdim=True)
    if normalise and not normalise_first:
        M = M / (M[:, 0].norm() if norm == "vertex" else M.norm())
    return M.T if transpose else M


def _sv_cross(d):
    """±e_1, ±e_2, ...: d+1 unit vectors centred on 0, but not equidistant (for d = 2, the notebook's)."""
    if d == 2:
        return sv_notebook(d)
    E = torch.eye(d, dtype=torch.float64)[: (d + 1) // 2]
    return torch.cat([E, -E])


SV_WRONG = [
    ("stub", stub, "not implemented"),
    ("reference_bug", _sv_reference_bug, "inside the loop"),
    ("not_normalised", lambda d: _sv_parts(d, normalise=False), "did not divide"),
    ("normalised_before_centring", lambda d: _sv_parts(d, normalise_first=True), "normalise AFTER centring"),
    ("not_centred", lambda d: _sv_parts(d, centre=False), "centred on 0"),
    ("centred_over_wrong_axis", lambda d: _sv_parts(d, centre_dim=0), "subtract the mean over the vertices"),
    ("no_transpose", lambda d: _sv_parts(d, transpose=False), "transpose"),
    ("matrix_norm", lambda d: _sv_parts(d, norm="matrix"), "norm of the whole matrix"),
    ("fixed_d", lambda d: sv_notebook(9), "use the d argument"),
    ("scaled", lambda d: math.sqrt(2) * sv_notebook(d), "divide every vertex by its Euclidean norm"),
    ("cross_polytope", lambda d: _sv_cross(d), "1.6330 apart"),
    ("list", lambda d: sv_notebook(d).tolist(), "torch.Tensor"),
    ("basis_of_R_d_plus_1", lambda d: torch.eye(d + 1) - 1 / (d + 1), "should have shape"),
]


@pytest.mark.parametrize("name,fn,fragment", SV_WRONG, ids=[w[0] for w in SV_WRONG])
def test_check_simplex_vertices_names_the_mistake(name, fn, fragment):
    fails_with(grading.check_simplex_vertices, fn, fragment)


# ---------------------------------------------------------------- mixture likelihood


def ml_notebook(e, mu, sigma2):
    d = mu.shape[1]
    sq = ((e[:, None, :] - mu[None, :, :]) ** 2).sum(-1)
    return ((2 * math.pi * sigma2) ** (-d / 2) * torch.exp(-sq / (2 * sigma2))).mean(1)


def ml_logsumexp(e, mu, sigma2):
    d, K = mu.shape[1], mu.shape[0]
    log_n = -0.5 * d * math.log(2 * math.pi * sigma2) - torch.cdist(e, mu.to(e)) ** 2 / (2 * sigma2)
    return torch.exp(torch.logsumexp(log_n, dim=1) - math.log(K))


def ml_distributions(e, mu, sigma2):
    normal = torch.distributions.Normal(mu[None], math.sqrt(sigma2))  # 1×K×d
    return normal.log_prob(e[:, None, :]).sum(-1).exp().mean(1)


def ml_loop(e, mu, sigma2):
    d = e.shape[1]
    total = torch.zeros(e.shape[0], dtype=e.dtype)
    for m in mu:
        total = total + torch.exp(-((e - m) ** 2).sum(1) / (2 * sigma2)) / (2 * math.pi * sigma2) ** (d / 2)
    return total / len(mu)


ML_CORRECT = {"notebook": ml_notebook, "logsumexp": ml_logsumexp, "torch_distributions": ml_distributions,
              "loop": ml_loop}


@pytest.mark.parametrize("name", sorted(ML_CORRECT))
def test_check_mixture_likelihood_accepts(name, capsys):
    assert grading.check_mixture_likelihood(ML_CORRECT[name]) is None
    assert capsys.readouterr().out.count("✓") == 5


def ml_variant(K_weight=True, const="d", exponent="2s2", squared=True, log=False, reduce_dim=1):
    def fn(e, mu, sigma2):
        d = mu.shape[1]
        sq = ((e[:, None, :] - mu[None, :, :]) ** 2).sum(-1)
        if not squared:
            sq = sq.sqrt()
        c = {"d": (2 * math.pi * sigma2) ** (-d / 2), "none": 1.0, "two": (2 * math.pi * sigma2) ** -1.0,
             "one": (2 * math.pi * sigma2) ** -0.5, "sigma": (2 * math.pi * math.sqrt(sigma2)) ** (-d / 2)}[const]
        denom = {"2s2": 2 * sigma2, "s2": sigma2, "2s": 2 * math.sqrt(sigma2)}[exponent]
        dens = c * torch.exp(-sq / denom)
        L = dens.mean(reduce_dim) if K_weight else dens.sum(reduce_dim)
        return L.log() if log else L
    return fn


def _ml_in_place(e, mu, sigma2):
    e -= mu.mean(0)  # "centre" the embeddings in place
    return ml_notebook(e, mu, sigma2)


ML_WRONG = [
    ("stub", stub, "not implemented"),
    ("sum_over_K", ml_variant(K_weight=False), "1/K"),
    ("no_constant", ml_variant(const="none"), "normalising"),
    ("constant_d_fixed_2", ml_variant(const="two"), "d fixed at 2"),
    ("constant_one_dim", ml_variant(const="one"), "one-dimensional constant"),
    ("sigma_in_constant", ml_variant(const="sigma"), "σ used where σ² belongs in the constant"),
    ("sigma_in_exponent", ml_variant(exponent="2s"), "σ used where σ² belongs in the exponent"),
    ("no_factor_2", ml_variant(exponent="s2"), "without the factor 2"),
    ("distance_not_squared", ml_variant(squared=False), "not squared"),
    ("log_likelihood", ml_variant(log=True), "returned log L"),
    ("mean_over_samples", ml_variant(reduce_dim=0), "over the K components (dim=1)"),
    ("in_place", _ml_in_place, "in place"),
    ("paired_rows", lambda e, mu, s2: (2 * math.pi * s2) ** (-mu.shape[1] / 2) * torch.exp(
        -((e - mu) ** 2).sum(1) / (2 * s2)), "every centre"),
]


@pytest.mark.parametrize("name,fn,fragment", ML_WRONG, ids=[w[0] for w in ML_WRONG])
def test_check_mixture_likelihood_names_the_mistake(name, fn, fragment):
    fails_with(grading.check_mixture_likelihood, fn, fragment)


# ---------------------------------------------------------------- one unrolled SGD step


def us_notebook(D, params, real, fake, lr, d_loss):
    loss = d_loss(functional_call(D, params, (real,)), functional_call(D, params, (fake,)))
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
    return {name: p - lr * g for (name, p), g in zip(params.items(), grads)}


def us_func_grad(D, params, real, fake, lr, d_loss):
    def loss(p):
        return d_loss(functional_call(D, p, real), functional_call(D, p, fake))
    grads = torch.func.grad(loss)(params)
    return {k: params[k] - lr * grads[k] for k in params}


def us_by_name(D, params, real, fake, lr, d_loss):
    names = sorted(params)  # a different order than params' own
    out_r, out_f = functional_call(D, params, (real,)), functional_call(D, params, (fake,))
    grads = torch.autograd.grad(d_loss(out_r, out_f), [params[n] for n in names], create_graph=True)
    new = {}
    for n, g in zip(names, grads):
        new[n] = params[n].sub(g, alpha=lr)
    return new


US_CORRECT = {"notebook": us_notebook, "torch_func_grad": us_func_grad, "sorted_names_sub": us_by_name}


@pytest.mark.parametrize("name", sorted(US_CORRECT))
def test_check_unrolled_sgd_step_accepts(name, capsys):
    assert grading.check_unrolled_sgd_step(US_CORRECT[name]) is None
    assert capsys.readouterr().out.count("✓") == 4


def _us_first_order(D, params, real, fake, lr, d_loss):
    loss = d_loss(functional_call(D, params, (real,)), functional_call(D, params, (fake,)))
    grads = torch.autograd.grad(loss, list(params.values()))
    return {k: p - lr * g for (k, p), g in zip(params.items(), grads)}


def _us_ascent(D, params, real, fake, lr, d_loss):
    new = us_notebook(D, params, real, fake, lr, d_loss)
    return {k: 2 * params[k] - v for k, v in new.items()}


def _us_swapped(D, params, real, fake, lr, d_loss):
    return us_notebook(D, params, fake, real, lr, d_loss)


def _us_in_place_D(D, params, real, fake, lr, d_loss):
    new = us_notebook(D, params, real, fake, lr, d_loss)
    with torch.no_grad():
        for k, p in D.named_parameters():
            p.copy_(new[k])
    return new


def _us_mutates_params(D, params, real, fake, lr, d_loss):
    new = us_notebook(D, params, real, fake, lr, d_loss)
    params.update(new)
    return params


def _us_hardcoded_bce(D, params, real, fake, lr, d_loss):
    bce = lambda r, f: torch.nn.functional.softplus(-r).mean() + torch.nn.functional.softplus(f).mean()  # noqa: E731
    return us_notebook(D, params, real, fake, lr, bce)


def _us_fixed_lr(D, params, real, fake, lr, d_loss):
    return us_notebook(D, params, real, fake, 0.1, d_loss)


def _us_module_call(D, params, real, fake, lr, d_loss):
    loss = d_loss(D(real), D(fake))  # D's own weights, not params
    grads = torch.autograd.grad(loss, list(D.parameters()), create_graph=True)
    return {k: p - lr * g for (k, p), g in zip(params.items(), grads)}


def _us_weights_only(D, params, real, fake, lr, d_loss):
    new = us_notebook(D, params, real, fake, lr, d_loss)
    return {k: (v if "weight" in k else params[k]) for k, v in new.items()}


def _us_detached(D, params, real, fake, lr, d_loss):
    return {k: v.detach() for k, v in us_notebook(D, params, real, fake, lr, d_loss).items()}


def _us_double_step(D, params, real, fake, lr, d_loss):
    return us_notebook(D, params, real, fake, 2 * lr, d_loss)


US_WRONG = [
    ("stub", stub, "not implemented"),
    ("first_order", _us_first_order, "create_graph"),
    ("ascent", _us_ascent, "stepped up the gradient"),
    ("swapped_real_fake", _us_swapped, "real and fake are swapped"),
    ("in_place_D", _us_in_place_D, "in place"),
    ("mutates_params", _us_mutates_params, "changed the params dict"),
    ("hardcoded_bce", _us_hardcoded_bce, "d_loss argument"),
    ("fixed_lr", _us_fixed_lr, "lr = 0.1; use the lr argument"),
    ("module_call", _us_module_call, "functional_call(D, params"),
    ("weights_only", _us_weights_only, "update every entry of params"),
    ("detached", _us_detached, "not connected to the graph"),
    ("double_step", _us_double_step, "twice too long"),
    ("returns_list", lambda D, params, real, fake, lr, d_loss: list(us_notebook(D, params, real, fake, lr, d_loss).values()),
     "should return a dict"),
]


@pytest.mark.parametrize("name,fn,fragment", US_WRONG, ids=[w[0] for w in US_WRONG])
def test_check_unrolled_sgd_step_names_the_mistake(name, fn, fragment):
    msg = fails_with(grading.check_unrolled_sgd_step, fn, fragment)
    if name == "swapped_real_fake":
        assert "stepped up" not in msg


# ---------------------------------------------------------------- shortcut policy


@pytest.mark.parametrize("checker,fn", [
    (grading.check_simplex_vertices, mdgan.simplex_vertices),
    (grading.check_mixture_likelihood, mdgan.mixture_likelihood),
    (grading.check_unrolled_sgd_step, unrolled.sgd_step),
])
def test_the_library_implementation_is_refused(checker, fn):
    fails_with(checker, fn, "gantut's own code")
