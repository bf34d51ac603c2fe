"""Check functions for the graded cells: they say what is wrong, not just that something is.

A graded cell calls a checker on the student's function::

    from gantut.grading import check_d_loss
    check_d_loss(d_loss)

On success each checked case prints a ``✓`` line and the checker returns None. Otherwise it raises
:class:`GradingError` (an ``AssertionError``, so nbgrader counts it as a failed test) whose message
gives the input, the expected and the found value, and, when the found value matches a common
mistake, names the mistake and the fix.

Building blocks for chapter checkers: :func:`check_close`, :func:`check_shape`,
:func:`check_scalar`, :func:`check_callable`.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "GradingError",
    "check_close",
    "check_shape",
    "check_scalar",
    "check_callable",
    "check_d_loss",
    "check_g_loss_nonsaturating",
    "check_gradient_penalty",
    "check_r1",
]


class GradingError(AssertionError):
    """A graded check failed. The message says what was expected, what was found and what to try."""


def _ok(msg: str) -> None:
    print(f"✓ {msg}")


def _fmt(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        if x.numel() == 1:
            return _fmt(x.item())
        return f"tensor of shape {tuple(x.shape)}: {x.detach().cpu().flatten()[:6].tolist()}"
    if isinstance(x, float):
        return f"{x:.6g}"
    return repr(x)


def _list(t: torch.Tensor) -> list[float]:
    return [round(v, 4) for v in t.flatten().tolist()]


def _as_float(x: Any) -> float:
    if isinstance(x, torch.Tensor):
        return float(x.detach().cpu().reshape(()).item())
    return float(x)


def _close(a: float, b: float, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= atol + rtol * abs(b)


# --------------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------------


def check_close(got: Any, expected: Any, what: str, hint: str = "", atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Raise GradingError unless ``got`` ≈ ``expected`` (numbers or tensors of the same shape)."""
    got_t = torch.as_tensor(got.detach().cpu() if isinstance(got, torch.Tensor) else got, dtype=torch.float64)
    exp_t = torch.as_tensor(
        expected.detach().cpu() if isinstance(expected, torch.Tensor) else expected, dtype=torch.float64
    )
    if got_t.shape != exp_t.shape:
        raise GradingError(
            f"{what}: expected shape {tuple(exp_t.shape)}, got shape {tuple(got_t.shape)}. {hint}".strip()
        )
    if not torch.isfinite(got_t).all():
        raise GradingError(f"{what}: expected {_fmt(expected)}, got a non-finite value {_fmt(got)}. {hint}".strip())
    if not torch.allclose(got_t, exp_t, atol=atol, rtol=rtol):
        raise GradingError(f"{what}: expected {_fmt(expected)}, got {_fmt(got)}. {hint}".strip())


def check_shape(t: Any, shape: Sequence[int | None], what: str) -> None:
    """Raise GradingError unless ``t`` is a tensor of ``shape`` (``None`` entries match any size)."""
    if not isinstance(t, torch.Tensor):
        raise GradingError(f"{what} should be a torch.Tensor of shape {tuple(shape)}, got {type(t).__name__}.")
    ok = t.dim() == len(shape) and all(s is None or s == n for s, n in zip(shape, t.shape))
    if not ok:
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        raise GradingError(f"{what} should have shape {want}, got {tuple(t.shape)}.")


def check_scalar(t: Any, what: str) -> float:
    """Raise GradingError unless ``t`` is a finite 0-d tensor (a loss); return its value."""
    if isinstance(t, (int, float)):
        raise GradingError(
            f"{what} returned a Python number ({t!r}); return the torch tensor instead (no .item() or "
            "float()), so that the loss can be backpropagated."
        )
    if not isinstance(t, torch.Tensor):
        raise GradingError(f"{what} should return a 0-d torch.Tensor, got {type(t).__name__}.")
    if t.dim() != 0:
        hint = (
            "did you forget to average over the batch with .mean()?"
            if t.numel() > 1
            else "return a 0-d tensor: average with .mean() over all elements instead of over one dim."
        )
        raise GradingError(f"{what} should return a 0-d tensor (a single number), got shape {tuple(t.shape)}: {hint}")
    value = _as_float(t)
    if not math.isfinite(value):
        raise GradingError(f"{what} returned {value}, which is not finite.")
    return value


