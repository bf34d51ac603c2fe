"""Check functions for the graded cells: they say what is wrong, not just that something is.

A graded cell calls a checker on the student's function::

    from gantut.grading import check_d_loss
    check_d_loss(d_loss)

On success each checked case prints a ``✓`` line and the checker returns None. Otherwise it raises
:class:`GradingError` (an ``AssertionError``, so nbgrader counts it as a failed test) whose message
gives the input, the expected and the found value, and, when the found value matches a common
mistake, names the mistake and the fix. When no known mistake matches, the message restates the
formula. An exception raised by the student's code (or while using what it returned) is turned
into a GradingError that names the error, where in the student's code it happened, and a hint.

How the checkers judge an answer:

* by its values on hand-made inputs whose answer is known in closed form (linear and quadratic
  critics, logits 0, points placed on the mode centres...), and by its gradients where the
  exercise is a loss or a penalty that must train something;
* every argument is also tried at a non-default value, with batch sizes that differ (N ≠ M,
  N ≠ K) so that broadcasting mistakes show, and the caller's tensors must come back unchanged;
* checkers run with their own random state (``torch.random.fork_rng``), so the notebook's random
  stream is untouched and the checks are reproducible.

**Shortcut policy.** A graded check fails when the function handed in *is* gantut's own
implementation (``gantut.losses.r1_penalty``, ``gantut.mdgan.simplex_vertices``...) or any other
function of the ``gantut`` package, grading modules included: the exercise is to write it. The
checkers ship no reference solution with the exercise's signature; expected values are derived
inside each checker. See docs/instructors.md.

Building blocks for chapter checkers: :func:`check_close`, :func:`check_shape`,
:func:`check_scalar`, :func:`check_callable`, :func:`refuse_shortcut`.
"""
from __future__ import annotations

import functools
import inspect
import math
import os
import traceback
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
    "refuse_shortcut",
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
        return f"tensor of shape {tuple(x.shape)}: {[round(v, 6) for v in x.detach().cpu().flatten()[:6].tolist()]}"
    if isinstance(x, float):
        return f"{x:.6g}"
    return repr(x)


def _list(t: torch.Tensor) -> list[float]:
    return [round(v, 4) for v in t.flatten().tolist()]


def _as_float(x: Any) -> float:
    if isinstance(x, torch.Tensor):
        return float(x.detach().cpu().reshape(()).item())
    return float(x)


def _num(v: float) -> str:
    """A value for a message: 6 significant digits, rounding-level noise shown as 0."""
    return "0" if abs(v) < 1e-9 else f"{v:.6g}"


