"""The core checkers (losses of chapter 01, gradient penalty, R1) and the building blocks: correct
answers written in several ways pass; realistic wrong answers fail with a message naming the mistake."""
import functools
import math

import pytest
import torch
import torch.nn.functional as F
from torch.func import grad, vmap

from gantut import grading as G
from gantut import losses as L


from grading_helpers import fails_with  # noqa: E402  (tests/ is on sys.path under pytest)


def stub(*args):
    raise NotImplementedError


# --- building blocks ---------------------------------------------------------------------------


def test_grading_error_is_an_assertion_error():
    assert issubclass(G.GradingError, AssertionError)


def test_check_close():
    assert G.check_close(torch.tensor(1.0), 1.0 + 1e-7, "x") is None
    assert G.check_close(torch.tensor([1.0, 2.0]), [1.0, 2.0], "v") is None
    with pytest.raises(G.GradingError, match=r"the loss: expected 2, got 3\. try harder"):
        G.check_close(3.0, 2.0, "the loss", hint="try harder")
    with pytest.raises(G.GradingError, match=r"expected shape \(2,\), got shape \(3,\)"):
        G.check_close(torch.zeros(3), torch.zeros(2), "v")
    with pytest.raises(G.GradingError, match="non-finite"):
        G.check_close(float("nan"), 0.0, "x")
    with pytest.raises(G.GradingError, match="not a number or a tensor"):
        G.check_close("abc", 0.0, "x")


def test_check_shape():
    G.check_shape(torch.zeros(4, 1, 28, 28), (None, 1, 28, 28), "images")
    with pytest.raises(G.GradingError, match=r"should have shape \(any, 1, 28, 28\), got \(4, 784\)"):
        G.check_shape(torch.zeros(4, 784), (None, 1, 28, 28), "images")
    with pytest.raises(G.GradingError, match="torch.Tensor"):
        G.check_shape([1, 2], (2,), "v")


def test_check_scalar():
    assert G.check_scalar(torch.tensor(2.5), "loss") == 2.5
    with pytest.raises(G.GradingError, match="Python number"):
        G.check_scalar(2.5, "loss")
    with pytest.raises(G.GradingError, match=r"shape \(4, 1\).*\.mean\(\)"):
        G.check_scalar(torch.zeros(4, 1), "loss")
    with pytest.raises(G.GradingError, match=r"shape \(1,\)"):
        G.check_scalar(torch.zeros(1), "loss")
    with pytest.raises(G.GradingError, match="not finite"):
        G.check_scalar(torch.tensor(float("inf")), "loss")


def test_check_callable_turns_errors_into_advice():
    assert G.check_callable(lambda a: a + 1, "f")(1) == 2
    with pytest.raises(G.GradingError, match="you have not implemented my_loss yet"):
        G.check_callable(stub, "my_loss")(torch.zeros(2))
    with pytest.raises(G.GradingError, match="should be a function"):
        G.check_callable(3, "my_loss")

    def broken(t):
        return t.view(3, 5)  # a shape mistake inside the student's code

    with pytest.raises(G.GradingError) as info:
        G.check_callable(broken, "my_loss")(torch.zeros(2))
    msg = str(info.value)
    assert "my_loss(tensor(2,)) raised RuntimeError" in msg and "in broken, line" in msg and "t.view(3, 5)" in msg
    assert isinstance(info.value.original, RuntimeError)
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no raw torch traceback shown


def test_check_callable_hints_at_logits_when_bce_crashes():
    # binary_cross_entropy refuses negative inputs; the message points to the logits version
    call = G.check_callable(lambda r: F.binary_cross_entropy(r, torch.ones_like(r)), "d_loss")
    with pytest.raises(G.GradingError, match="binary_cross_entropy_with_logits"):
        call(torch.tensor([-1.0]))


def test_an_error_while_using_the_result_is_explained_with_the_formula():
    from gantut.grading import core

    @core._graded("y = 2·x")
    def check_toy(fn, name="toy"):
        return fn(3)[0] + 1  # the checker uses what fn returned

    with pytest.raises(G.GradingError) as info:
        check_toy(lambda x: None)
    msg = str(info.value)
    assert msg.startswith("Checking toy: using what it returned raised TypeError") and "Expected: y = 2·x." in msg
    assert check_toy.formula == "y = 2·x"