def check_callable(fn: Any, name: str, hints: dict[str, str] | None = None) -> Callable[..., Any]:
    """Wrap the student's ``fn`` so that calling it turns a stub's ``NotImplementedError`` into
    "you have not implemented <name> yet", and any other exception into a GradingError naming it.

    ``hints`` maps a fragment of an error message to advice appended when that error occurs."""
    hints = {
        "between 0 and 1": "binary_cross_entropy expects probabilities but D returns logits: use "
                           "F.binary_cross_entropy_with_logits (or F.softplus).",
        **(hints or {}),
    }
    if not callable(fn):
        raise GradingError(f"{name} should be a function, got {type(fn).__name__}; define it with `def {name}(...)`.")

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NotImplementedError as e:
            raise GradingError(
                f"you have not implemented {name} yet: replace the `raise NotImplementedError` line with "
                "your code, then run its cell and this one again."
            ) from e
        except GradingError:
            raise
        except Exception as e:  # noqa: BLE001 - we re-raise with context
            shapes = ", ".join(
                f"tensor{tuple(a.shape)}" if isinstance(a, torch.Tensor)
                else "D" if isinstance(a, nn.Module) else repr(a) if isinstance(a, (int, float)) else type(a).__name__
                for a in args
            )
            text = str(e).rstrip(".")
            advice = " ".join(h for frag, h in hints.items() if frag in str(e))
            raise GradingError(f"{name}({shapes}) raised {type(e).__name__}: {text}. {advice}".rstrip()) from e

    return call


Case = tuple[str, float, Sequence[tuple[float, str]]]  # (description, expected, [(wrong value, message)])


def _run_cases(cases: Sequence[Case], results: Sequence[float | GradingError], hint: str) -> None:
    """Compare the student's results with the expected values, case by case.

    On the first failing case, name the mistake whose predicted values match the student's on
    every case that returned a number (the mistake lists of all cases are aligned), so that a
    coincidence on one input (e.g. logits 0) does not pick the wrong diagnosis."""
    for i, ((what, expected, mistakes), got) in enumerate(zip(cases, results)):
        if isinstance(got, GradingError):
            raise got
        if _close(got, expected):
            continue
        head = f"{what} returned {got:.6g}; it should be {expected:.6g}."
        for k, (value, message) in enumerate(mistakes):
            if _close(value, expected) or not _close(got, value):
                continue
            consistent = all(
                isinstance(r, GradingError) or not math.isfinite(c[2][k][0]) or _close(r, c[2][k][0])
                for c, r in zip(cases, results)
            )
            if consistent:
                raise GradingError(f"{head} {message}")
        raise GradingError(f"{head} {hint}")


def _collect(call: Callable, what: str, arg_lists: Sequence[tuple]) -> list[float | GradingError]:
    """Call the student's function on every case; keep the value, or the error it raised."""
    results: list[float | GradingError] = []
    for args in arg_lists:
        try:
            results.append(check_scalar(call(*args), what))
        except GradingError as e:
            results.append(e)
    return results


def _requires_grad_check(out: torch.Tensor, what: str, fix: str) -> None:
    if not out.requires_grad:
        raise GradingError(f"{what} has no gradient (requires_grad is False), so it cannot train anything: {fix}")


# --------------------------------------------------------------------------------------------
# chapter 02: minimax D loss and non-saturating G loss
# --------------------------------------------------------------------------------------------

_sp = F.softplus


def _clamped_log(p: torch.Tensor) -> torch.Tensor:
    # torch's binary_cross_entropy clamps log at -100
    return torch.log(p).clamp(min=-100.0)


