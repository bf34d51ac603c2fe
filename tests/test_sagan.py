"""SAGAN pieces of chapter 08: seed 004's MLP discriminator with attention, attention maps, γ over training,
the hinge loss on a sigmoid output, and the 32 px recipes."""
import pytest
import torch

from gantut import experiments_mnist as em
from gantut import losses, nets, sagan


def test_mlp_attention_D_shapes_identity_at_init_and_sigmoid_range():
    torch.manual_seed(0)
    D = sagan.MLPAttentionD(32, 1, sigmoid=True)
    x = torch.randn(5, 1, 32, 32)
    out = D(x)
    assert out.shape == (5, 1) and torch.all((out > 0) & (out < 1))
    D.eval()  # (in train mode each forward pass also runs a power iteration of the spectral norms)
    h = D.trunk(x.flatten(1))
    assert torch.equal(D.features(x), h)  # γ = 0: the attention block passes the 256 features through
    beta = D.attention.last_attention
    assert beta.shape == (5, 16, 16) and torch.allclose(beta.sum(-1), torch.ones(5, 16))
    assert sagan.gammas(D) == [0.0]
    assert sagan.MLPAttentionD(32, 1)(x).shape == (5, 1)  # raw scores without the sigmoid
    with pytest.raises(ValueError, match="multiple of tokens"):
        sagan.MLPAttentionD(32, 1, hidden=(64, 30))


def test_hinge_on_a_sigmoid_output_never_switches_off():
    """For D ∈ (0, 1): relu(1 − D(x)) = 1 − D(x) and relu(1 + D(G(z))) = 1 + D(G(z)), so L_D = 2 − E D(x) + E D(G(z))."""
    d_real, d_fake = torch.tensor([0.9, 0.99, 0.2]), torch.tensor([0.01, 0.5])
    want = 2 - d_real.mean() + d_fake.mean()
    assert losses.d_loss_hinge(d_real, d_fake).item() == pytest.approx(want.item())
    assert losses.d_loss_hinge(d_real, d_fake).item() > 1.0  # even a perfect sigmoid D pays at least 1


def test_attention_maps_are_distributions_over_the_block_positions():
    torch.manual_seed(0)
    G = nets.dcgan_G(8, 32, 1, base=8, attention_at=16)
    with torch.no_grad():
        G.attention.gamma.fill_(0.5)
    image, maps = sagan.attention_maps(G, torch.randn(1, 8), [(0, 0), (16, 16), (31, 5)])
    assert image.shape == (1, 32, 32) and maps.shape == (3, 32, 32)
    # each 16×16 map is nearest-upsampled ×2 to 32×32: its sum is 4 × (a distribution's sum of 1)
    assert torch.allclose(maps.sum((1, 2)), torch.full((3,), 4.0), atol=1e-5)
    assert G.training  # the train/eval mode is restored
    with pytest.raises(ValueError, match="no self-attention block"):
        sagan.attention_maps(nets.dcgan_G(8, 32, 1, base=8), torch.randn(1, 8), [(0, 0)])


def test_gamma_log_reports_both_nets():
    G = nets.dcgan_G(8, 32, 1, base=8, attention_at=16)
    D = nets.dcgan_D(32, 1, base=8, attention_at=8)
    with torch.no_grad():
        D.attention.gamma.fill_(-0.25)
    assert sagan.gamma_log(G, D)(None) == {"gamma_G": 0.0, "gamma_D": -0.25}
    assert sagan.gamma_log(nets.dcgan_G(8, 32, 1, base=8), D)(None) == {"gamma_D": -0.25}


def test_image_fields_enter_the_key_only_when_changed():
    """Models trained before the 32 px fields existed keep their checkpoint keys; setting one changes the key."""
    old = em.RECIPES["mdgan_dcgan"].key()
    assert not {"img_size", "sn_D", "attn", "ema"} & set(old)
    assert em.recipe("mdgan_dcgan", sn_D=True).key() != old
    with pytest.raises(ValueError, match="28 px net"):
        em.recipe("vanilla", img_size=32)
