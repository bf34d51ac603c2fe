"""PacGAN packing: shapes, equivalence at m = 1, gradients through the pack, and the 2D recipe."""
import pytest
import torch
from torch import nn

from gantut import data, losses, nets
from gantut import experiments2d as ex
from gantut.pacgan import PackedD, pack


def test_pack_concatenates_consecutive_samples():
    x = torch.arange(12.0).reshape(6, 2)  # samples (0,1), (2,3), ...
    assert torch.equal(pack(x, 2), torch.tensor([[0.0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]))
    assert pack(x, 3).shape == (2, 6) and torch.equal(pack(x, 1), x)
    img = torch.randn(8, 1, 5, 5)
    p = pack(img, 4)
    assert p.shape == (2, 4, 5, 5) and torch.equal(p[1, 2], img[6, 0])
    with pytest.raises(ValueError, match="multiple of 4"):
        pack(torch.randn(6, 2), 4)
    with pytest.raises(ValueError, match="m"):
        pack(x, 0)


def test_packed_d_with_m_1_is_d_and_scores_one_value_per_pack():
    torch.manual_seed(0)
    D = nets.mlp2d_D(hidden=8)
    x = torch.randn(12, 2)
    assert torch.equal(PackedD(D, 1)(x), D(x))
    Dm = PackedD(nets.mlp2d_D(hidden=8, in_dim=6), 3)
    assert Dm(x).shape == (4, 1)


def test_r1_on_a_packed_linear_d_is_the_per_pack_penalty_over_m():
    """D_m(x1, x2) = w·[x1, x2] with w = (1, 2 | 0, 2): sample 1 of each pack has ∇ = (1, 2), sample 2 has (0, 2).
    R1 averages ‖∇‖² over the N samples: (γ/2)·(5 + 4)/2 = 4.5 = (γ/2)‖w‖²/m, the per-pack penalty divided by m."""
    lin = nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 2.0, 0.0, 2.0]]))
    Dm = PackedD(lin, 2)
    x = torch.randn(6, 2, requires_grad=True)
    assert losses.r1_penalty(Dm, x, gamma=2.0).item() == pytest.approx(4.5)  # (2/2)·(1 + 4 + 0 + 4) / 2
    Dm(x).sum().backward()
    assert torch.equal(x.grad, torch.tensor([[1.0, 2.0], [0.0, 2.0]]).repeat(3, 1))


def test_gan_2d_packs_d_and_trains():
    step, state = ex.gan_2d(pack=4, r1_gamma=0.1)(0)
    assert isinstance(step.D, PackedD) and step.D.m == 4
    out = step(data.ring().batches(64, generator=torch.Generator().manual_seed(0)).next())
    assert {"loss_D", "loss_G", "r1"} <= set(out) and all(torch.isfinite(v) for v in out.values())
