"""Chapter 04/05 checkers accept the reference solutions and name the usual mistakes."""
import math

import pytest
import torch
from torch.func import functional_call

from gantut import grading, mdgan
from gantut.grading import GradingError


def test_simplex_checker_accepts_the_reference():
    grading.check_simplex_vertices(mdgan.simplex_vertices)


def test_simplex_checker_names_the_reference_bug_and_missing_normalisation():
    with pytest.raises(GradingError, match="inside the loop"):
        grading.check_simplex_vertices(lambda d: mdgan.simplex_vertices(d, reference_bug=True))

    def unnormalised(d):
        mu = mdgan.simplex_vertices(d)
        return mu * math.sqrt(d / (d + 1))

    with pytest.raises(GradingError, match="did not divide"):
        grading.check_simplex_vertices(unnormalised)
    with pytest.raises(GradingError, match="not implemented"):
        grading.check_simplex_vertices(lambda d: (_ for _ in ()).throw(NotImplementedError()))


def test_likelihood_checker():
    grading.check_mixture_likelihood(mdgan.mixture_likelihood)
    with pytest.raises(GradingError, match="1/K"):
        grading.check_mixture_likelihood(lambda e, mu, s2: mdgan.mixture_likelihood(e, mu, s2) * len(mu))
    with pytest.raises(GradingError, match="normalising"):
        grading.check_mixture_likelihood(
            lambda e, mu, s2: mdgan.mixture_likelihood(e, mu, s2) * (2 * math.pi * s2) ** (mu.shape[1] / 2))


def _reference_step(D, params, real, fake, lr, d_loss):
    loss = d_loss(functional_call(D, params, (real,)), functional_call(D, params, (fake,)))
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
    return {k: p - lr * g for (k, p), g in zip(params.items(), grads)}


def test_unrolled_step_checker_accepts_the_reference_and_catches_first_order_and_sign():
    grading.check_unrolled_sgd_step(_reference_step)

    def first_order(D, params, real, fake, lr, d_loss):
        loss = d_loss(functional_call(D, params, (real,)), functional_call(D, params, (fake,)))
        grads = torch.autograd.grad(loss, list(params.values()))
        return {k: p - lr * g for (k, p), g in zip(params.items(), grads)}

    with pytest.raises(GradingError, match="create_graph"):
        grading.check_unrolled_sgd_step(first_order)

    def ascent(D, params, real, fake, lr, d_loss):
        new = _reference_step(D, params, real, fake, lr, d_loss)
        return {k: 2 * params[k] - v for k, v in new.items()}

    with pytest.raises(GradingError, match="minimises"):
        grading.check_unrolled_sgd_step(ascent)

    def in_place(D, params, real, fake, lr, d_loss):
        new = _reference_step(D, params, real, fake, lr, d_loss)
        with torch.no_grad():
            for k, p in params.items():
                p.copy_(new[k])
        return new

    with pytest.raises(GradingError, match="in place"):
        grading.check_unrolled_sgd_step(in_place)