def test_backward_inside_the_penalty_is_explained():
    def r1_calls_backward(D, real, gamma):
        p = r1_notebook(D, real, gamma)
        p.backward()  # the student's training-loop habit, inside the penalty
        return p
    fails_with(G.check_r1, r1_calls_backward, "raised RuntimeError", "do not call .backward() inside the function")


# --- shortcut policy ---------------------------------------------------------------------------


@pytest.mark.parametrize("checker,fn", [
    (G.check_d_loss, L.d_loss_minimax),
    (G.check_g_loss_nonsaturating, L.g_loss_nonsaturating),
    (G.check_g_loss_nonsaturating, L.g_loss_nonsat),
    (G.check_gradient_penalty, L.gradient_penalty),
    (G.check_gradient_penalty, functools.partial(L.gradient_penalty, generator=None)),
    (G.check_r1, L.r1_penalty),
])
def test_the_library_implementation_is_refused(checker, fn):
    fails_with(checker, fn, "gantut's own code", "shortcut policy", "docs/instructors.md")


def test_a_grading_module_function_is_refused():
    from gantut.grading import core
    fails_with(G.check_g_loss_nonsaturating, core._clamped_log, "gantut.grading.core._clamped_log", "gantut's own code")
    with pytest.raises(G.GradingError, match="gantut's own code"):
        G.refuse_shortcut(G.check_close, "x")
    G.refuse_shortcut(lambda x: x, "x")  # the student's own function is fine


EXERCISE_SIGNATURES = {("real_logits", "fake_logits"), ("fake_logits",), ("x", "mu", "sigma", "n_std"), ("z_dim",),
                       ("D", "real", "fake"), ("d",), ("e", "mu", "sigma2"), ("D", "params", "real", "fake", "lr", "d_loss"),
                       ("D", "real", "gamma"), ("logits", "D_M", "epsilon", "gamma")}


def test_no_reference_solution_is_importable_from_the_grading_modules():
    import inspect

    from gantut.grading import ch01_02, ch03_06_07, ch04_05, ch08, core
    for module in (core, ch01_02, ch03_06_07, ch04_05, ch08):
        funcs = {n: v for n, v in vars(module).items() if inspect.isfunction(v) and v.__module__ == module.__name__}
        assert funcs, module.__name__
        assert [n for n in funcs if "reference" in n] == [], module.__name__
        same_signature = [n for n, v in funcs.items() if tuple(inspect.signature(v).parameters) in EXERCISE_SIGNATURES]
        assert same_signature == [], (module.__name__, same_signature)


# --- D loss ------------------------------------------------------------------------------------


def _stable_bce(x, y):
    """Library-free BCE with logits: max(x, 0) − x·y + log(1 + e^(−|x|))."""
    return (x.clamp(min=0) - x * y + torch.log1p(torch.exp(-x.abs()))).mean()


D_LOSS_CORRECT = {
    "softplus": lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(),
    "bce_with_logits": lambda r, f: (F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
                                     + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))),
    "module": lambda r, f: torch.nn.BCEWithLogitsLoss()(r, torch.ones_like(r)) + torch.nn.BCEWithLogitsLoss()(
        f, torch.zeros_like(f)),
    "logsigmoid": lambda r, f: -F.logsigmoid(r).mean() - F.logsigmoid(-f).mean(),
    "explicit_stable": lambda r, f: _stable_bce(r, torch.ones_like(r)) + _stable_bce(f, torch.zeros_like(f)),
}


@pytest.mark.parametrize("name", sorted(D_LOSS_CORRECT))
def test_check_d_loss_accepts(name, capsys):
    assert G.check_d_loss(D_LOSS_CORRECT[name]) is None
    out = capsys.readouterr().out
    assert out.count("✓") == 3 and "2·ln 2 = 1.3863" in out


def _d_in_place(r, f):
    r.neg_()  # modifies the caller's logits
    return F.softplus(r).mean() + F.softplus(f).mean()


def _d_naive(r, f):
    return -torch.log(torch.sigmoid(r)).mean() - torch.log(1 - torch.sigmoid(f)).mean()


