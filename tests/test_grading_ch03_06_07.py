"""Chapter 07 checker (the DRS acceptance probability; chapters 03 and 06 are in test_grading.py):
correct answers written in several ways pass; realistic wrong answers fail with a message naming
the mistake."""
import math

import pytest
import torch

from gantut import drs, grading


from grading_helpers import fails_with  # noqa: E402  (tests/ is on sys.path under pytest)


def ap_notebook(logits, D_M, epsilon, gamma):
    delta = logits - D_M
    F_hat = delta - torch.log(-torch.expm1(delta - epsilon)) - gamma
    return torch.sigmoid(F_hat)


def ap_log1p(logits, D_M, epsilon, gamma):
    delta = logits.double() - D_M
    return torch.sigmoid(delta - torch.log1p(-torch.exp(delta - epsilon)) - gamma)


def ap_explicit(logits, D_M, epsilon, gamma):
    """Library-free: 1 / (1 + e^(−F̂)) with the naive log(1 − e^t), in float64."""
    delta = logits.to(torch.float64) - D_M
    F_hat = delta - torch.log(1 - torch.exp(delta - epsilon)) - gamma
    return 1 / (1 + torch.exp(-F_hat))


def ap_loop(logits, D_M, epsilon, gamma):
    out = []
    for v in logits.flatten().tolist():
        d = v - D_M
        F_hat = d - math.log(-math.expm1(d - epsilon)) - gamma
        out.append(1 / (1 + math.exp(-F_hat)))
    return torch.tensor(out).reshape(logits.shape)


AP_CORRECT = {"notebook": ap_notebook, "log1p": ap_log1p, "explicit_float64": ap_explicit, "python_loop": ap_loop,
              "library_wrapper": lambda lg, M, e, g: drs.acceptance_probability(lg, M, e, g)}


@pytest.mark.parametrize("name", sorted(AP_CORRECT))
def test_check_acceptance_probability_accepts(name, capsys):
    assert grading.check_acceptance_probability(AP_CORRECT[name]) is None
    assert capsys.readouterr().out.count("✓") == 1


def ap_variant(sigmoid=True, eps_in_log=True, log_term=True, log_sign=-1, gamma_sign=-1, flip=False,
               batch_max=False, fixed_eps=None, use_gamma=True, reject=False):
    def fn(logits, D_M, epsilon, gamma):
        M = logits.max() if batch_max else D_M
        eps = fixed_eps if fixed_eps is not None else epsilon
        delta = (M - logits) if flip else (logits - M)
        term = torch.log(-torch.expm1(delta - eps if eps_in_log else delta)) if log_term else 0.0
        F_hat = delta + log_sign * term + (gamma_sign * gamma if use_gamma else 0.0)
        p = torch.sigmoid(F_hat) if sigmoid else F_hat
        return 1 - p if reject else p
    return fn


def _ap_in_place(logits, D_M, epsilon, gamma):
    logits -= D_M  # the caller's logits are now shifted
    return torch.sigmoid(logits - torch.log(-torch.expm1(logits - epsilon)) - gamma)


AP_WRONG = [
    ("stub", lambda lg, M, e, g: (_ for _ in ()).throw(NotImplementedError()), "not implemented"),
    ("F_hat", ap_variant(sigmoid=False), "σ(F̂)"),
    ("rejection", ap_variant(reject=True), "rejection probability"),
    ("eps_outside_log", ap_variant(eps_in_log=False), "ε is missing inside the log"),
    ("no_log_term", ap_variant(log_term=False), "term is missing"),
    ("log_sign", ap_variant(log_sign=+1), "sign of the log term"),
    ("gamma_sign", ap_variant(gamma_sign=+1), "sign of γ"),
    ("no_gamma", ap_variant(use_gamma=False), "γ is missing"),
    ("delta_flipped", ap_variant(flip=True), "not D_M minus the logit"),
    ("batch_max", ap_variant(batch_max=True), "use the D_M argument"),
    ("fixed_eps", ap_variant(fixed_eps=1e-8), "epsilon argument"),
    ("in_place", _ap_in_place, "in place"),
    ("returns_list", lambda lg, M, e, g: ap_notebook(lg, M, e, g).tolist(), "should return a tensor"),
    ("returns_mean", lambda lg, M, e, g: ap_notebook(lg, M, e, g).mean(), "one probability per logit"),
]


@pytest.mark.parametrize("name,fn,fragment", AP_WRONG, ids=[w[0] for w in AP_WRONG])
def test_check_acceptance_probability_names_the_mistake(name, fn, fragment):
    fails_with(grading.check_acceptance_probability, fn, fragment)


def test_check_acceptance_probability_refuses_the_library_function():
    fails_with(grading.check_acceptance_probability, drs.acceptance_probability, "gantut's own code")
    fails_with(grading.check_acceptance_probability, drs.f_hat, "gantut's own code")