def check_d_loss(fn: Callable, name: str = "d_loss", stable: bool = True) -> None:
    """Check a minimax discriminator loss ``fn(real_logits, fake_logits)``:
    L_D = −E log σ(D̃(x)) − E log(1 − σ(D̃(G(z)))), a batch mean, from logits.
    ``stable=True`` also requires a finite, exact value at logits ±200."""
    call = check_callable(fn, name)
    what = f"{name}(real_logits, fake_logits)"
    formula = "L_D = −E log σ(D̃(x)) − E log(1 − σ(D̃(G(z)))) = mean(softplus(−real)) + mean(softplus(fake))"

    def expected(r, f):
        return (_sp(-r).mean() + _sp(f).mean()).item()

    def mistakes(r, f):
        e = expected(r, f)
        prob = (-_clamped_log(r).mean() - _clamped_log(1 - f).mean()).item() if ((r >= 0) & (f <= 1)).all() else math.nan
        return [
            (e / 2, "That is half the expected value: you averaged the two terms (e.g. one BCE over the "
                    "concatenated real+fake batch). L_D is the SUM of the two expectations (2·ln 2 at logits 0)."),
            (-e, "The sign is wrong: L_D is a negative log-likelihood, so it is positive. Did you drop a minus sign?"),
            (expected(f, r), "Real and fake look swapped: D should push real logits up (label 1) and fake logits "
                             "down (label 0)."),
            ((_sp(-r).sum() + _sp(f).sum()).item(), "That is a sum over the batch; E means the batch average (.mean())."),
            (prob, "You treated the logits as probabilities (log(real), log(1 − fake)). D returns logits D̃; "
                   "use softplus or F.binary_cross_entropy_with_logits."),
            (prob / 2, "You treated the logits as probabilities and averaged the two terms. D returns logits D̃; "
                       "use softplus or F.binary_cross_entropy_with_logits, and sum the two expectations."),
            (expected(torch.sigmoid(r), torch.sigmoid(f)), "You applied σ twice: torch.sigmoid and then a loss that "
                                                           "applies σ itself (binary_cross_entropy_with_logits). Pass the raw logits."),
            (_sp(-r).mean().item(), "Only the real term is there; add the fake term −E log(1 − σ(D̃(G(z))))."),
            (_sp(f).mean().item(), "Only the fake term is there; add the real term −E log σ(D̃(x))."),
            ((_sp(-r).mean() - _sp(f).mean()).item(), "The fake term has the wrong sign: both terms are negative log-likelihoods."),
            ((_sp(f).mean() - _sp(-r).mean()).item(), "The real term has the wrong sign: both terms are negative log-likelihoods."),
        ]

    # 1. logits 0: σ = ½ for everything, L_D = 2·ln 2; the result must carry a gradient
    zeros_r = torch.zeros(4, 1, requires_grad=True)
    zeros_f = torch.zeros(4, 1, requires_grad=True)
    out = call(zeros_r, zeros_f)
    if isinstance(out, torch.Tensor) and out.dim() == 0 and not math.isfinite(_as_float(out)):
        raise GradingError(
            f"{what} is {_as_float(out)} for logits 0 (σ = ½), where it should be 2·ln 2 ≈ 1.3863. The inputs "
            "are logits (any real number), not probabilities: log(0) = −inf. Use softplus or "
            "F.binary_cross_entropy_with_logits."
        )
    check_scalar(out, what)
    _requires_grad_check(out, what, "do not call .item(), .detach() or NumPy inside the loss.")

    # 2. values: logits 0, then asymmetric cases (real vs fake, mean vs sum, logits vs probabilities)
    inputs = [
        (torch.zeros(4, 1), torch.zeros(4, 1)),
        (torch.tensor([[0.9], [0.6], [0.3], [0.8]]), torch.tensor([[0.1], [0.7], [0.2], [0.4]])),
        (torch.tensor([[2.0], [-1.0], [0.5], [3.0]]), torch.tensor([[-1.5], [0.5], [-3.0], [1.0]])),
    ]
    cases = [
        (f"{what} for real={_list(r)}, fake={_list(f)}", expected(r, f), mistakes(r, f))
        for r, f in inputs
    ]
    results = _collect(call, what, [(r.clone(), f.clone()) for r, f in inputs])
    _run_cases(cases, results, f"Expected {formula}.")
    _ok(f"{name}: logits 0 give 2·ln 2 = {2 * math.log(2):.4f}")
    _ok(f"{name}: asymmetric logits (real and fake not swapped, batch mean)")

    # 3. numerical stability at extreme logits
    if stable:
        r, f = torch.tensor([[-200.0], [3.0]]), torch.tensor([[200.0], [-3.0]])
        e = expected(r, f)
        got_t = call(r.clone(), f.clone())
        got = _as_float(got_t) if isinstance(got_t, torch.Tensor) and got_t.dim() == 0 else check_scalar(got_t, what)
        if not _close(got, e):
            raise GradingError(
                f"{what} for real=[-200, 3], fake=[200, -3] returned {got:.6g}; it should be {e:.6g}. "
                "Computing σ first and then its log overflows (log(1 − σ(200)) = log 0) or is clamped at −100 "
                "by binary_cross_entropy. Use log σ(t) = −softplus(−t) and log(1 − σ(t)) = −softplus(t), "
                "or F.binary_cross_entropy_with_logits."
            )
        _ok(f"{name}: stable at logits ±200 (value {e:.1f})")