D_LOSS_WRONG = [
    ("stub", stub, "you have not implemented d_loss yet"),
    ("swapped", lambda r, f: F.softplus(-f).mean() + F.softplus(r).mean(), "swapped"),
    ("batch_sum", lambda r, f: F.softplus(-r).sum() + F.softplus(f).sum(), "sum over the batch"),
    ("sign", lambda r, f: -(F.softplus(-r).mean() + F.softplus(f).mean()), "sign is wrong"),
    ("log_of_logits", lambda r, f: -torch.log(r).mean() - torch.log(1 - f).mean(), "not probabilities"),
    ("bce_on_logits", lambda r, f: F.binary_cross_entropy(r.clamp(0, 1), torch.ones_like(r))
     + F.binary_cross_entropy(f.clamp(0, 1), torch.zeros_like(f)), "treated the logits as probabilities"),
    ("concatenated", lambda r, f: F.binary_cross_entropy_with_logits(
        torch.cat([r, f]), torch.cat([torch.ones_like(r), torch.zeros_like(f)])), "concatenated"),
    ("concatenated_times_two", lambda r, f: 2 * F.binary_cross_entropy_with_logits(
        torch.cat([r, f]), torch.cat([torch.ones_like(r), torch.zeros_like(f)])), "weights the terms by batch size"),
    ("sigmoid_twice", lambda r, f: F.softplus(-torch.sigmoid(r)).mean() + F.softplus(torch.sigmoid(f)).mean(),
     "applied σ twice"),
    ("real_only", lambda r, f: F.softplus(-r).mean(), "Only the real term"),
    ("fake_only", lambda r, f: F.softplus(f).mean(), "Only the fake term"),
    ("fake_sign", lambda r, f: F.softplus(-r).mean() - F.softplus(f).mean(), "fake term has the wrong sign"),
    ("item", lambda r, f: (F.softplus(-r).mean() + F.softplus(f).mean()).item(), "Python number"),
    ("no_mean", lambda r, f: F.softplus(-r) + F.softplus(f), "0-d tensor"),
    ("detached", lambda r, f: (F.softplus(-r).mean() + F.softplus(f).mean()).detach(), "no gradient"),
    ("half_detached", lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean().detach(), "gradient with respect to"),
    ("elementwise_sum", lambda r, f: (F.softplus(-r) + F.softplus(f)).mean(), "different sizes"),
    ("in_place", _d_in_place, "in place"),
    ("naive_log_sigmoid", _d_naive, "overflows"),
    ("on_gpu", lambda r, f: F.softplus(-r.cuda()).mean() + F.softplus(f).mean(), "GPU"),
]


@pytest.mark.parametrize("name,fn,fragment", D_LOSS_WRONG, ids=[w[0] for w in D_LOSS_WRONG])
def test_check_d_loss_names_the_mistake(name, fn, fragment):
    fails_with(G.check_d_loss, fn, fragment)


def test_check_d_loss_stability_is_optional():
    msg = fails_with(G.check_d_loss, _d_naive, "overflows", "softplus")
    assert "real=[-200, 3]" in msg
    G.check_d_loss(_d_naive, stable=False)


# --- G loss ------------------------------------------------------------------------------------


G_LOSS_CORRECT = {
    "softplus": lambda f: F.softplus(-f).mean(),
    "bce_with_logits": lambda f: F.binary_cross_entropy_with_logits(f, torch.ones_like(f)),
    "logsigmoid": lambda f: -F.logsigmoid(f).mean(),
    "explicit_stable": lambda f: _stable_bce(f, torch.ones_like(f)),
}


@pytest.mark.parametrize("name", sorted(G_LOSS_CORRECT))
def test_check_g_loss_accepts(name, capsys):
    assert G.check_g_loss_nonsaturating(G_LOSS_CORRECT[name]) is None
    assert capsys.readouterr().out.count("✓") == 3


