"""GANStep and generate: the shared alternating update."""
import pytest
import torch
from torch import nn

from gantut import losses
from gantut.gan import GANStep, generate


class Linear1D(nn.Module):
    def __init__(self, w=1.0, b=0.0):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([w]))
        self.b = nn.Parameter(torch.tensor([b]))

    def forward(self, x):
        return x.view(len(x), -1)[:, :1] * self.w + self.b


def make(loss="nonsaturating", **kw):
    torch.manual_seed(0)
    G, D = Linear1D(1.0, 0.5), Linear1D(2.0, 0.0)
    step = GANStep(G, D, torch.optim.SGD(G.parameters(), lr=0.1), torch.optim.SGD(D.parameters(), lr=0.1),
                   z_dim=1, loss=loss, **kw)
    return G, D, step


def test_d_update_matches_the_hand_computed_gradient():
    G, D, step = make()
    real = torch.tensor([[1.0], [3.0]])
    torch.manual_seed(1)
    z = torch.randn(2, 1)
    fake = z * 1.0 + 0.5
    # L_D = mean softplus(-(2 x)) + mean softplus(2 x~);  dL/dw = mean(-sigmoid(-2x) x) + mean(sigmoid(2x~) x~)
    dw = (-torch.sigmoid(-2 * real) * real).mean() + (torch.sigmoid(2 * fake) * fake).mean()
    db = (-torch.sigmoid(-2 * real)).mean() + torch.sigmoid(2 * fake).mean()
    torch.manual_seed(1)
    out = step.d_step(real)
    assert torch.allclose(D.w.data, torch.tensor([2.0]) - 0.1 * dw)
    assert torch.allclose(D.b.data, -0.1 * db)
    assert torch.allclose(out["loss_D"], losses.d_loss_minimax(2 * real, 2 * fake))


def test_g_update_moves_fakes_toward_higher_logits():
    G, D, step = make()
    before = G.b.item()
    step.g_step(64)
    assert G.b.item() > before  # D's logit grows with x (w = 2 > 0): G shifts its samples right


def test_n_critic_splits_the_batch_and_returns_all_keys():
    G, D, step = make("wgan", n_critic=5, gp_lambda=10.0)
    out = step(torch.randn(10, 1))
    assert set(out) == {"loss_D", "loss_G", "gp", "W_estimate"}
    assert step.d_updates == 5 and step.g_updates == 1
    with pytest.raises(ValueError, match="cannot be split into n_critic"):
        step(torch.randn(7, 1))


def test_weight_clipping_and_unknown_loss():
    G, D, step = make("wgan", clip=0.01)
    step(torch.randn(4, 1))
    assert D.w.abs().item() <= 0.01 and D.b.abs().item() <= 0.01
    with pytest.raises(ValueError, match="unknown loss 'bce'"):
        make("bce")


def test_lazy_r1_applies_every_k_updates_scaled_by_k():
    G, D, step = make(r1_gamma=2.0, r1_every=2)
    first = step.d_step(torch.randn(4, 1))
    assert "r1" not in first
    w1 = D.w.item()  # D(x) = w x + b, so ||grad_x D||^2 = w^2 and R1 = (gamma/2) w^2, times k = 2
    second = step.d_step(torch.randn(4, 1))
    assert second["r1"].item() == pytest.approx(2 * (2.0 / 2) * w1**2)


def test_generate_is_reproducible_and_restores_mode():
    G = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    G.train()
    a = generate(G, 10, 3, batch_size=4, generator=torch.Generator().manual_seed(0))
    b = generate(G, 10, 3, batch_size=4, generator=torch.Generator().manual_seed(0))
    assert a.shape == (10, 4) and torch.equal(a, b) and G.training