def check_g_loss_nonsaturating(fn: Callable, name: str = "g_loss", stable: bool = True) -> None:
    """Check a non-saturating generator loss ``fn(fake_logits)`` = −E log σ(D̃(G(z))) (batch mean)."""
    call = check_callable(fn, name)
    what = f"{name}(fake_logits)"
    formula = "L_G = −E log σ(D̃(G(z))) = mean(softplus(−fake))"

    def expected(f):
        return _sp(-f).mean().item()

    def mistakes(f):
        e = expected(f)
        prob = (-_clamped_log(f).mean()).item() if (f >= 0).all() else math.nan
        return [
            (-_sp(f).mean().item(), "That is the saturating loss E log(1 − σ(D̃(G(z)))), whose gradient vanishes "
                                    "when D rejects the fakes. The non-saturating loss is −E log σ(D̃(G(z)))."),
            (_sp(f).mean().item(), "You used label 0 (fake) for the generator: that is D's target for fakes. "
                                   "G wants D to call its samples real, so its target is 1: −E log σ(D̃(G(z)))."),
            (-e, "The sign is wrong: −E log σ(·) is positive. Did you drop a minus sign?"),
            (_sp(-f).sum().item(), "That is a sum over the batch; E means the batch average (.mean())."),
            (prob, "You treated the logits as probabilities (log(fake)). D returns logits D̃; use softplus or "
                   "F.binary_cross_entropy_with_logits."),
            (expected(torch.sigmoid(f)), "You applied σ twice: torch.sigmoid and then a loss that applies σ itself "
                                         "(binary_cross_entropy_with_logits). Pass the raw logits."),
        ]

    zeros = torch.zeros(4, 1, requires_grad=True)
    out = call(zeros)
    if isinstance(out, torch.Tensor) and out.dim() == 0 and not math.isfinite(_as_float(out)):
        raise GradingError(
            f"{what} is {_as_float(out)} for logits 0 (σ = ½), where it should be ln 2 ≈ 0.6931. The input is "
            "logits (any real number), not probabilities. Use softplus or F.binary_cross_entropy_with_logits."
        )
    check_scalar(out, what)
    _requires_grad_check(out, what, "do not call .item(), .detach() or NumPy inside the loss.")

    inputs = [torch.zeros(4, 1), torch.tensor([[0.9], [0.6], [0.3], [0.8]]), torch.tensor([[2.0], [-1.0], [0.5], [-3.0]])]
    cases = [(f"{what} for fake={_list(f)}", expected(f), mistakes(f)) for f in inputs]
    _run_cases(cases, _collect(call, what, [(f.clone(),) for f in inputs]), f"Expected {formula}.")
    _ok(f"{name}: logits 0 give ln 2 = {math.log(2):.4f}")
    _ok(f"{name}: non-saturating, batch mean, on asymmetric logits")

    if stable:
        f = torch.tensor([[-200.0], [3.0]])
        e = expected(f)
        got_t = call(f.clone())
        got = _as_float(got_t) if isinstance(got_t, torch.Tensor) and got_t.dim() == 0 else check_scalar(got_t, what)
        if not _close(got, e):
            raise GradingError(
                f"{what} for fake=[-200, 3] returned {got:.6g}; it should be {e:.6g}. Computing σ first and then "
                "its log overflows (σ(−200) = 0 in float32) or is clamped by binary_cross_entropy. Use "
                "−log σ(t) = softplus(−t), or F.binary_cross_entropy_with_logits."
            )
        _ok(f"{name}: stable at logit −200 (value {e:.1f})")


# --------------------------------------------------------------------------------------------
# chapter 03 and 06: gradient penalty and R1
# --------------------------------------------------------------------------------------------


class _LinearCritic(nn.Module):
    """D(x) = wᵀ flatten(x) + b, returning N×1: ∇_x D = w for every x."""

    def __init__(self, w: torch.Tensor, b: float = 0.5):
        super().__init__()
        self.w = nn.Parameter(w.clone().float().flatten())
        self.b = nn.Parameter(torch.tensor(float(b)))
        self.inputs: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x.detach().clone())
        return (x.flatten(1) @ self.w + self.b).unsqueeze(1)