G_LOSS_WRONG = [
    ("stub", stub, "you have not implemented g_loss yet"),
    ("saturating", lambda f: -F.softplus(f).mean(), "saturating loss"),
    ("label_zero", lambda f: F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)), "label 0"),
    ("batch_sum", lambda f: F.softplus(-f).sum(), "sum over the batch"),
    ("sign", lambda f: -F.softplus(-f).mean(), "sign is wrong"),
    ("log_of_logits", lambda f: -torch.log(f).mean(), "not probabilities"),
    ("naive", lambda f: -torch.log(torch.sigmoid(f)).mean(), "overflows"),
    ("wgan", lambda f: -f.mean(), "WGAN generator loss"),
    ("sigmoid_twice", lambda f: F.softplus(-torch.sigmoid(f)).mean(), "applied σ twice"),
    ("item", lambda f: F.softplus(-f).mean().item(), "Python number"),
    ("detached", lambda f: F.softplus(-f).mean().detach(), "no gradient"),
]


@pytest.mark.parametrize("name,fn,fragment", G_LOSS_WRONG, ids=[w[0] for w in G_LOSS_WRONG])
def test_check_g_loss_names_the_mistake(name, fn, fragment):
    fails_with(G.check_g_loss_nonsaturating, fn, fragment)


# --- gradient penalty --------------------------------------------------------------------------


def _grad(D, x_hat, reduce="sum", create_graph=True):
    x_hat = x_hat.detach().requires_grad_(True)
    out = D(x_hat)
    out = out.sum() if reduce == "sum" else out.mean()
    return torch.autograd.grad(out, x_hat, create_graph=create_graph)[0]


def _interp(real, fake, alpha_shape="sample", dist="rand"):
    N = real.shape[0]
    shape = {"sample": (N,) + (1,) * (real.dim() - 1), "batch": (1,) * real.dim(), "pixel": real.shape}[alpha_shape]
    alpha = torch.rand(shape) if dist == "rand" else torch.randn(shape)
    return alpha * real + (1 - alpha) * fake


def gp_variant(norm="flat", squared=False, lam=1.0, reduce="sum", create_graph=True, alpha_shape="sample",
               dist="rand", at=None, square=True, one_sided=False, batch_mean="mean"):
    def gp(D, real, fake):
        x_hat = {None: None, "real": real, "fake": fake, "half": 0.5 * real + 0.5 * fake}[at]
        if x_hat is None:
            x_hat = _interp(real, fake, alpha_shape, dist)
        g = _grad(D, x_hat, reduce, create_graph)
        if norm == "whole_batch":
            return lam * (g.norm() - 1) ** 2
        n = g.flatten(1).norm(2, dim=1) if norm == "flat" else g.norm(2, dim=1)
        if squared:
            n = n ** 2
        d = n - 1
        if one_sided:
            d = d.clamp(min=0)
        d = (d ** 2) if square else d
        return lam * (d.mean() if batch_mean == "mean" else d.sum())
    return gp


