"""Chapter 08's checker: the SAGAN self-attention block."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .core import GradingError, _graded, _ok, _unchanged, check_callable

__all__ = ["check_self_attention"]

_SA = ("y = x + γ·o with o_i = Σ_j β_ij v_j, β_ij = softmax over j of q_iᵀk_j, q = query(x), k = key(x) "
       "(1×1 convs to C/8 channels), v = value(x) (C channels), γ a parameter initialised to 0")


def _flat(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return conv(x).flatten(2)  # N × C' × HW


def _variants(block: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The right output and the outputs of the named mistakes, from the student's own convs and γ."""
    N, C, H, W = x.shape
    q, k, v = _flat(block.query, x), _flat(block.key, x), _flat(block.value, x)
    s = q.transpose(1, 2) @ k                     # s_ij = q_iᵀ k_j, N × HW × HW
    beta = torch.softmax(s, dim=-1)
    gamma = block.gamma

    def out(b: torch.Tensor) -> torch.Tensor:
        return (v @ b.transpose(1, 2)).view(N, C, H, W)   # o_i = Σ_j b_ij v_j

    o = out(beta)
    return {
        "right": x + gamma * o,
        "softmax over the wrong axis (over the queries i instead of the positions j: use dim=-1 of the N×HW×HW "
        "scores)": x + gamma * out(torch.softmax(s, dim=1)),
        "no residual: the block must return x + γ·o, not γ·o alone": gamma * o,
        "query and key swapped in the scores (s_ij = k_iᵀq_j is the transpose of q_iᵀk_j, and softmax over j does "
        "not commute with transposing): compute q(x)ᵀ·k(x)": x + gamma * out(torch.softmax(s.transpose(1, 2), dim=-1)),
        "attention applied transposed (o_i = Σ_j β_ji v_j): multiply v by βᵀ so that each output position i sums "
        "over j with its own row β_i": x + gamma * out(beta.transpose(1, 2)),
        "no γ on the attention output (y = x + o): scale o by the learnable γ": x + o,
    }


@_graded(_SA)
def check_self_attention(fn: Callable[[int], nn.Module], name: str = "SelfAttentionBlock") -> None:
    """Check a self-attention block class ``fn(C)`` (attributes ``query``, ``key``, ``value``, ``gamma``): the
    1×1 convs' shapes, γ = 0 and y = x at initialisation, then with γ = 0.7 its output against the right formula
    computed from its own convs, naming the mistake when it matches one (softmax axis, residual, Q/K swapped,
    β transposed, γ missing); non-square maps; gradients reaching γ and the convs; x left unchanged."""
    C = 16
    block = check_callable(fn, name)(C)
    if not isinstance(block, nn.Module):
        raise GradingError(f"{name}({C}) should build an nn.Module, got {type(block).__name__}.")
    for attr in ("query", "key", "value", "gamma"):
        if not hasattr(block, attr):
            raise GradingError(f"{name} has no attribute `{attr}`: name the three 1×1 convs self.query, self.key, "
                               "self.value and the scale self.gamma (an nn.Parameter).")
    for attr, want in (("query", C // 8), ("key", C // 8), ("value", C)):
        conv = getattr(block, attr)
        if not isinstance(conv, nn.Conv2d) or conv.kernel_size != (1, 1) or conv.in_channels != C:
            raise GradingError(f"{name}.{attr} should be a 1×1 nn.Conv2d from C = {C} channels, got {conv!r}.")
        if conv.out_channels != want:
            raise GradingError(f"{name}.{attr} maps {C} channels to {conv.out_channels}; SAGAN's {attr} has "
                               f"{'C/8' if want != C else 'C'} = {want} output channels.")
    if not isinstance(block.gamma, nn.Parameter):
        raise GradingError(f"{name}.gamma should be an nn.Parameter (so the optimiser learns it), got "
                           f"{type(block.gamma).__name__}.")
    if block.gamma.numel() != 1 or float(block.gamma.detach().abs().sum()) != 0.0:
        raise GradingError(f"{name}.gamma should be one number initialised to 0 (torch.zeros(1)), got "
                           f"{block.gamma.detach().flatten().tolist()[:4]}: SAGAN starts with γ = 0 so the block "
                           "is the identity at first and the nets learn local cues before long-range ones.")
    _ok(f"{name}({C}): query/key 1×1 convs to C/8 = {C // 8} channels, value to C = {C}, γ an nn.Parameter = 0")

    forward = check_callable(block, f"{name}.forward")
    x = torch.randn(2, C, 4, 4)
    x0 = x.clone()
    with torch.no_grad():
        y = forward(x)
    _unchanged(f"{name}.forward", {"x": (x, x0)})
    if not isinstance(y, torch.Tensor) or y.shape != x.shape:
        raise GradingError(f"{name}(x) should return a tensor of x's shape {tuple(x.shape)}, got "
                           f"{getattr(y, 'shape', type(y).__name__)}.")
    if not torch.allclose(y, x, atol=1e-6):
        raise GradingError(f"at initialisation (γ = 0) {name}(x) should return x unchanged; it differs by up to "
                           f"{(y - x).abs().max().item():.4g}: return x + self.gamma * o.")
    _ok(f"{name}(x) = x at initialisation (γ = 0), shape {tuple(x.shape)}")
    shapes = {(2, C, 4, 4): "4×4", (3, C, 3, 5): "3×5, H ≠ W"}

    with torch.no_grad():
        block.gamma.fill_(0.7)
    for shape, label in shapes.items():
        x = torch.randn(*shape)
        with torch.no_grad():
            y = forward(x)
            cases = _variants(block, x)
        if not torch.allclose(y, cases["right"], atol=1e-5, rtol=1e-4):
            for mistake, wrong in cases.items():
                if mistake != "right" and torch.allclose(y, wrong, atol=1e-5, rtol=1e-4):
                    raise GradingError(f"{name} with γ = 0.7 on x of shape {shape}: {mistake}.")
            raise GradingError(f"{name} with γ = 0.7 on x of shape {shape}: the output differs from {_SA} by up to "
                               f"{(y - cases['right']).abs().max().item():.4g}.")
        _ok(f"{name} with γ = 0.7 on a batch of {shape[0]} maps {label} matches y = x + γ·o")

    block.zero_grad(set_to_none=True)
    y = forward(torch.randn(2, C, 4, 4))
    if not y.requires_grad:
        raise GradingError(f"{name}(x) returns a tensor with no gradient (no grad_fn): build the output from the convs "
                           "and γ with torch operations (no .detach(), .item() or torch.no_grad() inside forward).")
    y.pow(2).sum().backward()
    missing = [a for a in ("gamma", "query", "key", "value")
               if (getattr(block, a).grad if a == "gamma" else getattr(block, a).weight.grad) is None]
    if missing:
        raise GradingError(f"no gradient reached {', '.join(missing)}: build the output from the convs and γ with "
                           "torch operations (no .detach(), .item() or torch.no_grad() inside forward).")
    _ok("gradients reach γ and the query, key and value convs")