def _close(a: float, b: float, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= atol + rtol * abs(b)


# --------------------------------------------------------------------------------------------
# turning exceptions into advice
# --------------------------------------------------------------------------------------------

# a fragment of a torch/Python error message -> what it usually means in these exercises
_ERROR_HINTS = {
    "same device": "Tensors on different devices were combined: create new tensors on the inputs' device "
                   "(torch.rand(..., device=real.device)) and do not move data with .cuda() or .cpu() "
                   "inside the function.",
    # the same mistake as torch words it for some ops (and for the meta device tests use in place of a GPU)
    "is not on the expected device": "Tensors on different devices were combined: create new tensors on the inputs' "
                                     "device (torch.rand(..., device=real.device)) and do not move data with .cuda(), "
                                     ".cpu() or .to(device) inside the function.",
    # a convolution whose input and weights are on different devices (CUDA's wording)
    "and weight type": "The input and the layer's weights are on different devices (or dtypes): do not move the "
                       "input with .cuda(), .cpu() or .to(device) inside the function; use it where it is.",
    "NVIDIA driver": "Your function moves data to the GPU (.cuda() or device='cuda'): create tensors on the "
                     "inputs' device instead (device=real.device), so the code runs on CPU and GPU alike.",
    "not compiled with CUDA": "Your function moves data to the GPU (.cuda() or device='cuda'): create tensors on "
                              "the inputs' device instead (device=real.device).",
    "must match the size of tensor": "Two tensors of incompatible shapes were combined: print their shapes. "
                                     "A value per sample has shape (N, 1, ..., 1) so that it broadcasts "
                                     "over that sample's other dimensions.",
    "shapes cannot be multiplied": "A Linear layer received inputs of the wrong width: check in_features "
                                   "of each layer against the previous layer's out_features.",
    "expected scalar type": "Tensors of different dtypes were combined: create new tensors with "
                            "dtype=x.dtype (or convert with .to(x)).",
    "does not require grad": "torch.autograd.grad differentiates with respect to a tensor that requires "
                             "grad and was used to compute the output: x = x.detach().requires_grad_(True), "
                             "then out = D(x), then torch.autograd.grad(out.sum(), x, create_graph=True).",
    "appears to not have been used in the graph": "You differentiated with respect to a tensor the output "
                                                  "does not depend on: run D on the very tensor you "
                                                  "differentiate with respect to.",
    "backward through the graph a second time": "The graph was already used by a backward pass: do not call "
                                                ".backward() inside the function (return the tensor; the "
                                                "training step backpropagates it), and pass create_graph=True "
                                                "to torch.autograd.grad.",
    "in-place operation": "Do not modify tensors in place (x += ..., x.add_(...), x[...] = ...); "
                          "write x = x + ... instead.",
    "implicitly created only for scalar outputs": "Differentiate a scalar: out.sum(), or pass "
                                                  "grad_outputs=torch.ones_like(out).",
    "between 0 and 1": "binary_cross_entropy expects probabilities but D returns logits: use "
                       "F.binary_cross_entropy_with_logits (or F.softplus).",
    "object is not subscriptable": "Check what the function returns (a tensor, a tuple or a dict, as the "
                                   "exercise says).",
}


def _hint_for(err: BaseException, extra: dict[str, str] | None = None) -> str:
    text = str(err)
    hints = {**_ERROR_HINTS, **(extra or {})}
    found = [h for frag, h in hints.items() if frag in text]
    # the exercise-specific hints (extra) come first
    found.sort(key=lambda h: h not in (extra or {}).values())
    return " ".join(dict.fromkeys(found))


_SKIP_DIRS = tuple(os.path.dirname(m.__file__) for m in (torch, functools) if getattr(m, "__file__", None)) + (
    os.path.dirname(os.path.abspath(__file__)),)  # torch, the standard library, the grading modules


def _where(err: BaseException) -> str:
    """' (in <function>, line N: `code`)' for the innermost frame of the traceback outside installed
    packages, the standard library and the grading modules: the student's line that failed."""
    frames = traceback.extract_tb(err.__traceback__)
    for fr in reversed(frames):
        path = os.path.abspath(fr.filename)
        if path.startswith(_SKIP_DIRS) or "site-packages" in path or "dist-packages" in path:
            continue
        code = f": `{fr.line.strip()}`" if fr.line else ""
        return f" (in {fr.name}, line {fr.lineno}{code})"
    return ""


def _wrap_error(err: Exception, head: str, extra: dict[str, str] | None = None, tail: str = "") -> GradingError:
    text = str(err).strip().rstrip(".").split("\n")[0]
    hint = _hint_for(err, extra)
    msg = f"{head} raised {type(err).__name__}: {text}{_where(err)}."
    if hint:
        msg += f" {hint}"
    if tail:
        msg += f" {tail}"
    wrapped = GradingError(msg)
    wrapped.original = err  # the exception itself, for instructors debugging a checker
    return wrapped


def _graded(formula: str):
    """Decorator for a public checker: it runs with its own random state (seed 0), and any exception
    other than a GradingError (e.g. raised while using what the student's function returned) becomes
    a GradingError that names it and restates the formula."""
    def deco(check: Callable) -> Callable:
        sig = inspect.signature(check)

        @functools.wraps(check)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            name = bound.arguments.get("name", check.__name__)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                try:
                    return check(*args, **kwargs)
                except GradingError:
                    raise
                except Exception as err:  # noqa: BLE001 - re-raised with advice
                    raise _wrap_error(err, f"Checking {name}: using what it returned", tail=f"Expected: {formula}.") from None

        wrapper.formula = formula
        return wrapper
    return deco


# --------------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------------


def check_close(got: Any, expected: Any, what: str, hint: str = "", atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Raise GradingError unless ``got`` ≈ ``expected`` (numbers or tensors of the same shape)."""
    try:
        got_t = torch.as_tensor(got.detach().cpu() if isinstance(got, torch.Tensor) else got, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as err:
        raise GradingError(f"{what}: expected {_fmt(expected)}, got {type(got).__name__} {got!r:.80}, which is not "
                           f"a number or a tensor ({err}). {hint}".strip()) from None
    exp_t = torch.as_tensor(
        expected.detach().cpu() if isinstance(expected, torch.Tensor) else expected, dtype=torch.float64
    )
    if got_t.shape != exp_t.shape:
        raise GradingError(
            f"{what}: expected shape {tuple(exp_t.shape)}, got shape {tuple(got_t.shape)}. {hint}".strip()
        )
    if not torch.isfinite(got_t).all() and not torch.equal(torch.isfinite(got_t), torch.isfinite(exp_t)):
        raise GradingError(f"{what}: expected {_fmt(expected)}, got a non-finite value {_fmt(got)}. {hint}".strip())
    if not torch.allclose(got_t, exp_t, atol=atol, rtol=rtol, equal_nan=True):
        raise GradingError(f"{what}: expected {_fmt(expected)}, got {_fmt(got)}. {hint}".strip())


def check_shape(t: Any, shape: Sequence[int | None], what: str, hint: str = "") -> None:
    """Raise GradingError unless ``t`` is a tensor of ``shape`` (``None`` entries match any size)."""
    if not isinstance(t, torch.Tensor):
        raise GradingError(f"{what} should be a torch.Tensor of shape {tuple(shape)}, got {type(t).__name__}.")
    ok = t.dim() == len(shape) and all(s is None or s == n for s, n in zip(shape, t.shape))
    if not ok:
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        raise GradingError(f"{what} should have shape {want}, got {tuple(t.shape)}. {hint}".strip())


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


def _unwrap(fn: Any) -> Any:
    """The function behind functools.partial objects and decorators (``__wrapped__``)."""
    for _ in range(10):
        if isinstance(fn, functools.partial):
            fn = fn.func
        elif getattr(fn, "__wrapped__", None) is not None:
            fn = fn.__wrapped__
        elif inspect.ismethod(fn):
            fn = fn.__func__
        else:
            break
    return fn


def refuse_shortcut(fn: Any, name: str) -> None:
    """Raise GradingError when ``fn`` is a function or class of the gantut package itself (the library
    implementation of the exercise, or a grading module's code) instead of the student's own."""
    target = _unwrap(fn)
    module = getattr(target, "__module__", None) or ""
    if module == "gantut" or module.startswith("gantut."):
        qual = getattr(target, "__qualname__", getattr(target, "__name__", type(target).__name__))
        raise GradingError(
            f"{name} is {module}.{qual}, gantut's own code, not yours: a graded exercise must be your "
            f"implementation. Write {name} in the solution cell (you may read gantut's source to learn, but "
            "the graded function must not be gantut's). See the shortcut policy in docs/instructors.md."
        )


def check_callable(fn: Any, name: str, hints: dict[str, str] | None = None,
                   allow_gantut: bool = False) -> Callable[..., Any]:
    """Wrap the student's ``fn`` so that calling it turns a stub's ``NotImplementedError`` into
    "you have not implemented <name> yet", and any other exception into a GradingError naming it,
    the line of the student's code that raised it, and a hint.

    ``hints`` maps a fragment of an error message to advice given when that error occurs. Unless
    ``allow_gantut``, ``fn`` must not be gantut's own code (:func:`refuse_shortcut`)."""
    if not callable(fn):
        raise GradingError(f"{name} should be a function, got {type(fn).__name__}; define it with `def {name}(...)`.")
    if not allow_gantut:
        refuse_shortcut(fn, name)

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NotImplementedError:
            raise GradingError(
                f"you have not implemented {name} yet: replace the `raise NotImplementedError` line with "
                "your code, then run its cell and this one again."
            ) from None
        except GradingError:
            raise
        except Exception as e:  # noqa: BLE001 - we re-raise with context
            shapes = ", ".join(
                f"tensor{tuple(a.shape)}" if isinstance(a, torch.Tensor)
                else "D" if isinstance(a, nn.Module) else repr(a) if isinstance(a, (int, float)) else type(a).__name__
                for a in args
            )
            raise _wrap_error(e, f"{name}({shapes})", hints) from None

    return call


def _unchanged(what: str, inputs: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Raise GradingError if a tensor passed to the student's function was modified in place.
    ``inputs`` maps an argument name to (the tensor passed, a copy taken before the call)."""
    for arg, (passed, before) in inputs.items():
        if passed.shape != before.shape or not torch.equal(passed.detach(), before):
            raise GradingError(
                f"{what} changed its argument `{arg}` in place (e.g. {arg} -= ..., {arg}.mul_(...), "
                f"{arg}[...] = ...): the caller's tensors must come back unchanged. Compute with new tensors "
                f"instead (y = {arg} - ...)."
            )


def _penalty_call(what: str, call, D, tensors: dict[str, torch.Tensor], *args):
    """``call(D, *args)`` for a penalty exercise: the tensors passed and D's parameters must come back unchanged."""
    before = {name: (t, t.clone()) for name, t in tensors.items()}
    params = [p.detach().clone() for p in D.parameters()]
    out = call(D, *args)
    _unchanged(what, before)
    if any(not torch.equal(p.detach(), q) for p, q in zip(D.parameters(), params)):
        raise GradingError(f"{what} changed the critic's parameters: the penalty only computes a number; "
                           "the optimiser step updates D.")
    return out


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
        head = f"{what} returned {_num(got)}; it should be {_num(expected)}."
        for k, (value, message) in enumerate(mistakes):
            if not math.isfinite(value) or _close(value, expected) or not _close(got, value):
                continue
            consistent = all(
                isinstance(r, GradingError) or not math.isfinite(c[2][k][0]) or _close(r, c[2][k][0])
                for c, r in zip(cases, results)
            )
            if consistent:
                raise GradingError(f"{head} {message}")
        raise GradingError(f"{head} {hint}")


def _collect(call: Callable, what: str, arg_lists: Sequence[tuple],
             convert: Callable[[Any, str], float] | None = None) -> list[float | GradingError]:
    """Call the student's function on every case; keep the value (``convert``, default :func:`check_scalar`:
    a 0-d tensor), or the error it raised. The tensors passed must come back unchanged."""
    convert = convert or check_scalar
    results: list[float | GradingError] = []
    for args in arg_lists:
        before = {f"argument {i + 1}": (a, a.detach().clone()) for i, a in enumerate(args) if isinstance(a, torch.Tensor)}
        try:
            results.append(convert(call(*args), what))
            _unchanged(what, before)
        except GradingError as e:
            results.append(e)
    return results


def _requires_grad_check(out: torch.Tensor, what: str, fix: str) -> None:
    if not out.requires_grad:
        raise GradingError(f"{what} has no gradient (requires_grad is False), so it cannot train anything: {fix}")


def _input_grads(out: torch.Tensor, inputs: Sequence[torch.Tensor], what: str) -> list[torch.Tensor]:
    """d out / d inputs (zeros where an input is not used)."""
    try:
        grads = torch.autograd.grad(out, list(inputs), allow_unused=True)
    except RuntimeError as err:
        raise _wrap_error(err, f"Differentiating {what}") from None
    return [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads)]


# --------------------------------------------------------------------------------------------
# chapter 01/02: minimax D loss and non-saturating G loss
# --------------------------------------------------------------------------------------------

_sp = F.softplus


def _clamped_log(p: torch.Tensor) -> torch.Tensor:
    # torch's binary_cross_entropy clamps log at -100
    return torch.log(p).clamp(min=-100.0)


_D_LOSS = "L_D = −E log σ(D̃(x)) − E log(1 − σ(D̃(G(z)))) = mean(softplus(−real)) + mean(softplus(fake)), each mean over its own batch"
_D_LOSS_HINTS = {
    "must match the size of tensor": "The real and fake batches may have different sizes: average each term "
                                     "over its own batch, then add the two averages.",
}


@_graded(_D_LOSS)
def check_d_loss(fn: Callable, name: str = "d_loss", stable: bool = True) -> None:
    """Check a minimax discriminator loss ``fn(real_logits, fake_logits)``:
    L_D = −E log σ(D̃(x)) − E log(1 − σ(D̃(G(z)))), each expectation a mean over its own batch, from
    logits. Checks values (equal and unequal batch sizes, N and N×1 shapes), gradients and that the
    inputs are left unchanged. ``stable=True`` also requires a finite, exact value at logits ±200."""
    call = check_callable(fn, name, hints=_D_LOSS_HINTS)
    what = f"{name}(real_logits, fake_logits)"
    formula = _D_LOSS

    def expected(r, f):
        return (_sp(-r).mean() + _sp(f).mean()).item()

    def mistakes(r, f):
        e = expected(r, f)
        is_prob = bool(((r >= 0) & (r <= 1)).all() and ((f >= 0) & (f <= 1)).all())
        prob = (-_clamped_log(r).mean() - _clamped_log(1 - f).mean()).item() if is_prob else math.nan
        cat = ((_sp(-r).sum() + _sp(f).sum()) / (r.numel() + f.numel())).item()
        return [
            (e / 2, "That is half the expected value: you averaged the two terms. L_D is the SUM of the two "
                    "expectations (2·ln 2 at logits 0)."),
            (cat, "That is one average over the concatenated real+fake batch (one BCE on torch.cat): it averages "
                  "the two terms, weighted by batch size. L_D is the SUM of the two expectations, each a mean over "
                  "its own batch."),
            (2 * cat, "That is twice one average over the concatenated real+fake batch: with batches of different "
                      "sizes it weights the terms by batch size. Take the mean of each term over its own batch "
                      "and add them."),
            (-e, "The sign is wrong: L_D is a negative log-likelihood, so it is positive. Did you drop a minus sign?"),
            (expected(f, r), "Real and fake look swapped: D should push real logits up (label 1) and fake logits "
                             "down (label 0)."),
            ((_sp(-r).sum() + _sp(f).sum()).item(), "That is a sum over the batch; E means the batch average (.mean())."),
            (prob, "You treated the logits as probabilities (log(real), log(1 − fake)). D returns logits D̃; "
                   "use softplus or F.binary_cross_entropy_with_logits."),
            (prob / 2 if is_prob else math.nan,
             "You treated the logits as probabilities and averaged the two terms. D returns logits D̃; "
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

    # 2. values: logits 0, then asymmetric cases (real vs fake, mean vs sum, logits vs probabilities),
    # batches of different sizes (3 real, 5 fake) and 1-d logits
    inputs = [
        (torch.zeros(4, 1), torch.zeros(4, 1)),
        (torch.tensor([[0.9], [0.6], [0.3], [0.8]]), torch.tensor([[0.1], [0.7], [0.2], [0.4]])),
        (torch.tensor([[2.0], [-1.0], [0.5], [3.0]]), torch.tensor([[-1.5], [0.5], [-3.0], [1.0]])),
        (torch.tensor([[1.5], [-0.5], [2.5]]), torch.tensor([[0.5], [-2.0], [1.0], [-1.0], [3.0]])),
        (torch.tensor([0.3, -2.0, 1.2, 0.8, -0.4, 2.2]), torch.tensor([-0.7, 1.6, -2.4, 0.2, 0.9, -1.1])),
    ]
    cases = [
        (f"{what} for real={_list(r)}, fake={_list(f)}", expected(r, f), mistakes(r, f))
        for r, f in inputs
    ]
    results = _collect(call, what, [(r.clone(), f.clone()) for r, f in inputs])
    _run_cases(cases, results, f"Expected {formula}.")
    _ok(f"{name}: logits 0 give 2·ln 2 = {2 * math.log(2):.4f}")
    _ok(f"{name}: asymmetric logits, batches of 3 real and 5 fake (real and fake not swapped, batch means)")

    # 3. gradients: dL/dreal_i = −σ(−real_i)/N, dL/dfake_j = σ(fake_j)/M
    r = torch.tensor([[1.5], [-0.5], [2.5]], requires_grad=True)
    f = torch.tensor([[0.5], [-2.0], [1.0], [-1.0], [3.0]], requires_grad=True)
    out = call(r, f)
    check_scalar(out, what)
    _requires_grad_check(out, what, "do not call .item(), .detach() or NumPy inside the loss.")
    g_r, g_f = _input_grads(out, [r, f], what)
    want_r, want_f = -torch.sigmoid(-r.detach()) / 3, torch.sigmoid(f.detach()) / 5
    if not (torch.allclose(g_r, want_r, atol=1e-5) and torch.allclose(g_f, want_f, atol=1e-5)):
        raise GradingError(
            f"{what}: the gradient with respect to the logits is wrong (real: {_list(g_r)}, expected "
            f"{_list(want_r)}; fake: {_list(g_f)}, expected {_list(want_f)}). The value is right, so part of the "
            f"loss is cut from the graph (.detach(), .item(), torch.no_grad()) or replaced by a constant. "
            f"Expected {formula}."
        )

    # 4. numerical stability at extreme logits
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


_G_LOSS = "L_G = −E log σ(D̃(G(z))) = mean(softplus(−fake))"


@_graded(_G_LOSS)
def check_g_loss_nonsaturating(fn: Callable, name: str = "g_loss", stable: bool = True) -> None:
    """Check a non-saturating generator loss ``fn(fake_logits)`` = −E log σ(D̃(G(z))) (batch mean):
    values on N×1 and N logits, the gradient −σ(−fake)/N, inputs unchanged, and (``stable``) exact at −200."""
    call = check_callable(fn, name)
    what = f"{name}(fake_logits)"
    formula = _G_LOSS

    def expected(f):
        return _sp(-f).mean().item()

    def mistakes(f):
        e = expected(f)
        prob = (-_clamped_log(f).mean()).item() if ((f >= 0) & (f <= 1)).all() else math.nan
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
            ((-f).mean().item(), "That is the WGAN generator loss −E D(G(z)); the non-saturating loss takes the "
                                 "log-sigmoid of the logits: −E log σ(D̃(G(z))) = E softplus(−D̃)."),
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

    inputs = [torch.zeros(4, 1), torch.tensor([[0.9], [0.6], [0.3], [0.8]]), torch.tensor([[2.0], [-1.0], [0.5], [-3.0]]),
              torch.tensor([1.5, -0.5, 2.5, 0.25, -1.75])]
    cases = [(f"{what} for fake={_list(f)}", expected(f), mistakes(f)) for f in inputs]
    _run_cases(cases, _collect(call, what, [(f.clone(),) for f in inputs]), f"Expected {formula}.")
    _ok(f"{name}: logits 0 give ln 2 = {math.log(2):.4f}")
    _ok(f"{name}: non-saturating, batch mean, on asymmetric logits")

    # the gradient dL/dfake_j = −σ(−fake_j)/N
    f = torch.tensor([1.5, -0.5, 2.5, 0.25, -1.75], requires_grad=True)
    out = call(f)
    check_scalar(out, what)
    _requires_grad_check(out, what, "do not call .item(), .detach() or NumPy inside the loss.")
    (g,) = _input_grads(out, [f], what)
    want = -torch.sigmoid(-f.detach()) / 5
    if not torch.allclose(g, want, atol=1e-5):
        raise GradingError(f"{what}: the gradient with respect to the logits is {_list(g)}, expected {_list(want)} "
                           f"(−σ(−D̃)/N). Part of the loss is cut from the graph. Expected {formula}.")

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
# The critics below are plain functions of x (no side effects), so penalties written with
# torch.autograd.grad, torch.func.grad/vmap or jacrev all see the same thing. Each knows its own
# input gradient in closed form (``input_grad``), from which the expected penalty is computed.


class _LinearCritic(nn.Module):
    """D(x) = wᵀ flatten(x) + b, returning N×1: ∇_x D = w for every x."""

    def __init__(self, w: torch.Tensor, b: float = 0.5):
        super().__init__()
        self.w = nn.Parameter(w.clone().float().flatten())
        self.b = nn.Parameter(torch.tensor(float(b)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(1) @ self.w + self.b).unsqueeze(1)

    def input_grad(self, x: torch.Tensor) -> torch.Tensor:
        return self.w.detach().double().reshape(1, *x.shape[1:]).expand(x.shape).clone()


class _QuadraticCritic(nn.Module):
    """D(x) = ½ Σ_j θ_j x_j² per sample (θ = 1: ½‖x‖²): ∇_x D = θ ⊙ x."""

    def __init__(self, theta: torch.Tensor):
        super().__init__()
        self.theta = nn.Parameter(theta.clone().float().flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.theta * x.flatten(1) ** 2).sum(1, keepdim=True)

    def input_grad(self, x: torch.Tensor) -> torch.Tensor:
        return (self.theta.detach().double() * x.double().flatten(1)).reshape(x.shape)


def _images(n: int, g: torch.Generator, shape: tuple[int, ...] = (2, 2, 2)) -> torch.Tensor:
    return torch.randn(n, *shape, generator=g)


_GP = ("E(‖∇D(x̂)‖₂ − 1)² before λ, with x̂ = αx + (1 − α)x̃, one α ~ U[0, 1] per sample, the 2-norm taken "
       "over each sample's whole gradient and the square averaged over the batch")
_GP_HINTS = {
    "size of tensor": "Check the shape of α: one α per sample, torch.rand(N, 1, 1, 1) for images "
                      "(real.shape[0] followed by ones), so that it broadcasts over each sample's dims.",
    "does not require grad": "Call x_hat.requires_grad_(True) before D(x_hat), then differentiate "
                             "with torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True).",
}


def _gp_predictions(g: torch.Tensor) -> tuple[float, list[tuple[float, str]]]:
    """The WGAN-GP penalty and the values of common mistakes, from the input gradients ``g`` (N×C×H×W)
    at the points where the penalty is evaluated."""
    N = g.shape[0]
    n = g.flatten(1).norm(2, dim=1)
    e = ((n - 1) ** 2).mean().item()
    return e, [
        (((g.norm(2, dim=1) - 1) ** 2).mean().item(),
         "You took the norm over dim=1 only (the channels): flatten each sample's gradient first, "
         "grad.flatten(1).norm(2, dim=1)."),
        (((g.norm(2, dim=-1) - 1) ** 2).mean().item(),
         "You took the norm over the last dim only: flatten each sample's gradient first, "
         "grad.flatten(1).norm(2, dim=1)."),
        (((n ** 2 - 1) ** 2).mean().item(), "You used the squared norm ‖∇D‖² (no square root): take the 2-norm, "
                                            "grad.flatten(1).norm(2, dim=1), then subtract 1 and square."),
        ((n ** 2).mean().item(), "The target norm is 1: the penalty is (‖∇D‖ − 1)², not ‖∇D‖²."),
        (10 * e, "That is λ = 10 times the penalty: return it WITHOUT λ; the training step multiplies by λ."),
        (N * e, "That is a sum over the batch; E means the batch average (.mean())."),
        (((n / N - 1) ** 2).mean().item(),
         "You differentiated D(x̂).mean(): the mean divides each sample's gradient by the batch size. "
         "Differentiate D(x̂).sum() (or pass grad_outputs=torch.ones_like(out))."),
        ((n - 1).mean().item(), "Square the difference: the penalty is (‖∇D‖ − 1)², not ‖∇D‖ − 1."),
        ((n - 1).abs().mean().item(), "Square the difference: the penalty is (‖∇D‖ − 1)², not |‖∇D‖ − 1|."),
        (((n - 1).clamp(min=0) ** 2).mean().item(), "That is the one-sided penalty max(0, ‖∇D‖ − 1)²; WGAN-GP uses "
                                                    "the two-sided (‖∇D‖ − 1)²."),
        ((g.norm() - 1).pow(2).item(), "You took one norm over the whole batch's gradient: take one norm per "
                                       "sample, grad.flatten(1).norm(2, dim=1), then average (‖∇D(x̂_i)‖ − 1)²."),
        ((n.mean() - 1).pow(2).item(), "You averaged the norms before squaring: square each sample's "
                                       "(‖∇D(x̂_i)‖ − 1), then average over the batch."),
        (((g.flatten(1).abs().sum(1) - 1) ** 2).mean().item(), "That is the 1-norm (sum of |∂D/∂x|); WGAN-GP uses "
                                                               "the 2-norm, grad.flatten(1).norm(2, dim=1)."),
    ]


@_graded(_GP)
def check_gradient_penalty(fn: Callable, name: str = "gradient_penalty") -> None:
    """Check a WGAN-GP penalty ``fn(D, real, fake)`` = E(‖∇D(x̂)‖₂ − 1)² **before λ**, with
    x̂ = αx + (1 − α)x̃ and one α ~ U[0, 1] per sample, by what it computes (autograd.grad,
    torch.func.vmap(grad(...)) and jacrev answers are judged alike):

    * values on linear critics (‖∇D‖ = 1, 2, 0.5, 0) and on a quadratic critic with real = fake
      (then x̂ is known whatever α is); gradients w.r.t. the critic's parameters by hand;
    * where the gradient is evaluated: on batches whose samples have disjoint supports, the
      gradient of the penalty w.r.t. a quadratic critic's weights reveals every x̂_i, from which α
      is read per sample and per pixel, over 16 calls;
    * the caller's real, fake and critic are left unchanged.

    Runs with its own RNG state, leaving the notebook's random stream untouched."""
    call = check_callable(fn, name, hints=_GP_HINTS)
    g = torch.Generator().manual_seed(1)
    N, shape = 6, (2, 2, 2)
    n_feat = math.prod(shape)
    what = f"{name}(D, real, fake)"
    formula = _GP

    def run(D, real, fake):
        """Call the student's function; real, fake and D's parameters must come back unchanged."""
        return _penalty_call(what, call, D, {"real": real, "fake": fake}, real, fake)

    # 1. a first call: a 0-d tensor that carries a gradient
    u = torch.randn(n_feat, generator=g)
    u = u / u.norm()  # a fixed direction, not aligned with any axis
    real, fake = _images(N, g, shape), _images(N, g, shape)
    out = run(_LinearCritic(2 * u), real.clone(), fake.clone())
    check_scalar(out, what)
    _requires_grad_check(out, what, "pass create_graph=True to torch.autograd.grad (or use torch.func.grad) so that "
                                    "the penalty can be backpropagated into D's parameters.")

    # 2. values. Linear critics D(x) = wᵀx + b: ∇D = w at every x̂ (‖w‖ = 1, 2, 0.5, 0).
    # A quadratic critic ½Σθ_j x_j² with real = fake: x̂ = real for any α, ∇D(x̂) = θ ⊙ real.
    cases, args = [], []
    for norm in (1.0, 2.0, 0.5, 0.0):
        D = _LinearCritic(norm * u, b=1.0)
        e, m = _gp_predictions(D.input_grad(real))
        cases.append((f"{what} for a linear critic D(x) = wᵀx + b with ‖∇D‖ = ‖w‖ = {norm:g} (images N×2×2×2)", e, m))
        args.append((D, real.clone(), fake.clone()))
    theta = 0.5 + torch.rand(n_feat, generator=g)
    x = _images(N, g, shape)
    D = _QuadraticCritic(theta)
    e, m = _gp_predictions(D.input_grad(x))
    cases.append((f"{what} for D(x) = ½ Σ_j θ_j x_j² (∇D = θ ⊙ x) with real = fake", e, m))
    args.append((D, x.clone(), x.clone()))
    results = []
    for a in args:
        try:
            results.append(check_scalar(run(*a), what))
        except GradingError as err:
            results.append(err)
    _run_cases(cases, results, f"Expected {formula}.")
    _ok(f"{name}: linear critics with ‖∇D‖ = 1, 2, 0.5, 0 give 0, 1, 0.25, 1 (before λ); a quadratic critic agrees")

    # 3. gradients w.r.t. the critic's weights θ: ∂/∂θ_j mean_i (n_i − 1)² = mean_i 2(n_i − 1)/n_i · θ_j x_ij²
    D = _QuadraticCritic(theta)
    out = run(D, x.clone(), x.clone())
    _requires_grad_check(out, what, "pass create_graph=True to torch.autograd.grad so that the penalty "
                                    "can be backpropagated into D's parameters.")
    (got,) = _input_grads(out, [D.theta], what)
    x2 = x.double().flatten(1)
    n = (theta.double() * x2).norm(dim=1, keepdim=True)
    want = (2 * (n - 1) / n * theta.double() * x2 ** 2).mean(0)
    if not torch.allclose(got.double(), want, atol=1e-4, rtol=1e-3):
        raise GradingError(
            f"{what}: the gradient of the penalty w.r.t. the critic's weights is {_fmt(got)}, expected "
            f"{_fmt(want)}. The value is right, so the graph from D's weights to the penalty is cut: compute ∇D "
            "with create_graph=True and do not detach it (or use torch.func.grad, which keeps it)."
        )
    _ok(f"{name}: the penalty backpropagates into the critic's parameters (hand-computed gradient)")

    # 4. where is the gradient evaluated? Sample i lives on features 2i, 2i+1 only (4 samples × 2
    # features = 8 = 2×2×2). With D = ½Σ x_j² (θ = 1): ∂P/∂θ_j = (2/N)(s_i − 1)/s_i · x̂_ij² for j in
    # sample i's block, s_i = ‖x̂_i‖; summing over the block gives (2/N)(s_i − 1)s_i, hence s_i and x̂_i.
    M = 4
    fk = torch.zeros(M, n_feat)
    rl = torch.zeros(M, n_feat)
    for i in range(M):
        fk[i, 2 * i:2 * i + 2] = torch.tensor([20.0, 15.0])
        rl[i, 2 * i:2 * i + 2] = torch.tensor([22.0, 18.0])  # x̂ = (20 + 2α, 15 + 3α) > 0 unless α < −5
    fk, rl = fk.reshape(M, *shape), rl.reshape(M, *shape)
    alphas = []
    for _ in range(16):
        D = _QuadraticCritic(torch.ones(n_feat))
        out = run(D, rl.clone(), fk.clone())
        p = check_scalar(out, what)
        (gt,) = _input_grads(out, [D.theta], what)
        gt = gt.double()
        alpha = torch.empty(M, 2, dtype=torch.float64)
        for i in range(M):
            blk = gt[2 * i:2 * i + 2]
            B = blk.sum().item()
            s = (1 + math.sqrt(max(1 + 2 * M * B, 0.0))) / 2
            xh = (blk * M * s / (2 * (s - 1))).clamp(min=0).sqrt() if s > 1 + 1e-9 else torch.zeros(2, dtype=torch.float64)
            f_i, r_i = fk.flatten(1)[i, 2 * i:2 * i + 2].double(), rl.flatten(1)[i, 2 * i:2 * i + 2].double()
            alpha[i] = (xh - f_i) / (r_i - f_i)
        if not math.isfinite(p):
            raise GradingError(f"{what} returned {p}.")
        alphas.append(alpha)
    A = torch.stack(alphas)  # calls × samples × 2 features
    per_sample = A.mean(-1)
    if (A - 1).abs().max() < 1e-3:
        raise GradingError(f"{what}: you evaluated ∇D at the real data; WGAN-GP evaluates it at random "
                           "interpolates x̂ = αx + (1 − α)x̃.")
    if A.abs().max() < 1e-3:
        raise GradingError(f"{what}: you evaluated ∇D at the fake data; WGAN-GP evaluates it at random "
                           "interpolates x̂ = αx + (1 − α)x̃.")
    if (A < -1e-2).any() or (A > 1 + 1e-2).any():
        raise GradingError(f"{what}: α falls outside [0, 1] (found α = {A.min().item():.3f} … "
                           f"{A.max().item():.3f}); draw it uniformly with torch.rand, not torch.randn.")
    if (A[..., 0] - A[..., 1]).abs().max() > 1e-2:
        raise GradingError(f"{what}: you drew a separate α for every pixel, so x̂ is not on the line between a "
                           "real and a fake sample; draw one α per sample, torch.rand(N, 1, 1, 1), broadcast over "
                           "its pixels.")
    if per_sample.std().item() < 1e-3:
        raise GradingError(f"{what}: α is always {per_sample.flatten()[0].item():.3f}; draw a random α ~ U[0, 1] "
                           "per sample with torch.rand(N, 1, 1, 1).")
    if (per_sample.std(dim=1) < 1e-3).all():
        raise GradingError(f"{what}: all samples of a batch use the same α; draw one α per sample, "
                           "torch.rand(N, 1, 1, 1), not one number for the whole batch.")
    if (per_sample - per_sample[0]).abs().max() < 1e-3:
        raise GradingError(f"{what}: every call uses the same α values: draw a new α inside the function on each "
                           "call (torch.rand(N, 1, 1, 1)), not once outside it.")
    flat = per_sample.flatten()
    if not (0.3 < flat.mean().item() < 0.7 and flat.min().item() < 0.25 and flat.max().item() > 0.75):
        raise GradingError(f"{what}: over 64 draws α has mean {flat.mean().item():.3f}, min {flat.min().item():.3f} "
                           f"and max {flat.max().item():.3f}; α should be uniform on [0, 1] (torch.rand).")
    _ok(f"{name}: evaluated at x̂ = αx + (1 − α)x̃ with one α ~ U[0, 1] per sample, new on each call")


_R1 = "R1 = (γ/2)·E‖∇_x D(x)‖² on the real data: the squared 2-norm of each sample's gradient, averaged over the batch"
_R1_HINTS = {
    "does not require grad": "Call real.detach().requires_grad_(True) before D(real), then differentiate "
                             "with torch.autograd.grad(D(x).sum(), x, create_graph=True).",
}


def _r1_predictions(g: torch.Tensor, gamma: float, g_zero: torch.Tensor) -> tuple[float, list[tuple[float, str]]]:
    """R1 and the values of common mistakes from the input gradients ``g`` at the real data (and
    ``g_zero``, the gradients at x = 0, for the 'not at the real data' mistake)."""
    N, P = g.shape[0], g[0].numel()
    sq = g.flatten(1).pow(2).sum(1)
    norm = sq.sqrt()
    m = sq.mean().item()
    e = gamma / 2 * m
    return e, [
        (gamma * m, "That is twice the expected value: R1 is (γ/2)·E‖∇D‖²; you omitted the ½ "
                    "(LMescheder/GAN_stability's reg_param omits it, so its reg_param 10 is γ = 20)."),
        (gamma / 2 * norm.mean().item(), "You used the norm ‖∇D‖; R1 uses its square ‖∇D‖²."),
        (gamma * norm.mean().item(), "You used the norm ‖∇D‖ instead of its square, and omitted the ½ of γ/2."),
        (gamma / 2 * ((norm - 1) ** 2).mean().item(), "That is the WGAN-GP form (‖∇D‖ − 1)²; R1 penalises "
                                                      "‖∇D‖² itself (its target is 0, not 1)."),
        (N * e, "That is a sum over the batch; E means the batch average (.mean())."),
        (e / N ** 2, "You differentiated D(x).mean(): the mean divides each sample's gradient by the batch size. "
                     "Differentiate D(x).sum() (or grad_outputs=torch.ones_like(out))."),
        (e / P, "You averaged the squared gradient over the pixels: sum it over each sample's dimensions "
                "(grad.flatten(1).pow(2).sum(1)), then average over the batch."),
        (m, "The γ/2 factor is missing: multiply by gamma / 2."),
        (m / 2, "γ is missing: multiply by gamma / 2."),
        (10 / 2 * m, "That is the value for γ = 10: use the gamma argument instead of a fixed number."),
        (gamma / 2 * norm.mean().item() ** 2, "You averaged the norms before squaring: square each sample's "
                                              "norm ‖∇D(x_i)‖², then average over the batch."),
        (gamma / 2 * g_zero.flatten(1).pow(2).sum(1).mean().item(),
         "For D(x) = ½‖x‖², ∇D(x) = x is 0 only at x = 0: the gradient was not taken at the real data. Set "
         "requires_grad on (a detached copy of) the real batch, run D on that same tensor and differentiate "
         "with respect to it."),
    ]


@_graded(_R1)
def check_r1(fn: Callable, name: str = "r1_penalty") -> None:
    """Check an R1 penalty ``fn(D, real, gamma)`` = (γ/2)·E‖∇_x D(x)‖² on real data: values on linear
    critics at γ = 10, 1 and 3.5, on D(x) = ½‖x‖² (which shows where the gradient is taken) and on a
    weighted quadratic critic; the gradient w.r.t. the critic's weights by hand; 0 for a critic
    constant in x; real and D left unchanged. Any way of computing ∇_x D (autograd.grad,
    torch.func.grad/vmap) is judged alike. Runs with its own RNG state."""
    call = check_callable(fn, name, hints=_R1_HINTS)
    g = torch.Generator().manual_seed(2)
    N, shape = 6, (2, 2, 2)
    n_feat = math.prod(shape)
    real = _images(N, g, shape)
    what = f"{name}(D, real, gamma)"
    formula = _R1

    def run(D, x, gamma):
        return _penalty_call(what, call, D, {"real": x}, x, gamma)

    # 1. linear critic D(x) = wᵀx with ‖w‖ = 3 (R1 = (γ/2)·9) at γ = 10, 1 and 3.5; D(x) = ½‖x‖² (∇D = x:
    # R1 = (γ/2)·mean_i ‖x_i‖², so it shows the gradient is taken at the real data); a weighted quadratic
    u = torch.randn(n_feat, generator=g)
    w = 3 * u / u.norm()
    theta = 0.5 + torch.rand(n_feat, generator=g)
    zero = torch.zeros_like(real)
    critics = [
        (f"{what} for a linear critic D(x) = wᵀx with ‖w‖ = 3 and γ = 10 (images N×2×2×2)", _LinearCritic(w), 10.0),
        (f"{what} for a linear critic D(x) = wᵀx with ‖w‖ = 3 and γ = 1", _LinearCritic(w), 1.0),
        (f"{what} for a linear critic D(x) = wᵀx with ‖w‖ = 3 and γ = 3.5", _LinearCritic(w), 3.5),
        (f"{what} for D(x) = ½‖x‖² (so ∇D(x) = x) and γ = 10", _QuadraticCritic(torch.ones(n_feat)), 10.0),
        (f"{what} for D(x) = ½ Σ_j θ_j x_j² and γ = 4", _QuadraticCritic(theta), 4.0),
    ]
    cases, results = [], []
    for desc, D, gamma in critics:
        e, m = _r1_predictions(D.input_grad(real), gamma, D.input_grad(zero))
        cases.append((desc, e, m))
        try:
            results.append(check_scalar(run(D, real.clone(), gamma), what))
        except GradingError as err:
            results.append(err)
    _run_cases(cases, results, f"Expected {formula}.")
    _ok(f"{name}: linear critics give (γ/2)·‖w‖² (45 at γ = 10, 4.5 at γ = 1); D(x) = ½‖x‖² gives (γ/2)·E‖x‖² "
        "(evaluated at the real data)")

    # 2. R1 must train the critic: ∂/∂θ_j (γ/2)·mean_i Σ_k θ_k² x_ik² = γ·θ_j·mean_i x_ij²
    D = _QuadraticCritic(theta)
    out = run(D, real.clone(), 4.0)
    _requires_grad_check(out, what, "pass create_graph=True to torch.autograd.grad so that the penalty "
                                    "can be backpropagated into D's parameters.")
    (got,) = _input_grads(out, [D.theta], what)
    want = 4.0 * theta.double() * real.double().flatten(1).pow(2).mean(0)
    if not torch.allclose(got.double(), want, atol=1e-4, rtol=1e-3):
        raise GradingError(
            f"{what}: the gradient of R1 w.r.t. the critic's weights is {_fmt(got)}, expected {_fmt(want)} "
            "(γ·θ_j·E x_j² at γ = 4). The value is right, so the graph from D's weights to the penalty is cut: "
            "compute ∇D with create_graph=True and do not detach it."
        )
    _ok(f"{name}: R1 backpropagates into the critic's parameters (hand-computed gradient)")

    # 3. a critic constant in x: R1 = 0
    got = check_scalar(run(_LinearCritic(torch.zeros(n_feat), b=2.0), real.clone(), 10.0), what)
    _run_cases([(f"{what} for a critic constant in x (D(x) = 2)", 0.0, [])], [got], f"Expected 0: {formula}.")
    _ok(f"{name}: a critic constant in x gives 0")