def gp_notebook(D, real, fake):
    alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    (g,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    return ((g.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def gp_vmap(D, real, fake):
    alpha = torch.rand(real.shape[0], 1, 1, 1)
    x_hat = alpha * real + (1 - alpha) * fake
    g = vmap(grad(lambda x: D(x.unsqueeze(0)).squeeze()))(x_hat)
    return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()


def gp_grad_outputs(D, real, fake):
    alpha = torch.empty(real.size(0), 1, 1, 1).uniform_(0, 1)
    x_hat = (alpha * fake + (1 - alpha) * real).detach().requires_grad_()  # the other orientation
    out = D(x_hat)
    (g,) = torch.autograd.grad(out, x_hat, grad_outputs=torch.ones_like(out), create_graph=True)
    n = torch.sqrt(g.pow(2).sum(dim=(1, 2, 3)) + 1e-12)  # a numerically safe norm
    return ((n - 1) ** 2).mean()


def gp_linalg(D, real, fake):
    alpha = torch.rand(real.shape[0], device=real.device).view(-1, 1, 1, 1)
    x_hat = torch.lerp(fake, real, alpha).requires_grad_(True)
    (g,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    return (torch.linalg.vector_norm(g, ord=2, dim=(1, 2, 3)) - 1).pow(2).mean()


GP_CORRECT = {"notebook": gp_notebook, "vmap_grad": gp_vmap, "grad_outputs_safe_norm": gp_grad_outputs,
              "lerp_linalg": gp_linalg, "helper_style": gp_variant()}


@pytest.mark.parametrize("name", sorted(GP_CORRECT))
def test_check_gradient_penalty_accepts(name, capsys):
    assert G.check_gradient_penalty(GP_CORRECT[name]) is None
    assert capsys.readouterr().out.count("✓") == 3


def test_check_gradient_penalty_keeps_the_notebook_rng():
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    G.check_gradient_penalty(gp_notebook)
    assert torch.equal(torch.rand(3), before)


_FIXED_ALPHA = torch.rand(6, 1, 1, 1)


def _gp_alpha_drawn_once(D, real, fake):
    alpha = _FIXED_ALPHA[: real.shape[0]]
    return gp_notebook_at(D, alpha * real + (1 - alpha) * fake)


def gp_notebook_at(D, x_hat):
    x_hat = x_hat.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    return ((g.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def _gp_alpha_2d(D, real, fake):  # α of shape (N, 1) does not broadcast over N×C×H×W images
    alpha = torch.rand(real.shape[0], 1)
    return gp_notebook_at(D, alpha * real + (1 - alpha) * fake)


def _gp_no_requires_grad(D, real, fake):
    x_hat = 0.5 * real + 0.5 * fake
    g = torch.autograd.grad(D(x_hat).sum(), x_hat)[0]
    return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()


def _gp_in_place(D, real, fake):
    alpha = torch.rand(real.shape[0], 1, 1, 1)
    x_hat = real.mul_(alpha).add_((1 - alpha) * fake)  # overwrites the caller's real batch
    return gp_notebook_at(D, x_hat)


GP_WRONG = [
    ("stub", stub, "you have not implemented gradient_penalty yet"),
    ("norm_dim1", gp_variant(norm="dim1"), "dim=1"),
    ("squared_norm", gp_variant(squared=True), "squared norm"),
    ("times_lambda", gp_variant(lam=10.0), "WITHOUT λ"),
    ("mean_before_grad", gp_variant(reduce="mean"), "D(x̂).mean()"),
    ("not_squared", gp_variant(square=False), "Square the difference"),
    ("one_sided", gp_variant(one_sided=True), "one-sided"),
    ("batch_sum", gp_variant(batch_mean="sum"), "sum over the batch"),
    ("whole_batch_norm", gp_variant(norm="whole_batch"), "whole batch"),
    ("no_create_graph", gp_variant(create_graph=False), "create_graph=True"),
    ("alpha_per_batch", gp_variant(alpha_shape="batch"), "same α"),
    ("alpha_per_pixel", gp_variant(alpha_shape="pixel"), "separate α for every pixel"),
    ("alpha_randn", gp_variant(dist="randn"), "outside [0, 1]"),
    ("at_real", gp_variant(at="real"), "at the real data"),
    ("at_fake", gp_variant(at="fake"), "at the fake data"),
    ("alpha_half", gp_variant(at="half"), "always 0.500"),
    ("alpha_drawn_once", _gp_alpha_drawn_once, "every call uses the same α"),
    ("unsqueezed", lambda D, real, fake: gp_notebook(D, real, fake).unsqueeze(0), "0-d tensor"),
    ("alpha_2d", _gp_alpha_2d, "torch.rand(N, 1, 1, 1)"),
    ("no_requires_grad", _gp_no_requires_grad, "requires_grad_(True)"),
    ("in_place", _gp_in_place, "in place"),
]


@pytest.mark.parametrize("name,fn,fragment", GP_WRONG, ids=[w[0] for w in GP_WRONG])
def test_check_gradient_penalty_names_the_mistake(name, fn, fragment):
    fails_with(G.check_gradient_penalty, fn, fragment)


def test_check_gradient_penalty_message_gives_the_case():
    msg = fails_with(G.check_gradient_penalty, gp_variant(norm="dim1"), "‖∇D‖ = ‖w‖ = 1", "dim=1")
    assert "it should be 0" in msg


# --- R1 ----------------------------------------------------------------------------------------


def r1_variant(half=True, square=True, gp_form=False, reduce="sum", create_graph=True, fixed_gamma=None,
               pixel_mean=False, batch="mean", gamma_factor=None):
    def r1(D, real, gamma):
        gamma = fixed_gamma if fixed_gamma is not None else gamma
        g = _grad(D, real, reduce, create_graph).flatten(1)
        n2 = g.pow(2).mean(1) if pixel_mean else g.pow(2).sum(1)
        if not square:
            n2 = n2.sqrt()
        if gp_form:
            n2 = (n2.sqrt() - 1) ** 2
        factor = gamma_factor if gamma_factor is not None else (gamma / 2 if half else gamma)
        return factor * (n2.mean() if batch == "mean" else n2.sum())
    return r1


def r1_notebook(D, real, gamma):
    x = real.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return 0.5 * gamma * g.flatten(1).pow(2).sum(dim=1).mean()


def r1_vmap(D, real, gamma):
    g = vmap(grad(lambda x: D(x[None]).sum()))(real)
    return gamma / 2 * (g * g).sum(dim=(1, 2, 3)).mean()


def r1_grad_outputs(D, real, gamma):
    x = real.clone().requires_grad_()
    out = D(x)
    (g,) = torch.autograd.grad(outputs=out, inputs=x, grad_outputs=torch.ones_like(out), create_graph=True)
    return gamma * 0.5 * torch.linalg.vector_norm(g.reshape(g.shape[0], -1), dim=1).square().mean()


R1_CORRECT = {"notebook": r1_notebook, "vmap_grad": r1_vmap, "grad_outputs": r1_grad_outputs,
              "helper_style": r1_variant()}


@pytest.mark.parametrize("name", sorted(R1_CORRECT))
def test_check_r1_accepts(name, capsys):
    assert G.check_r1(R1_CORRECT[name]) is None
    assert capsys.readouterr().out.count("✓") == 3


def _r1_at_zero(D, real, gamma):
    return r1_notebook(D, torch.zeros_like(real), gamma)


def _r1_norm_mean_squared(D, real, gamma):
    x = real.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return gamma / 2 * g.flatten(1).norm(dim=1).mean() ** 2


def _r1_in_place(D, real, gamma):
    real.requires_grad_(False).mul_(1.5)  # "rescales" the caller's batch
    return r1_notebook(D, real / 1.5, gamma)


R1_WRONG = [
    ("stub", stub, "you have not implemented r1_penalty yet"),
    ("no_half", r1_variant(half=False), "omitted the ½"),
    ("norm_not_squared", r1_variant(square=False), "its square"),
    ("gp_form", r1_variant(gp_form=True), "WGAN-GP form"),
    ("mean_before_grad", r1_variant(reduce="mean"), "D(x).mean()"),
    ("no_create_graph", r1_variant(create_graph=False), "create_graph=True"),
    ("fixed_gamma", r1_variant(fixed_gamma=10.0), "gamma argument"),
    ("at_zero", _r1_at_zero, "not taken at the real data"),
    ("batch_sum", r1_variant(batch="sum"), "sum over the batch"),
    ("pixel_mean", r1_variant(pixel_mean=True), "averaged the squared gradient over the pixels"),
    ("no_gamma_factor", r1_variant(gamma_factor=1.0), "γ/2 factor is missing"),
    ("norm_mean_squared", _r1_norm_mean_squared, "averaged the norms before squaring"),
    ("in_place", _r1_in_place, "in place"),
]


@pytest.mark.parametrize("name,fn,fragment", R1_WRONG, ids=[w[0] for w in R1_WRONG])
def test_check_r1_names_the_mistake(name, fn, fragment):
    fails_with(G.check_r1, fn, fragment)


def test_check_r1_message_gives_values():
    msg = fails_with(G.check_r1, r1_variant(half=False), "omitted the ½", "γ = 20")
    assert "returned 90" in msg and "should be 45" in msg


def test_every_core_checker_states_its_formula():
    for checker in (G.check_d_loss, G.check_g_loss_nonsaturating, G.check_gradient_penalty, G.check_r1):
        assert isinstance(checker.formula, str) and len(checker.formula) > 20
    # an unknown wrong value falls back to the formula
    msg = fails_with(G.check_d_loss, lambda r, f: F.softplus(-r).mean() + 0.3 * F.softplus(f).mean(), "Expected L_D =")
    assert math.isfinite(float(msg.split("returned ")[1].split(";")[0]))
