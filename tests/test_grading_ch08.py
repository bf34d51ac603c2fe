"""Chapter 08 checker (the SAGAN self-attention block): correct blocks written several ways pass; the named
mistakes fail with a message that names them."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gantut import grading, nets

from grading_helpers import fails_with  # noqa: E402  (tests/ is on sys.path under pytest)


def block_class(*, softmax_dim=-1, residual=True, gamma0=0.0, swap_qk=False, transpose_beta=False, use_gamma=True,
                qk_channels=None, value_channels=None, style="matmul", gamma_param=True):
    class Block(nn.Module):
        def __init__(self, C):
            super().__init__()
            self.query = nn.Conv2d(C, qk_channels or C // 8, 1)
            self.key = nn.Conv2d(C, qk_channels or C // 8, 1)
            self.value = nn.Conv2d(C, value_channels or C, 1)
            g = torch.full((1,), gamma0)
            self.gamma = nn.Parameter(g) if gamma_param else g

        def forward(self, x):
            N, C, H, W = x.shape
            q, k, v = self.query(x).flatten(2), self.key(x).flatten(2), self.value(x).flatten(2)
            if swap_qk:
                q, k = k, q
            if style == "einsum":
                beta = torch.softmax(torch.einsum("nci,ncj->nij", q, k), dim=softmax_dim)
                o = torch.einsum("ncj,nij->nci", v, beta.transpose(1, 2) if transpose_beta else beta)
            elif style == "sdpa":
                o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                                   scale=1.0).transpose(1, 2)
            else:
                beta = torch.softmax(torch.bmm(q.permute(0, 2, 1), k), dim=softmax_dim)
                if transpose_beta:
                    beta = beta.transpose(1, 2)
                o = torch.bmm(v, beta.permute(0, 2, 1))
            o = o.reshape(N, C, H, W)
            att = self.gamma * o if use_gamma else o
            return x + att if residual else att
    return Block


@pytest.mark.parametrize("style", ["matmul", "einsum", "sdpa"])
def test_correct_blocks_pass(style, capsys):
    assert grading.check_self_attention(block_class(style=style)) is None
    assert capsys.readouterr().out.count("✓") == 5


def test_the_library_block_is_refused():
    fails_with(grading.check_self_attention, nets.SelfAttention, "gantut's own code")


@pytest.mark.parametrize("kw,fragments", [
    (dict(softmax_dim=1), ["softmax over the wrong axis"]),
    (dict(residual=False), ["x unchanged"]),                      # γ = 0 gives y = 0, caught at init
    (dict(gamma0=1.0), ["initialised to 0"]),
    (dict(gamma_param=False), ["nn.Parameter"]),
    (dict(swap_qk=True), ["query and key swapped"]),
    (dict(transpose_beta=True), ["attention applied transposed"]),
    (dict(use_gamma=False), ["x unchanged"]),
    (dict(qk_channels=4), ["C/8 = 2"]),
    (dict(value_channels=8), ["C = 16"]),
])
def test_named_mistakes_fail(kw, fragments):
    fails_with(grading.check_self_attention, block_class(**kw), *fragments)


def test_no_residual_with_gamma_checked_later_is_named():
    """A block without the residual that is not caught at init (it adds x only when γ = 0) is named later."""
    class Sneaky(block_class()):
        def forward(self, x):
            out = super().forward(x)
            return out if float(self.gamma) == 0 else out - x
    fails_with(grading.check_self_attention, Sneaky, "no residual")


def test_a_stub_says_not_implemented():
    class Stub(nn.Module):
        def __init__(self, C):
            super().__init__()
            raise NotImplementedError()
    fails_with(grading.check_self_attention, Stub, "not implemented")


def test_detached_output_names_the_gradient():
    class Detached(block_class()):
        def forward(self, x):
            return super().forward(x).detach()
    fails_with(grading.check_self_attention, Detached, "no gradient")


# the tables the hidden-test suite (tests/test_grading_hidden.py) reuses
SA_CORRECT = {style: block_class(style=style) for style in ("matmul", "einsum", "sdpa")}
SA_WRONG = [("no_residual", block_class(residual=False), "x unchanged"),
            ("softmax_axis", block_class(softmax_dim=1), "softmax over the wrong axis")]


def block_with_two_qk_channels():
    """q/k hard-wired to 2 channels: right for C = 16 (the visible checks), wrong for any other C."""
    return block_class(qk_channels=2)