class _QuadraticCritic(nn.Module):
    """D(x) = ½‖x‖² per sample: ∇_x D = x."""

    def __init__(self):
        super().__init__()
        self.b = nn.Parameter(torch.tensor(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x.flatten(1).pow(2).sum(1, keepdim=True) + self.b


def _images(n: int, g: torch.Generator) -> torch.Tensor:
    return torch.randn(n, 1, 2, 2, generator=g)


def check_gradient_penalty(fn: Callable, name: str = "gradient_penalty") -> None:
    """Check a WGAN-GP penalty ``fn(D, real, fake)`` = E(‖∇D(x̂)‖₂ − 1)² **before λ**, with
    x̂ = αx + (1 − α)x̃ and one α ~ U[0, 1] per sample. Runs with its own RNG state, leaving the
    notebook's random stream untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        _check_gradient_penalty(fn, name)


def _check_gradient_penalty(fn: Callable, name: str) -> None:
    call = check_callable(fn, name, hints={
        "size of tensor": "Check the shape of α: one α per sample, torch.rand(N, 1, 1, 1) for images "
                          "(real.shape[0] followed by ones), so that it broadcasts over each sample's dims.",
        "does not require grad": "Call x_hat.requires_grad_(True) before D(x_hat), then differentiate "
                                 "with torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True).",
    })
    g = torch.Generator().manual_seed(1)
    N, n_pix = 8, 4
    real, fake = _images(N, g), _images(N, g)
    what = f"{name}(D, real, fake)"
    formula = "E(‖∇D(x̂)‖₂ − 1)², the norm taken over each sample's whole gradient, averaged over the batch"
    mean_hint = ("You differentiated D(x̂).mean(): the mean divides each sample's gradient by the batch size. "
                 "Differentiate D(x̂).sum() (or pass grad_outputs=torch.ones_like(out)).")
    dim1_hint = ("You took the norm over dim=1 only (the channels): flatten each sample's gradient first, "
                 "grad.flatten(1).norm(2, dim=1).")

    def mistakes(norm: float, per_pixel: float) -> list[tuple[float, str]]:
        return [
            ((per_pixel - 1) ** 2, dim1_hint),
            ((norm ** 2 - 1) ** 2, "You used the squared norm ‖∇D‖² (no square root): take the 2-norm, "
                                   "grad.flatten(1).norm(2, dim=1), then subtract 1 and square."),
            (10 * (norm - 1) ** 2, "That is λ = 10 times the penalty: return it WITHOUT λ; the training step "
                                   "multiplies by λ."),
            (N * (norm - 1) ** 2, "That is a sum over the batch; E means the batch average (.mean())."),
            ((norm / N - 1) ** 2, mean_hint),
            (norm - 1, "Square the difference: the penalty is (‖∇D‖ − 1)², not ‖∇D‖ − 1."),
            (abs(norm - 1), "Square the difference: the penalty is (‖∇D‖ − 1)², not |‖∇D‖ − 1|."),
            (max(norm - 1, 0.0) ** 2, "That is the one-sided penalty max(0, ‖∇D‖ − 1)²; WGAN-GP uses the "
                                      "two-sided (‖∇D‖ − 1)²."),
        ]

    # 1-4. linear critics D(x) = wᵀx + b with ‖w‖ = 1, 2, 0.5, 0: the gradient is w at every x̂.
    norms = (1.0, 2.0, 0.5, 0.0)
    critics = [_LinearCritic(torch.full((n_pix,), n / math.sqrt(n_pix)), b=1.0) for n in norms]
    cases = [
        (f"{what} for a linear critic D(x) = wᵀx + b with ‖∇D‖ = ‖w‖ = {n:g} (images N×1×2×2)",
         (n - 1) ** 2, mistakes(n, n / math.sqrt(n_pix)))
        for n in norms
    ]
    results = _collect(call, what, [(D, real.clone(), fake.clone()) for D in critics])
    _run_cases(cases, results, f"Expected {formula}.")
    _ok(f"{name}: linear critics with ‖∇D‖ = 1, 2, 0.5 give 0, 1, 0.25 (before λ)")
    _ok(f"{name}: a critic with zero gradient gives 1")

    # the penalty must train the critic: d/dw (‖w‖ − 1)² = 2(‖w‖ − 1)·w/‖w‖ = w at ‖w‖ = 2
    D = _LinearCritic(torch.full((n_pix,), 1.0))
    out = call(D, real.clone(), fake.clone())
    _requires_grad_check(out, what, "pass create_graph=True to torch.autograd.grad so that the penalty "
                                    "can be backpropagated into D's parameters.")
    out.backward()
    if D.w.grad is None or not torch.allclose(D.w.grad, D.w.detach(), atol=1e-4):
        raise GradingError(
            f"{what}: the gradient of the penalty w.r.t. the critic's weights is {_fmt(D.w.grad)}, expected "
            f"{D.w.detach().tolist()} = 2(‖w‖ − 1)·w/‖w‖. Compute ∇D with create_graph=True and do not "
            "detach it."
        )
    _ok(f"{name}: the penalty backpropagates into the critic's parameters")

    # 5. where is the gradient evaluated? x̂ = αx + (1 − α)x̃, one α ~ U[0, 1] per sample
    M = 64
    fk = _images(M, g)
    rl = fk + 1.0 + torch.rand(M, 1, 2, 2, generator=g)  # real − fake ≥ 1 in every pixel
    spy = _LinearCritic(torch.full((n_pix,), 0.5))
    call(spy, rl.clone(), fk.clone())
    seen = [x for x in spy.inputs if x.shape == rl.shape]
    if not seen:
        raise GradingError(
            f"{what} never called D on a batch shaped like real {tuple(rl.shape)}; evaluate D at the "
            "interpolates x̂ = αx + (1 − α)x̃, which have the same shape as the data."
        )
    problems = []
    for x_hat in seen:
        alpha = (x_hat - fk) / (rl - fk)  # per pixel
        if torch.allclose(x_hat, rl):
            problems.append("you evaluated ∇D at the real data; WGAN-GP evaluates it at random interpolates "
                            "x̂ = αx + (1 − α)x̃")
        elif torch.allclose(x_hat, fk):
            problems.append("you evaluated ∇D at the fake data; WGAN-GP evaluates it at random interpolates "
                            "x̂ = αx + (1 − α)x̃")
        elif (alpha.flatten(1).std(dim=1) > 1e-4).any():
            problems.append("you drew a separate α for every pixel, so x̂ is not on the line between a real and "
                            "a fake sample; draw one α per sample, torch.rand(N, 1, 1, 1), broadcast over its pixels")
        elif (alpha < -1e-4).any() or (alpha > 1 + 1e-4).any():
            problems.append("α falls outside [0, 1]; draw it uniformly with torch.rand, not torch.randn")
        elif alpha[:, 0].flatten().std() < 1e-4:
            problems.append(f"all samples use the same α = {alpha.flatten()[0].item():.3f}; draw one α per sample, "
                            "torch.rand(N, 1, 1, 1)")
        else:
            problems = []
            break
    if problems:
        raise GradingError(f"{what}: {problems[0]}.")
    _ok(f"{name}: evaluated at x̂ = αx + (1 − α)x̃ with one α ~ U[0, 1] per sample")


def check_r1(fn: Callable, name: str = "r1_penalty") -> None:
    """Check an R1 penalty ``fn(D, real, gamma)`` = (γ/2)·E‖∇_x D(x)‖² on real data."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        _check_r1(fn, name)


def _check_r1(fn: Callable, name: str) -> None:
    call = check_callable(fn, name, hints={
        "does not require grad": "Call real.detach().requires_grad_(True) before D(real), then differentiate "
                                 "with torch.autograd.grad(D(x).sum(), x, create_graph=True).",
    })
    g = torch.Generator().manual_seed(2)
    N, n_pix = 8, 4
    real = _images(N, g)
    what = f"{name}(D, real, gamma)"
    formula = "R1 = (γ/2)·E‖∇_x D(x)‖²: the squared norm of each sample's gradient, averaged over the batch"

    def mistakes(sq: torch.Tensor, gamma: float, wrong_point: float = math.nan) -> list[tuple[float, str]]:
        """Predicted values of common mistakes, from the per-sample squared gradient norms ``sq``."""
        norm = sq.sqrt()
        m = sq.mean().item()
        return [
            (gamma * m, "That is twice the expected value: R1 is (γ/2)·E‖∇D‖²; you omitted the ½ "
                        "(LMescheder/GAN_stability's reg_param omits it, so its reg_param 10 is γ = 20)."),
            (gamma / 2 * norm.mean().item(), "You used the norm ‖∇D‖; R1 uses its square ‖∇D‖²."),
            (gamma * norm.mean().item(), "You used the norm ‖∇D‖ instead of its square, and omitted the ½ of γ/2."),
            (gamma / 2 * ((norm - 1) ** 2).mean().item(), "That is the WGAN-GP form (‖∇D‖ − 1)²; R1 penalises "
                                                          "‖∇D‖² itself (its target is 0, not 1)."),
            (N * gamma / 2 * m, "That is a sum over the batch; E means the batch average (.mean())."),
            (gamma / 2 * m / N ** 2, "You differentiated D(x).mean(): the mean divides each sample's gradient by "
                                     "the batch size. Differentiate D(x).sum() (or grad_outputs=torch.ones_like(out))."),
            (gamma / 2 * m / n_pix, "You averaged the squared gradient over the pixels: sum it over each "
                                    "sample's dimensions (grad.flatten(1).pow(2).sum(1)), then average over the batch."),
            (m, "The γ/2 factor is missing: multiply by gamma / 2."),
            (m / 2, "γ is missing: multiply by gamma / 2."),
            (10 / 2 * m, "That is the value for γ = 10: use the gamma argument instead of a fixed number."),
            (wrong_point, "For D(x) = ½‖x‖², ∇D(x) = x is 0 only at x = 0: the gradient was not "
                          "taken at the real data. Set requires_grad on the real batch, run D on that same tensor and "
                          "differentiate with respect to it."),
        ]

    # 1-3. linear critic D(x) = wᵀx with ‖w‖ = 3 (R1 = (γ/2)·9) at γ = 10 and 1;
    # quadratic critic D(x) = ½‖x‖² (∇D = x, so R1 = (γ/2)·mean_i ‖x_i‖²: evaluated at the real data)
    w = torch.full((n_pix,), 1.5)
    sq_w = torch.full((N,), 9.0)
    sq_x = real.flatten(1).pow(2).sum(1)
    lin = f"{what} for a linear critic D(x) = wᵀx with ‖w‖ = 3 and γ = {{:g}} (images N×1×2×2)"
    cases = [
        (lin.format(10), 45.0, mistakes(sq_w, 10.0)),
        (lin.format(1), 4.5, mistakes(sq_w, 1.0)),
        (f"{what} for D(x) = ½‖x‖² (so ∇D(x) = x) and γ = 10", 5.0 * sq_x.mean().item(), mistakes(sq_x, 10.0, 0.0)),
    ]
    args = [(_LinearCritic(w), real.clone(), 10.0), (_LinearCritic(w), real.clone(), 1.0),
            (_QuadraticCritic(), real.clone(), 10.0)]
    _run_cases(cases, _collect(call, what, args), f"Expected {formula}.")
    _ok(f"{name}: a linear critic with ‖w‖ = 3 gives (γ/2)·‖w‖² (45 at γ = 10, 4.5 at γ = 1)")
    _ok(f"{name}: evaluated at the real data (D(x) = ½‖x‖² gives (γ/2)·E‖x‖²)")

    # R1 must train the critic: d/dw (γ/2)‖w‖² = γ·w
    D = _LinearCritic(w)
    out = call(D, real.clone(), 10.0)
    _requires_grad_check(out, what, "pass create_graph=True to torch.autograd.grad so that the penalty "
                                    "can be backpropagated into D's parameters.")
    out.backward()
    if D.w.grad is None or not torch.allclose(D.w.grad, 10.0 * w, atol=1e-4):
        raise GradingError(
            f"{what}: the gradient of R1 w.r.t. the critic's weights is {_fmt(D.w.grad)}, expected γ·w = "
            f"{(10.0 * w).tolist()} at γ = 10. Compute ∇D with create_graph=True and do not detach it."
        )
    _ok(f"{name}: R1 backpropagates into the critic's parameters")

    # 3. a critic constant in x: R1 = 0
    got = check_scalar(call(_LinearCritic(torch.zeros(n_pix), b=2.0), real.clone(), 10.0), what)
    _run_cases([(f"{what} for a critic constant in x (D(x) = 2)", 0.0, [])], [got], f"Expected 0: {formula}.")
    _ok(f"{name}: a critic constant in x gives 0")
